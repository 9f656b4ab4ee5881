/**
 * The fault suite: 200 real images through `compress` and through a 3-step pipeline
 * (`resize -p 50 --then compress --then 'rotate --rotate 90'`) with the BUILT binary, against engines
 * started with `faults` (= `serve --faults`): 20 % of requests answered 500/503/429 (half of those on
 * process and task/next only after the work was done: a lost answer), 5 % of uploads and downloads cut
 * mid-transfer, 20 ms latency. Then the same with a Ctrl-C at a random moment followed by `--resume`.
 *
 * Compared with a fault-free run of the same inputs: the same output files (no more, no fewer), each
 * one decoding completely, with the same format and dimensions.
 *
 * "Sent" (for "no file sent twice"): an input is sent when an upload request carrying it is answered
 * 200 by the engine — the engine stored it and the client received its server_filename. Attempts cut
 * by a reset or answered with an injected error stored nothing and are not sends (the client
 * retrying them is the point). Every input must be sent exactly once per completed batch, and exactly
 * once over an interrupted run plus its `--resume`. Inputs have unique base names, and the engine's
 * request log records each upload's file name, so sends are counted per input from that log.
 *
 * Retries: the CLI runs with `--retries 10`. With the default (6), a request fails for good when seven
 * attempts in a row fail: at 20 % that is 0.2^7 ≈ 1e-5 per request, and 0.24^7 ≈ 5e-5 for uploads and
 * downloads (resets come on top). The four faulty runs here make ~800 uploads and ~600 other requests,
 * so a few suite runs in a hundred would lose a file with the defaults: too flaky for CI. With 10
 * retries it is ≈ 1e-7 per request. Nothing else is tuned for the faults.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { copyFile, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORPUS, runCli, startEngine, tempDir, type CliResult } from '../helpers/cli.js';
import { parseFaults, type FaultOptions } from '../../src/server/fault-spec.js';
import type { RecordedRequest } from '../../src/server/options.js';
import { Harness } from '../server/helpers.js';

const N = 200;
// Mostly small images (compress of a PNG costs ~0.3–2 s, of a small JPEG or TIFF ~20–50 ms).
const SOURCES = [
  'tiff-video-001-150x103.tiff',
  'cmyk-video-001-150x103.jpg',
  'exif-orient6-iphone4s-205x102.jpg',
  'webp-alpha-yellow-rose-400x301.webp',
  'cmyk-adobe-wxlogo-200x53.jpg',
  'tiff-gray16-video-001-150x103.tiff',
  'cmyk-video-001-150x103.jpg',
  'exif-orient6-iphone4s-205x102.jpg',
  'icc-adobergb-rocket-640x427.jpg', // medium
  'gray-camera-512.png', // medium
];
const FAULTS = 'rate=0.2,status=500:503:429,late=0.5,reset=0.05,latency=20';
const RETRIES = ['--retries', '10'];
const JOURNAL = '.iloveimg-journal.ndjson';

const RUNS = {
  compress: ['compress', 'in/**/*'],
  pipeline: ['resize', 'in/**/*', '-p', '50', '--then', 'compress', '--then', 'rotate --rotate 90'],
} as const;
type RunName = keyof typeof RUNS;

interface Shape {
  format?: string;
  width?: number;
  height?: number;
}

let dir: string;
const inputs = new Map<string, string>(); // rel path → sha256
const reference: Record<RunName, Map<string, Shape>> = { compress: new Map(), pipeline: new Map() };
const durations: Partial<Record<RunName, number>> = {};
const engines: { close(): Promise<void> }[] = [];

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function walk(root: string, base = root): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(root, e.name);
    if (e.isDirectory()) out.push(...(await walk(p, base)));
    else out.push(path.relative(base, p));
  }
  return out.sort();
}

/**
 * Every output of a run: decoded completely (a truncated file fails here), with its format and size.
 * Not its bytes: libimagequant's PNG palettes are not byte-for-byte stable from run to run.
 */
async function shapes(outDir: string): Promise<Map<string, Shape>> {
  const result = new Map<string, Shape>();
  for (const rel of await walk(outDir)) {
    if (rel === JOURNAL) continue;
    const bytes = await readFile(path.join(outDir, rel));
    const image = sharp(bytes, { failOn: 'truncated' });
    const meta = await image.metadata();
    await image.raw().toBuffer(); // full decode
    result.set(rel, { format: meta.format, width: meta.width, height: meta.height });
  }
  return result;
}

async function faultyEngine(seed: number) {
  const dataDir = path.join(dir, `engine-${seed}`);
  const faults: FaultOptions = { ...parseFaults(FAULTS), seed };
  const engine = await startEngine({ faults, dataDir });
  engines.push(engine.server);
  return { ...engine, dataDir };
}

function cli(run: RunName, outDir: string, env: Record<string, string>, extra: string[] = [], sigintAfterMs?: number): Promise<CliResult> {
  return runCli([...RUNS[run], '-o', outDir, '--json', ...extra], { cwd: dir, env, timeoutMs: 200_000, sigintAfterMs });
}

/** Successful uploads per input base name, from an engine's request log. */
function sends(log: RecordedRequest[]): Map<string, number> {
  const count = new Map<string, number>();
  for (const r of log) if (r.method === 'POST' && r.path === '/v1/upload' && r.status === 200 && r.file) count.set(r.file, (count.get(r.file) ?? 0) + 1);
  return count;
}

function faultSummary(log: RecordedRequest[]): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const r of log) if (r.fault) kinds[r.fault] = (kinds[r.fault] ?? 0) + 1;
  return kinds;
}

async function expectInputsUnchanged(): Promise<void> {
  expect(await walk(path.join(dir, 'in'))).toEqual([...inputs.keys()].sort());
  for (const [rel, hash] of inputs) expect(sha(await readFile(path.join(dir, 'in', rel))), rel).toBe(hash);
}

/** Exactly the fault-free run's files (no duplicate, no stray), each complete, same format and size; only the journal besides them. */
async function expectComplete(run: RunName, outDir: string): Promise<void> {
  const all = await walk(outDir);
  expect(all.filter((f) => f.endsWith('.iloveimg-tmp'))).toEqual([]);
  expect(all.filter((f) => f !== JOURNAL)).toEqual([...reference[run].keys()].sort());
  expect(Object.fromEntries(await shapes(outDir))).toEqual(Object.fromEntries(reference[run]));
}

function expectSentOnce(log: RecordedRequest[]): void {
  const counted = sends(log);
  const expected = new Map([...inputs.keys()].map((rel) => [path.basename(rel), 1]));
  const wrong = [...new Set([...counted.keys(), ...expected.keys()])].filter((name) => counted.get(name) !== expected.get(name));
  expect(wrong.map((name) => `${name}: sent ${counted.get(name) ?? 0} times`)).toEqual([]);
}

/** No upload left half-written in the engine's temp dir by a reset or an injected error. */
async function expectEngineClean(dataDir: string): Promise<void> {
  expect(await readdir(path.join(dataDir, '.tmp'))).toEqual([]);
}

const why = (res: CliResult, log: RecordedRequest[]) => `exit ${res.code}; faults ${JSON.stringify(faultSummary(log))}\n${res.stderr.slice(-3000)}`;

beforeAll(async () => {
  dir = await tempDir('iloveimg-faults-');
});

afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('200 images against an engine injecting faults', () => {
  beforeAll(async () => {
    for (let i = 0; i < N; i++) {
      const src = SOURCES[i % SOURCES.length];
      const rel = path.join(`d${i % 4}`, `e${Math.floor(i / 4) % 5}`, `img-${String(i).padStart(3, '0')}${path.extname(src)}`);
      await mkdir(path.join(dir, 'in', path.dirname(rel)), { recursive: true });
      await copyFile(path.join(CORPUS, src), path.join(dir, 'in', rel));
      inputs.set(rel, sha(await readFile(path.join(dir, 'in', rel))));
    }
    // The fault-free reference, both runs at once.
    const clean = await startEngine();
    try {
      const runs = await Promise.all(
        (Object.keys(RUNS) as RunName[]).map(async (run) => {
          const res = await cli(run, `ref-${run}`, clean.env);
          expect(res.code, res.stderr).toBe(0);
          reference[run] = await shapes(path.join(dir, `ref-${run}`));
          expect(reference[run].size).toBe(N);
        }),
      );
      expect(runs).toHaveLength(2);
    } finally {
      await clean.server.close();
    }
  }, 180_000);

  it('compress and a 3-step pipeline end with every output complete, as without faults, each input sent once', async () => {
    const seed = Date.now() % 1_000_000;
    await Promise.all(
      (Object.keys(RUNS) as RunName[]).map(async (run, i) => {
        const engine = await faultyEngine(seed + i);
        const started = Date.now();
        const res = await cli(run, `out-${run}`, engine.env, RETRIES);
        durations[run] = Date.now() - started;
        const log = engine.server.log;
        expect(res.code, `${run} (seed ${seed + i}): ${why(res, log)}`).toBe(0);
        const doc = JSON.parse(res.stdout);
        expect(doc.summary).toMatchObject({ total: N, failed: 0 });
        // The faults really happened: about a fifth of all requests.
        const faulted = log.filter((r) => r.fault).length;
        expect(faulted, JSON.stringify(faultSummary(log))).toBeGreaterThan(log.length * 0.1);
        await expectComplete(run, path.join(dir, `out-${run}`));
        expectSentOnce(log);
        await expectEngineClean(engine.dataDir);
      }),
    );
    await expectInputsUnchanged();
  }, 200_000);

  it('Ctrl-C at a random moment, then --resume: no partial file, inputs unchanged, all outputs, nothing sent twice', async () => {
    const seed = (Date.now() % 1_000_000) + 100;
    await Promise.all(
      (Object.keys(RUNS) as RunName[]).map(async (run, i) => {
        const engine = await faultyEngine(seed + i);
        const outDir = path.join(dir, `int-${run}`);
        // Anywhere from 1.5 s (past start-up) to 60 % of what an uninterrupted faulty run took, so the
        // run is still going when the signal comes.
        const killAt = 1500 + Math.floor(Math.random() * Math.max(1000, 0.6 * (durations[run] ?? 20_000) - 1500));
        const first = await cli(run, `int-${run}`, engine.env, RETRIES, killAt);
        const context = `${run} (seed ${seed + i}, SIGINT at ${killAt} ms)`;
        expect(first.code, `${context}: ${why(first, engine.server.log)}`).toBe(130);

        // After the interrupted run: no partial file, and whatever was written is complete and right.
        const written = (await walk(outDir)).filter((f) => f !== JOURNAL);
        expect(written.filter((f) => f.includes('iloveimg-tmp'))).toEqual([]);
        const partial = await shapes(outDir);
        for (const [rel, shape] of partial) expect(shape, `${context}: ${rel}`).toEqual(reference[run].get(rel));
        await expectInputsUnchanged();

        const second = await cli(run, `int-${run}`, engine.env, [...RETRIES, '--resume']);
        expect(second.code, `${context}, resume: ${why(second, engine.server.log)}`).toBe(0);
        const doc = JSON.parse(second.stdout);
        expect(doc.files.filter((f: { note?: string }) => f.note === 'already done by an earlier run')).toHaveLength(written.length);
        await expectComplete(run, outDir);
        // Over both runs, every input was uploaded successfully exactly once.
        expectSentOnce(engine.server.log);
        await expectEngineClean(engine.dataDir);
      }),
    );
    await expectInputsUnchanged();
  }, 240_000);
});

// ── one fault at a time: what each kind does to the engine, and how the client recovers ─────────

describe('the fault spec', () => {
  it('parses every key and refuses what it does not know', () => {
    expect(parseFaults('rate=0.2,status=500:503:429,reset=0.05,latency=80,seed=42')).toEqual({
      rate: 0.2,
      statuses: [500, 503, 429],
      late: 0,
      reset: 0.05,
      latencyMs: 80,
      seed: 42,
    });
    expect(parseFaults('late=0.5, only=process:next , limit=3,seed=1')).toMatchObject({ late: 0.5, only: ['process', 'next'], limit: 3, rate: 0 });
    expect(parseFaults('').rate).toBe(0);
    for (const bad of ['rate=2', 'rate=', 'status=404', 'status=500:x', 'reset=-1', 'latency=1.5', 'seed=-3', 'only=upload:nowhere', 'rate=0.1,rate=0.2', 'colour=red', 'rate']) {
      expect(() => parseFaults(bad), bad).toThrow(/faults:/);
    }
  });

  it('serve --faults refuses a bad spec as a usage error', async () => {
    const res = await runCli(['serve', '--port', '0', '--faults', 'rate=5'], { cwd: dir, timeoutMs: 20_000 });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/rate must be a number from 0 to 1/);
  });
});

describe('each kind of fault, on the engine', () => {
  const JPG = () => readFile(path.join(CORPUS, 'cmyk-video-001-150x103.jpg'));
  const withHarness = async (spec: string, body: (h: Harness, dataDir: string) => Promise<void>) => {
    const dataDir = path.join(dir, `harness-${Math.random().toString(36).slice(2)}`);
    const h = await Harness.start({ faults: { ...parseFaults(spec), seed: 7 }, dataDir });
    try {
      await body(h, dataDir);
    } finally {
      await h.close();
    }
  };

  it('a status fault answers before anything happens: nothing stored, processed or charged', () =>
    withHarness('rate=1,status=503,only=upload:process', async (h) => {
      const task = await h.startTask('compressimage');
      const res = await h.call('POST', '/upload', { body: { multipart: [['task', task], ['file', { data: await JPG(), filename: 'a.jpg' }]] } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^[01]$/);
      expect(await res.json()).toEqual({ error: { type: 'ServiceUnavailable', message: expect.stringMatching(/^Injected fault/), code: 503 } });
      expect((await h.json('GET', `/task/${task}`)).files).toEqual([]);
      const before = (await h.json('GET', '/info')).remaining_files;
      expect((await h.call('POST', '/process', { body: { json: { task, tool: 'compressimage', files: [] } } })).status).toBe(503);
      expect((await h.json('GET', `/task/${task}`)).status).toBe('TaskWaiting');
      expect((await h.json('GET', '/info')).remaining_files).toBe(before);
      expect(h.srv.log.filter((r) => r.fault).map((r) => r.fault)).toEqual(['status 503', 'status 503']);
    }));

  it('a late fault on process does the work and loses the answer', () =>
    withHarness('rate=1,status=429,late=1,only=process', async (h) => {
      const { task, files } = await h.prepare('compressimage', [['a.jpg', await JPG()]]);
      const res = await h.call('POST', '/process', { body: { json: { task, tool: 'compressimage', files } } });
      expect(res.status).toBe(500); // a lost answer is a 500 whatever status was drawn
      expect((await res.json()).error).toMatchObject({ type: 'ServerError', message: expect.stringMatching(/after the request was handled/) });
      expect((await h.json('GET', `/task/${task}`)).status).toBe('TaskSuccess');
      const { res: dl, bytes } = await h.download(task);
      expect(dl.status).toBe(200);
      expect((await sharp(bytes).metadata()).width).toBe(150);
    }));

  it('an upload reset mid-body stores nothing, and the next upload succeeds', () =>
    withHarness('reset=1,only=upload,limit=1', async (h, dataDir) => {
      const task = await h.startTask('compressimage');
      const big = await readFile(path.join(CORPUS, 'icc-adobergb-rocket-640x427.jpg'));
      await expect(h.call('POST', '/upload', { body: { multipart: [['task', task], ['file', { data: big, filename: 'a.jpg' }]] } })).rejects.toThrow();
      expect(h.srv.log.at(-1)).toMatchObject({ path: '/v1/upload', fault: 'reset upload' });
      expect((await h.json('GET', `/task/${task}`)).files).toEqual([]);
      expect(await readdir(path.join(dataDir, '.tmp'))).toEqual([]);
      await h.upload(task, 'a.jpg', big);
      expect((await h.json('GET', `/task/${task}`)).files).toHaveLength(1);
    }));

  it('a download reset sends the headers and part of the body, then closes; the download can be retried', () =>
    withHarness('reset=1,only=download,limit=1', async (h) => {
      const { task, files } = await h.prepare('rotateimage', [['a.png', await readFile(path.join(CORPUS, 'gray-camera-512.png'))]]);
      await h.process({ task, tool: 'rotateimage', files });
      const cut = await rawGet(`${h.srv.url}/v1/download/${task}`, h.token);
      expect(cut.status).toBe(200);
      expect(cut.complete).toBe(false);
      expect(cut.received).toBeGreaterThan(0);
      expect(cut.received).toBeLessThan(cut.length);
      const whole = await rawGet(`${h.srv.url}/v1/download/${task}`, h.token);
      expect(whole).toMatchObject({ status: 200, complete: true, received: cut.length });
    }));
});

/** A GET that reports how much of the body arrived before the connection ended. */
function rawGet(url: string, token: string): Promise<{ status?: number; length: number; received: number; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Authorization: `Bearer ${token}` }, agent: false }, (res) => {
      let received = 0;
      res.on('data', (c: Buffer) => (received += c.length));
      res.on('error', () => undefined); // 'aborted': reported through `complete`
      res.on('close', () => resolve({ status: res.statusCode, length: Number(res.headers['content-length']), received, complete: res.complete }));
    });
    req.on('error', reject);
  });
}

describe('the client recovers from each fault alone (built binary, one file)', () => {
  const single = async (spec: string, args: string[], extra: string[] = []) => {
    const dataDir = path.join(dir, `single-${Math.random().toString(36).slice(2)}`);
    const e = await startEngine({ faults: { ...parseFaults(spec), seed: 3 }, dataDir });
    engines.push(e.server);
    const work = await tempDir('iloveimg-fault1-');
    await copyFile(path.join(CORPUS, 'cmyk-video-001-150x103.jpg'), path.join(work, 'a.jpg'));
    const res = await runCli([...args, 'a.jpg', '-o', 'out', '--json', ...extra], { cwd: work, env: e.env, timeoutMs: 60_000 });
    const out = await walk(path.join(work, 'out'));
    const bytes = await readFile(path.join(work, 'out', 'a.jpg')).catch(() => Buffer.alloc(0));
    const log = e.server.log;
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
    return { res, log, out, bytes, engine: e };
  };
  const calls = (log: RecordedRequest[], p: string) => log.filter((r) => r.path === p).map((r) => (r.fault ? `${r.status ?? '-'} (${r.fault})` : String(r.status)));

  it('an early 500 on process: the task is still TaskWaiting, so process is sent again', async () => {
    const { res, log, out } = await single('rate=1,status=500,only=process,limit=1', ['compress']);
    expect(res.code, res.stderr).toBe(0);
    expect(calls(log, '/v1/process')).toEqual(['500 (status 500)', '200']);
    expect(out).toEqual(['.iloveimg-journal.ndjson', 'a.jpg']);
  });

  it('a lost process answer (late 500): the task is asked for, found processed, and not processed again', async () => {
    const { res, log, out } = await single('rate=1,late=1,only=process,limit=1', ['compress']);
    expect(res.code, res.stderr).toBe(0);
    expect(calls(log, '/v1/process')).toEqual(['500 (late 500)']);
    expect(log.some((r) => r.method === 'GET' && r.path.startsWith('/v1/task/'))).toBe(true);
    expect(out).toEqual(['.iloveimg-journal.ndjson', 'a.jpg']);
  });

  it('a lost task/next answer: the child it made is found among the waiting tasks and used; no orphan is left', async () => {
    const { res, log, out, engine } = await single('rate=1,late=1,only=next,limit=1', ['resize', '-p', '50', '--then', 'compress']);
    expect(res.code, res.stderr).toBe(0);
    expect(calls(log, '/v1/task/next')).toEqual(['500 (late 500)']);
    expect(out).toEqual(['.iloveimg-journal.ndjson', 'a.jpg']);
    const list = await runCli(['tasks', 'list', '--json'], { cwd: dir, env: engine.env });
    const statuses = (JSON.parse(list.stdout) as { tool: string; status: string }[]).map((t) => `${t.tool} ${t.status}`).sort();
    expect(statuses).toEqual(['compressimage TaskSuccess', 'resizeimage TaskSuccess']);
  });

  it('an upload reset and a download reset are retried', async () => {
    const up = await single('reset=1,only=upload,limit=1', ['compress']);
    expect(up.res.code, up.res.stderr).toBe(0);
    expect(calls(up.log, '/v1/upload')).toEqual(['- (reset upload)', '200']);
    const down = await single('reset=1,only=download,limit=1', ['rotate', '--rotate', '90']);
    expect(down.res.code, down.res.stderr).toBe(0);
    expect(down.log.filter((r) => r.path.startsWith('/v1/download/')).map((r) => r.fault ?? r.status)).toEqual(['reset download', 200]);
    expect(down.out).toEqual(['.iloveimg-journal.ndjson', 'a.jpg']);
    // The file written is the whole result, not the part that came before the cut.
    const clean = await single('rate=0', ['rotate', '--rotate', '90']);
    expect(down.bytes).toEqual(clean.bytes);
    expect(down.bytes.length).toBeGreaterThan(1000);
  });

  it('a process that keeps failing is resent at most --retries times, then the file fails with the server error', async () => {
    const { res, log, out } = await single('rate=1,status=500,only=process', ['compress'], ['--retries', '2']);
    expect(res.code).toBe(3);
    expect(calls(log, '/v1/process')).toEqual(['500 (status 500)', '500 (status 500)', '500 (status 500)']);
    expect(JSON.parse(res.stdout).files[0]).toMatchObject({ status: 'failed', error: { type: 'ServerError', message: expect.stringMatching(/Injected fault/) } });
    expect(out).toEqual([]);
  });
});
