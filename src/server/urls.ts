/**
 * Outbound requests on a client's behalf: fetching `cloud_file` URLs and delivering webhooks.
 *
 * Both let a client make the server connect somewhere, so both go through one gate: http(s) only, the
 * host name resolved once, every address checked against loopback/private/link-local/reserved ranges
 * (unless `allowPrivateUrls`), and the connection pinned to the checked address so a second DNS answer
 * cannot swap in an internal one. Redirects are re-checked hop by hop. Sizes and times are capped.
 */
import { lookup } from 'node:dns/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Transform, pipeline, type Readable } from 'node:stream';

/** A URL the server will not fetch, or a fetch that failed; the message is shown to the client. */
export class RemoteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RemoteError';
  }
}

const NON_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 96], // unspecified, loopback and the deprecated IPv4-compatible ::a.b.c.d (tunnelled to IPv4)
  ['::ffff:0:0:0', 96], // IPv4-translated (RFC 2765)
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10], // deprecated site-local
  ['ff00::', 8],
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, 'ipv6');
}

/** Whether an address is loopback, private, link-local, reserved or multicast (IPv4-mapped IPv6 included). */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return NON_PUBLIC.check(address, 'ipv4');
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return NON_PUBLIC.check(mapped[1], 'ipv4');
  const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (hexMapped) {
    const n = (parseInt(hexMapped[1], 16) << 16) | parseInt(hexMapped[2], 16);
    return NON_PUBLIC.check([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'), 'ipv4');
  }
  if (NON_PUBLIC.check(address, 'ipv6')) return true;
  // 6to4 (2002::/16) carries an IPv4 address in its next 32 bits: judge that one.
  const sixToFour = /^2002:([0-9a-f]{1,4}):([0-9a-f]{1,4})(:|$)/i.exec(address);
  if (sixToFour) {
    const n = (parseInt(sixToFour[1], 16) << 16) | parseInt(sixToFour[2], 16);
    return NON_PUBLIC.check([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'), 'ipv4');
  }
  return false;
}

export interface CheckedUrl {
  url: URL;
  address: string;
  family: 4 | 6;
}

/** Parses, resolves and checks a client URL; throws RemoteError with a message fit for the client. */
export async function checkUrl(raw: string, allowPrivate: boolean): Promise<CheckedUrl> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RemoteError('Not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RemoteError('Only http and https URLs are accepted');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: { address: string; family: number }[];
  if (isIP(host)) addresses = [{ address: host, family: isIP(host) }];
  else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true });
    } catch {
      throw new RemoteError(`The host ${host} could not be resolved`);
    }
  }
  if (addresses.length === 0) throw new RemoteError(`The host ${host} could not be resolved`);
  if (!allowPrivate && addresses.some((a) => isNonPublicAddress(a.address))) {
    throw new RemoteError('The URL points to a private, loopback or link-local address');
  }
  return { url, address: addresses[0].address, family: addresses[0].family === 6 ? 6 : 4 };
}

interface PinnedRequest {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: Buffer;
  signal: AbortSignal;
}

/** One HTTP exchange with the connection pinned to the address `checkUrl` approved. */
function requestPinned(target: CheckedUrl, opts: PinnedRequest): Promise<IncomingMessage> {
  const pinned: LookupFunction = (_host, options, callback) => {
    if (options.all) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
  const client = target.url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      target.url,
      { method: opts.method, headers: opts.headers, lookup: pinned, signal: opts.signal },
      resolve,
    );
    req.on('error', (err) => reject(new RemoteError(opts.signal.aborted ? 'The remote server took too long' : `Request failed: ${err.message}`)));
    req.end(opts.body);
  });
}

const MAX_REDIRECTS = 5;

function withTimeout(seconds: number): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), seconds * 1000);
  timer.unref();
  return { signal: controller.signal, done: () => clearTimeout(timer) };
}

export interface FetchLimits {
  allowPrivate: boolean;
  maxBytes: number;
  timeoutSeconds: number;
}

export interface RemoteFile {
  /** Capped body; errors with RemoteError past `maxBytes`. Consume it before calling `done`. */
  body: Readable;
  /** The name from Content-Disposition or the URL path, unsanitised. */
  filename: string;
  /** Clears the timeout; call once the body has been consumed or abandoned. */
  done: () => void;
}

/** GETs a `cloud_file` URL, following checked redirects. */
export async function fetchRemoteFile(raw: string, limits: FetchLimits, bearer?: string): Promise<RemoteFile> {
  const timeout = withTimeout(limits.timeoutSeconds);
  try {
    let target = await checkUrl(raw, limits.allowPrivate);
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { 'User-Agent': 'iloveimg-engine' };
      if (bearer) headers.Authorization = `Bearer ${bearer}`;
      const res = await requestPinned(target, { method: 'GET', headers, signal: timeout.signal });
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (hop >= MAX_REDIRECTS) throw new RemoteError('Too many redirects');
        target = await checkUrl(new URL(res.headers.location, target.url).href, limits.allowPrivate);
        continue;
      }
      if (status < 200 || status >= 300) {
        res.resume();
        throw new RemoteError(`The remote server answered HTTP ${status}`);
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > limits.maxBytes) {
        res.destroy();
        throw new RemoteError(`The remote file is larger than ${limits.maxBytes} bytes`);
      }
      const body = byteCap(limits.maxBytes);
      // pipeline, not pipe: a reset or a timeout on `res` must error `body` for the consumer to see it.
      pipeline(res, body, () => {});
      return { body, filename: remoteName(res, target.url), done: timeout.done };
    }
  } catch (err) {
    timeout.done();
    throw err;
  }
}

/**
 * POSTs a form (a webhook: x-www-form-urlencoded, as PHP's `$_POST` reads it); resolves with the status
 * code, never follows redirects.
 */
export async function postForm(raw: string, form: URLSearchParams, limits: Omit<FetchLimits, 'maxBytes'>): Promise<number> {
  const timeout = withTimeout(limits.timeoutSeconds);
  try {
    const target = await checkUrl(raw, limits.allowPrivate);
    const body = Buffer.from(form.toString());
    const res = await requestPinned(target, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': String(body.length), 'User-Agent': 'iloveimg-engine' },
      body,
      signal: timeout.signal,
    });
    res.resume();
    return res.statusCode ?? 0;
  } finally {
    timeout.done();
  }
}

function byteCap(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > maxBytes) done(new RemoteError(`The remote file is larger than ${maxBytes} bytes`));
      else done(null, chunk);
    },
  });
}

function remoteName(res: IncomingMessage, url: URL): string {
  const cd = res.headers['content-disposition'] ?? '';
  const star = /filename\*\s*=\s*utf-8''([^;]+)/i.exec(cd);
  if (star) {
    try {
      return decodeURIComponent(star[1].trim());
    } catch {
      /* fall back to the plain parameter */
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(cd);
  if (plain) return plain[1].trim();
  const last = url.pathname.split('/').pop() ?? '';
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}
