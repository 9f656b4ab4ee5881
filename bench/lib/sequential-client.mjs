// The baseline of row 3: what the official iLoveIMG libraries do for a batch (iloveimg-php, -python,
// -net, js-core): one task, files uploaded one after another, one /process, one /download. Written with
// Node's fetch and jose only; the token is HS256 signed with the secret key, public key in `jti`, dated
// like iloveimg-php (docs/protocol.md §2.1) and reused for every call.
//   node bench/lib/sequential-client.mjs --api URL --public KEY --secret KEY --tool compressimage --out FILE files...
import { openAsBlob, createWriteStream } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SignJWT } from 'jose';

const args = process.argv.slice(2);
const flags = {};
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i].startsWith('--')) flags[args[i].slice(2)] = args[++i];
  else files.push(args[i]);
}
const api = new URL(flags.api);
const tool = flags.tool ?? 'compressimage';

const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT({ jti: flags.public, iss: '', aud: '' })
  .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
  .setIssuedAt(now - 5400)
  .setNotBefore(now - 5400)
  .setExpirationTime(now + 3600 + 5400)
  .sign(new TextEncoder().encode(flags.secret));
const auth = { authorization: `Bearer ${token}`, accept: 'application/json' };

async function json(res, step) {
  const text = await res.text();
  if (!res.ok) throw new Error(`${step}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

const start = await json(await fetch(new URL(`/v1/start/${tool}`, api), { headers: auth }), 'start');
const worker = `${api.protocol}//${start.server}`;
const uploaded = [];
for (const file of files) {
  const fd = new FormData();
  fd.append('task', start.task);
  fd.append('file', await openAsBlob(file), basename(file));
  const res = await json(await fetch(`${worker}/v1/upload`, { method: 'POST', headers: auth, body: fd }), 'upload');
  uploaded.push({ server_filename: res.server_filename, filename: basename(file) });
}
const body = { task: start.task, tool, files: uploaded };
if (flags.param) for (const kv of flags.param.split(',')) body[kv.split('=')[0]] = kv.split('=')[1];
const processed = await json(
  await fetch(`${worker}/v1/process`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  'process',
);
if (!String(processed.status).startsWith('TaskSuccess')) throw new Error(`process: ${JSON.stringify(processed).slice(0, 300)}`);
const dl = await fetch(`${worker}/v1/download/${start.task}`, { headers: auth });
if (!dl.ok) throw new Error(`download: HTTP ${dl.status}`);
await pipeline(Readable.fromWeb(dl.body), createWriteStream(flags.out));
process.stdout.write(JSON.stringify({ files: uploaded.length, status: processed.status, output_filesize: processed.output_filesize }) + '\n');
