/**
 * `serve --tls-cert/--tls-key`: the engine over HTTPS, as the official libraries need it (they force
 * https:// for the worker host). A self-signed certificate for 127.0.0.1 is made with openssl; the
 * built CLI trusts it through NODE_EXTRA_CA_CERTS and uses https for the worker too.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { BIN, fixture, runCli, startEngine, tempDir } from '../helpers/cli.js';

function haveOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function selfSigned(dir: string): Promise<{ cert: string; key: string }> {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}

describe.skipIf(!haveOpenssl())('the engine over HTTPS', () => {
  it('serves the API over TLS to a client that trusts its certificate', async () => {
    const dir = await tempDir();
    const { cert, key } = await selfSigned(dir);
    const engine = await startEngine({ tls: { cert: await readFile(cert), key: await readFile(key) } });
    try {
      expect(engine.server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      await fixture(dir, { 'a.jpg': 'icc-adobergb-rocket-640x427.jpg' });
      const res = await runCli(['compress', 'a.jpg', '-o', 'out'], { cwd: dir, env: { ...engine.env, NODE_EXTRA_CA_CERTS: cert } });
      expect(res.code, res.stderr).toBe(0);
      expect((await sharp(path.join(dir, 'out/a.jpg')).metadata()).width).toBe(640);
      expect(engine.count('/v1/upload')).toBe(1);
      // Without trusting the certificate, the client refuses the connection: TLS is really checked.
      const untrusted = await runCli(['compress', 'a.jpg', '-o', 'out2', '--retries', '0'], { cwd: dir, env: engine.env });
      expect(untrusted.code).toBe(1);
      expect(untrusted.stderr).toMatch(/self[- ]signed|certificate/i);
    } finally {
      await engine.server.close();
    }
  });

  it('serve --tls-cert/--tls-key prints an https URL', async () => {
    const dir = await tempDir();
    const { cert, key } = await selfSigned(dir);
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--tls-cert', cert, '--tls-key', key], { cwd: dir, env: { ...process.env, NO_COLOR: '1' } });
    const firstLine = await new Promise<string>((resolve) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(out.split('\n')[0]);
      });
    });
    child.kill('SIGINT');
    await new Promise((r) => child.on('close', r));
    expect(firstLine).toMatch(/listening on https:\/\/127\.0\.0\.1:\d+/);
  });
});
