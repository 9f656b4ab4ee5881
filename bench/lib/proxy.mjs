// A tiny HTTP proxy on 127.0.0.1 that holds every request for `latencyMs` before forwarding it
// (streaming both bodies), to make a local engine behave like a far-away API: each request costs at
// least one extra round trip, as it does against iLoveIMG's cloud.
import http from 'node:http';

export async function startLatencyProxy({ latencyMs }) {
  let upstream;
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const server = http.createServer((req, res) => {
    req.pause();
    setTimeout(() => {
      const target = new URL(req.url, upstream);
      const headers = { ...req.headers, host: target.host };
      const up = http.request(
        { host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers, agent },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on('error', (err) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'ProxyError', message: err.message } }));
      });
      req.pipe(up);
      req.resume();
    }, latencyMs);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    setUpstream(url) {
      upstream = url;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        agent.destroy();
      }),
  };
}
