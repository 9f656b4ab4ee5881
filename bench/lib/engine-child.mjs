// Hosts the iLoveIMG-compatible engine (and, with --latency, a delaying proxy in front of it) in a
// process of its own, so that the bench process is idle while a client is being timed.
//   node bench/lib/engine-child.mjs [--latency MS] [--max-upload BYTES] [--concurrency N] [--passthrough]
// Prints one JSON line {apiUrl, engineUrl, publicKey, secretKey} when ready; exits when stdin closes.
import { startServer } from '../../dist/server/index.js';
import { startLatencyProxy } from './proxy.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const latency = opt('--latency', 0);
const maxUpload = opt('--max-upload', undefined);
const concurrency = opt('--concurrency', undefined);
// --passthrough: compressimage returns its input unchanged, so the server spends (almost) no CPU per
// file. Not the engine: a stand-in for a cloud whose processing is not limited to this machine's cores.
let engine;
if (args.includes('--passthrough')) {
  const { ENGINE_TOOLS } = await import('../../dist/engine/index.js');
  engine = { ...ENGINE_TOOLS, compressimage: { run: async (input) => ({ data: input.data, ext: 'jpg' }) } };
}

let proxy;
if (latency > 0) proxy = await startLatencyProxy({ latencyMs: latency });
const server = await startServer({
  host: '127.0.0.1',
  port: 0,
  // Every worker call (upload, process, download) must go through the proxy too: /start returns this.
  publicHost: proxy ? `127.0.0.1:${proxy.port}` : undefined,
  concurrency,
  limits: maxUpload ? { maxUploadBytes: maxUpload } : undefined,
  engine,
});
if (proxy) proxy.setUpstream(server.url);
const [pair] = server.projects;
process.stdout.write(
  JSON.stringify({ apiUrl: proxy ? proxy.url : server.url, engineUrl: server.url, publicKey: pair.publicKey, secretKey: pair.secretKey }) + '\n',
);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), 5000).unref(); // never outlive the bench by more than this
  await server.close();
  if (proxy) await proxy.close();
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
