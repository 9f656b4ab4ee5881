#!/usr/bin/env node
// `npm run bench`: speed, memory and compression of iloveimg against the baseline that sets the limit and
// against what users would use instead (issue 7). Method and how to read it: bench/README.md.
//
//   node bench/run.mjs [--smoke] [--rows 1,2,3,4,5] [--runs N] [--corpus DIR] [--merge FILE] [--no-install] [--keep] [--out FILE]
//
// Prints progress on stderr, a Markdown table on stdout, and writes bench/results/latest.json (with
// --smoke: a temp file unless --out is given). Every timed command is a child process; contenders of
// one row run in alternation (A B A B …) after a warm-up round, and ratios are of medians from the same
// alternation.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { frontierMarkdown } from './lib/jpeg-frontier.mjs';
import { committedPhotos, copiedSet, derivedSet, folderPhotos, paddedImage, photoSet } from './lib/corpus.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'iloveimg.js');
const LIB = path.join(ROOT, 'bench', 'lib');
const NODE = process.execPath;
const started = Date.now();

// ---------------------------------------------------------------------------------------------------
// Options and sizes.

const argv = process.argv.slice(2);
const has = (f) => argv.includes(f);
const val = (f) => (argv.indexOf(f) >= 0 ? argv[argv.indexOf(f) + 1] : undefined);
const SMOKE = has('--smoke');
const ROWS = new Set((val('--rows') ?? '1,2,3,4,5').split(',').map(Number));
const RUNS_OVERRIDE = val('--runs') ? Number(val('--runs')) : undefined;
// The inputs: the photos committed in the repository unless a folder of the user's JPEGs is given.
const CORPUS = val('--corpus') ?? process.env.BENCH_CORPUS;
const CORPUS_LABEL = CORPUS ? `the JPEGs in ${CORPUS}` : 'photos committed in the repository';

const FULL = {
  startup: { runs: 15, warmup: 2 },
  throughput: { files: 100, minMp: 2, maxMp: 12, smallFiles: 1000, jobs: 2, runs: 3, warmup: 1 },
  cloud: { latencyMs: 80, files: 100, longSide: 256, step: 4, runs: 5, warmup: 1, scaling: [10, 100, 1000], scalingRuns: 5, largestRuns: 2, passthroughRuns: 2 },
  memory: { files: 1000, runs: 1, bigBytes: 1024 ** 3, bigRuns: 1 },
  compression: { photos: Infinity, downscale: 0 },
};
const SMALL = {
  startup: { runs: 2, warmup: 0 },
  throughput: { files: 4, minMp: 0.05, maxMp: 0.2, smallFiles: 24, jobs: 2, runs: 1, warmup: 0 },
  cloud: { latencyMs: 10, files: 8, longSide: 160, step: 4, runs: 1, warmup: 0, scaling: [2, 8, 24], scalingRuns: 1, largestRuns: 1, passthroughRuns: 1 },
  memory: { files: 24, runs: 1, bigBytes: 12 * 1024 ** 2, bigRuns: 1 },
  compression: { photos: 3, downscale: 400 },
};
const CFG = SMOKE ? SMALL : FULL;
if (RUNS_OVERRIDE) for (const k of ['startup', 'throughput', 'cloud']) CFG[k].runs = RUNS_OVERRIDE;

const log = (msg) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s] ${msg}\n`);

// ---------------------------------------------------------------------------------------------------
// Statistics and timed child processes.

const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, d = 3) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);

const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

// Every child is started in a process group of its own and remembered, so that an interrupted bench
// (Ctrl-C, SIGTERM) stops exactly the processes it started, and still writes what it measured.
const children = new Set();
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
function killChildren() {
  for (const c of children) {
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/**
 * Runs a command and times it. Wall time is measured here (hrtime around spawn → exit); CPU time and
 * peak RSS come from GNU time (`/usr/bin/time -f '%U %S %M'`, the child's own rusage: ru_maxrss of the
 * largest process, here the only one) when `rusage` is asked for and GNU time exists.
 */
async function timed(cmd, args, { env = process.env, cwd, rusage = true, input } = {}) {
  const tf = rusage && TIME ? path.join(os.tmpdir(), `iloveimg-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`) : undefined;
  const [c, a] = tf ? [TIME, ['-f', '%U %S %M', '-o', tf, cmd, ...args]] : [cmd, args];
  const t0 = process.hrtime.bigint();
  const child = track(spawn(c, a, { env, cwd, stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'], detached: true }));
  if (input) child.stdin.end(input);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const code = await new Promise((resolve) => child.on('close', (c2) => resolve(c2)));
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const m = { wallMs, code, stdout, stderr };
  if (tf) {
    try {
      const last = readFileSync(tf, 'utf8').trim().split('\n').pop().split(' ').map(Number);
      Object.assign(m, { userS: last[0], sysS: last[1], rssMb: last[2] / 1024 });
    } catch {
      /* no rusage */
    }
    await rm(tf, { force: true });
  }
  return m;
}

/** `timed`, failing the row when the command exits non-zero. */
async function checked(cmd, args, opts) {
  const m = await timed(cmd, args, opts);
  if (m.code !== 0) m.error = `exit ${m.code}: ${m.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  return m;
}

/**
 * Alternates the contenders (A B C A B C …): `warmup` discarded rounds, then `runs` rounds. Each
 * contender is `{ name, run: () => Promise<measurement> }`; a measurement with `error` stops that row.
 */
async function alternate(label, contenders, { runs, warmup }) {
  const results = Object.fromEntries(contenders.map((c) => [c.name, []]));
  for (let r = -warmup; r < runs; r++) {
    for (const c of contenders) {
      const m = await c.run();
      if (m.error) throw new Error(`${label} / ${c.name}: ${m.error}`);
      if (r >= 0) results[c.name].push(m);
    }
    log(`${label}: round ${r < 0 ? 'warm-up' : r + 1}/${runs} ${contenders.map((c) => `${c.name} ${fmtMs(results[c.name].at(-1)?.wallMs)}`).join(', ')}`);
  }
  return Object.fromEntries(Object.entries(results).map(([k, ms]) => [k, summarise(ms)]));
}

function summarise(ms) {
  const wall = ms.map((m) => m.wallMs);
  const cpu = ms.filter((m) => m.userS !== undefined).map((m) => (m.userS + m.sysS) / (m.wallMs / 1000));
  const rss = ms.filter((m) => m.rssMb !== undefined).map((m) => m.rssMb);
  const s = { medianMs: round(median(wall), 1), minMs: round(Math.min(...wall), 1), maxMs: round(Math.max(...wall), 1), runsMs: wall.map((w) => round(w, 1)) };
  if (cpu.length) {
    s.cpuCores = round(median(cpu), 2);
    s.cpuSeconds = round(median(ms.filter((m) => m.userS !== undefined).map((m) => m.userS + m.sysS)), 2);
  }
  if (rss.length) Object.assign(s, { rssMbMedian: round(median(rss), 1), rssMbMax: round(Math.max(...rss), 1) });
  const extra = ms.find((m) => m.extra)?.extra;
  if (extra) s.extra = extra;
  return s;
}

function fmtMs(ms) {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 100 ? 1 : 0)} ms`;
}

// ---------------------------------------------------------------------------------------------------
// Environment for the CLI: no user profile, no keys from the caller's shell.

const TMP = await mkdtemp(path.join(os.tmpdir(), 'iloveimg-bench-'));
function cliEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ILOVEIMG_')) env[k] = v;
  return { ...env, ILOVEIMG_CONFIG_DIR: path.join(TMP, 'config'), XDG_CONFIG_HOME: path.join(TMP, 'xdg'), NO_COLOR: '1', ...extra };
}

/** Runs the CLI with --json and checks that every file came back (ok, or skipped = original kept). */
async function runCli(args, { env = cliEnv(), cwd = TMP, expect } = {}) {
  const m = await timed(NODE, [BIN, ...args, '--json'], { env, cwd });
  if (m.code !== 0) return { ...m, error: `exit ${m.code}: ${m.stderr.trim().split('\n').slice(-3).join(' | ')}` };
  let report;
  try {
    report = JSON.parse(m.stdout);
  } catch {
    return { ...m, error: `no JSON on stdout: ${m.stdout.slice(0, 200)}` };
  }
  const s = report.summary ?? {};
  if (expect !== undefined && (s.failed ?? 0) + (s.ok ?? 0) + (s.skipped ?? 0) !== expect) return { ...m, error: `expected ${expect} files, got ${JSON.stringify(s)}` };
  if (s.failed) return { ...m, error: `${s.failed} file(s) failed: ${JSON.stringify(report.files.find((f) => f.status === 'failed'))}` };
  return { ...m, extra: { ok: s.ok, skipped: s.skipped, outputBytes: s.outputBytes, tasks: report.tasks?.length } };
}

async function freshDir(name) {
  const dir = path.join(TMP, 'out', `${name}-${Math.random().toString(36).slice(2, 8)}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

async function dirBytes(dir) {
  let total = 0;
  // Images only: the CLI also leaves its resume journal (.iloveimg-journal.ndjson) in the output dir.
  for (const n of await readdir(dir)) if (!n.startsWith('.')) total += (await stat(path.join(dir, n))).size;
  return total;
}

/** Runs a timed contender with a fresh output dir, removed afterwards (outside the timing). */
function withOut(name, fn) {
  return async () => {
    const out = await freshDir(name);
    try {
      const m = await fn(out);
      if (!m.error && m.code === 0) {
        const bytes = await dirBytes(out).catch(() => undefined);
        m.extra = { ...(m.extra ?? {}), outputBytes: bytes ?? m.extra?.outputBytes };
      } else if (!m.error) m.error = `exit ${m.code}: ${m.stderr.trim().split('\n').slice(-3).join(' | ')}`;
      return m;
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  };
}

// ---------------------------------------------------------------------------------------------------
// The engine (and latency proxy) in a child process.

async function startEngine({ latencyMs = 0, maxUpload, passthrough = false } = {}) {
  const args = [path.join(LIB, 'engine-child.mjs')];
  if (passthrough) args.push('--passthrough');
  if (latencyMs) args.push('--latency', String(latencyMs));
  if (maxUpload) args.push('--max-upload', String(maxUpload));
  const child = track(spawn(NODE, args, { stdio: ['pipe', 'pipe', 'inherit'], detached: true }));
  const info = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve(JSON.parse(buf.split('\n')[0]));
    });
    child.on('exit', (code) => reject(new Error(`engine child exited (${code})`)));
  });
  return {
    ...info,
    env: cliEnv({ ILOVEIMG_API_URL: info.apiUrl, ILOVEIMG_PUBLIC_KEY: info.publicKey, ILOVEIMG_SECRET_KEY: info.secretKey }),
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// ImageMagick: a real one (Debian's imagemagick), installed on demand; /usr/local/bin/convert on the
// dev machines is a stand-in, so only a binary that says "ImageMagick" in its -version counts.

function probeMagick() {
  const candidates = [
    ['/usr/bin/mogrify', []],
    ['mogrify', []],
    ['magick', ['mogrify']],
  ];
  for (const [cmd, pre] of candidates) {
    const r = spawnSync(cmd, [...pre, '-version'], { encoding: 'utf8' });
    if (r.status === 0 && /ImageMagick/.test(r.stdout)) return { cmd, pre, version: r.stdout.split('\n')[0].replace(/^Version:\s*/, '') };
  }
  return undefined;
}

function findMagick() {
  if (process.env.BENCH_NO_IMAGEMAGICK) return { missing: 'ImageMagick disabled (BENCH_NO_IMAGEMAGICK is set)' };
  let im = probeMagick();
  if (im || has('--no-install')) return im ?? { missing: 'ImageMagick not installed (--no-install)' };
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || spawnSync('apt-get', ['--version']).status !== 0) return { missing: 'ImageMagick not installed and apt-get (as root) is not available' };
  log('ImageMagick missing: apt-get install -y imagemagick …');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'imagemagick'], { env, stdio: 'ignore', timeout: 240_000 });
  if (install().status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { env, stdio: 'ignore', timeout: 180_000 });
    install();
  }
  im = probeMagick();
  return im ?? { missing: 'ImageMagick could not be installed (apt-get install imagemagick failed)' };
}

// ---------------------------------------------------------------------------------------------------
// Rows.

const results = { rows: {} };

function loadNote(row) {
  row.loadAvg = os.loadavg().map((x) => round(x, 2));
}

async function rowStartup() {
  const c = CFG.startup;
  const env = cliEnv();
  const r = await alternate(
    'startup',
    [
      { name: 'node -e 0', run: () => checked(NODE, ['-e', '0'], { env, rusage: false }) },
      { name: 'iloveimg --version', run: () => checked(NODE, [BIN, '--version'], { env, rusage: false }) },
      { name: 'iloveimg compress --help', run: () => checked(NODE, [BIN, 'compress', '--help'], { env, rusage: false }) },
    ],
    c,
  );
  const base = r['node -e 0'].medianMs;
  const row = { runs: c.runs, warmup: c.warmup, contenders: r, target: 'at most 40 ms above `node -e 0`', checks: {} };
  for (const k of ['iloveimg --version', 'iloveimg compress --help']) {
    const delta = round(r[k].medianMs - base, 1);
    r[k].aboveBaselineMs = delta;
    r[k].ratio = round(r[k].medianMs / base, 2);
    row.checks[k] = { value: `${delta >= 0 ? '+' : ''}${delta} ms`, met: delta <= 40 };
  }
  loadNote(row);
  results.rows.startup = row;
}

/** The source photos: the user's folder (--corpus, BENCH_CORPUS) or the repository's own photos. */
let sourceList;
async function sources() {
  sourceList ??= CORPUS ? folderPhotos(CORPUS) : committedPhotos(ROOT);
  return sourceList;
}
const noPhotos = () => `no JPEG photos in ${CORPUS ?? 'examples/ and test/fixtures/'}`;

/**
 * The camera-sized photo set: a user's folder as it is, or, by default, `files` photos of
 * minMp–maxMp megapixels tiled from the committed photos into the temp dir.
 */
let photoList;
async function cameraPhotos() {
  const c = CFG.throughput;
  photoList ??= (async () => {
    const src = await sources();
    if (!src.length) return [];
    if (CORPUS) return SMOKE ? derivedSet(src.slice(0, c.files), path.join(TMP, 'photos'), { count: Math.min(c.files, src.length), longSide: 320, step: 0 }) : src.slice(0, c.files);
    log(`deriving ${c.files} photos of ${c.minMp}–${c.maxMp} MP from ${src.length} committed photos`);
    return photoSet(src, path.join(TMP, 'photos'), { count: c.files, minMp: c.minMp, maxMp: c.maxMp });
  })();
  return photoList;
}

async function rowThroughput(im) {
  const c = CFG.throughput;
  const files = await cameraPhotos();
  if (!files.length) return (results.rows.throughput = { skipped: noPhotos() });
  const inputBytes = (await Promise.all(files.map((f) => stat(f)))).reduce((s, st) => s + st.size, 0);
  const pixels = await totalPixels(files);
  const row = { files: files.length, inputs: CORPUS_LABEL, inputBytes, megapixels: round(pixels / 1e6, 1), runs: c.runs, warmup: c.warmup, workloads: {} };

  const small = await smallFiles(c.smallFiles);
  const workloads = [
    { name: 'compress', files, sharpOp: 'compress-recommended', cli: ['compress'], imArgs: ['-auto-orient', '-strip', '-quality', '75'], imNote: 'mogrify -auto-orient -strip -quality 75 (the target of compress recommended)', targets: { im: 1.5, imBytes: true } },
    { name: 'resize 50 %', files, sharpOp: 'resize50', cli: ['resize', '--percentage', '50'], imArgs: ['-auto-orient', '-strip', '-resize', '50%', '-quality', '80'], imNote: 'mogrify -auto-orient -strip -resize 50% -quality 80 (the engine\'s libjpeg-turbo q80)', targets: { sharp: 1.1 } },
    { name: `resize 50 %, ${c.smallFiles} small files`, files: small.files, glob: small.glob, sharpOp: 'resize50', cli: ['resize', '--percentage', '50'], targets: { sharp: 1.3 } },
  ];
  for (const w of workloads) {
    const inputs = w.glob ? [w.glob] : w.files;
    const contenders = [
      { name: 'iloveimg (embedded engine)', run: withOut('cli', (out) => runCli([w.cli[0], ...inputs, ...w.cli.slice(1), '-o', out, '--flat', '--local'], { expect: w.files.length })) },
      { name: `plain sharp, ${c.jobs} in flight`, run: withOut('sharp', (out) => timed(NODE, [path.join(LIB, 'sharp-direct.mjs'), w.sharpOp, out, '--jobs', String(c.jobs), ...w.files])) },
    ];
    if (!im.missing && w.imArgs) contenders.push({ name: 'ImageMagick mogrify', run: withOut('im', (out) => timed(im.cmd, [...im.pre, '-path', out, ...w.imArgs, ...w.files])) });
    // One warm-up round for the row: the other workloads reuse the inputs, binaries and page cache.
    const r = await alternate(`throughput ${w.name}`, contenders, { runs: c.runs, warmup: w === workloads[0] ? c.warmup : 0 });
    const [cli, sh] = contenders.map((x) => r[x.name]);
    const imr = r['ImageMagick mogrify'];
    cli.ratio = round(cli.medianMs / sh.medianMs, 2);
    const wl = { files: w.files.length, contenders: r, imNote: w.imNote, targets: w.targets, checks: {} };
    wl.sameBytesAsSharp = cli.extra?.outputBytes === sh.extra?.outputBytes;
    if (w.targets.sharp) wl.checks[`iloveimg ÷ plain sharp ≤ ${w.targets.sharp}`] = { value: `${cli.ratio}×`, met: cli.ratio <= w.targets.sharp };
    if (imr) {
      imr.ratio = round(imr.medianMs / sh.medianMs, 2);
      wl.imOverIloveimg = round(imr.medianMs / cli.medianMs, 2);
      wl.iloveimgOverIm = round(cli.medianMs / imr.medianMs, 2);
      if (w.targets.im) wl.checks[`iloveimg ÷ ImageMagick ≤ ${w.targets.im} (wall)`] = { value: `${wl.iloveimgOverIm}×`, met: wl.iloveimgOverIm <= w.targets.im };
      if (w.targets.imBytes) {
        const ours = cli.extra?.outputBytes;
        const theirs = imr.extra?.outputBytes;
        wl.checks['output bytes ≤ ImageMagick\'s'] = { value: `${round((ours / theirs) * 100, 1)} % (${ours?.toLocaleString('en-US')} vs ${theirs?.toLocaleString('en-US')} B)`, met: ours <= theirs };
      }
    } else if (w.imArgs) {
      wl.imagemagick = `not available: ${im.missing}`;
      if (w.targets.im) wl.checks[`iloveimg ÷ ImageMagick ≤ ${w.targets.im} (wall)`] = { value: 'not available', met: null };
    }
    row.workloads[w.name] = wl;
  }
  loadNote(row);
  results.rows.throughput = row;
}

async function totalPixels(files) {
  const { default: sharp } = await import('sharp');
  let px = 0;
  for (const f of files) {
    const m = await sharp(f).metadata();
    px += m.width * m.height;
  }
  return px;
}

let smallSet; // shared by rows 3 and 4
async function smallFiles(count) {
  const c = CFG.cloud;
  if (!smallSet) {
    const src = await sources();
    if (!src.length) return undefined;
    const unique = await derivedSet(src, path.join(TMP, 'small-unique'), { count: Math.min(100, Math.max(...c.scaling, c.files, CFG.memory.files, CFG.throughput.smallFiles)), longSide: c.longSide, step: c.step });
    smallSet = { unique, dirs: new Map() };
  }
  if (!smallSet.dirs.has(count)) {
    const dir = path.join(TMP, `small-${count}`);
    const files = await copiedSet(smallSet.unique, dir, count);
    smallSet.dirs.set(count, { dir, files, glob: path.join(dir, '*.jpg') });
  }
  return smallSet.dirs.get(count);
}

async function rowCloud() {
  const c = CFG.cloud;
  const set = await smallFiles(c.files);
  if (!set) return (results.rows.cloud = { skipped: noPhotos() });
  const inputBytes = (await Promise.all(set.files.map((f) => stat(f)))).reduce((s, st) => s + st.size, 0);
  const engine = await startEngine({ latencyMs: c.latencyMs });
  log(`cloud: engine behind a ${c.latencyMs} ms proxy at ${engine.apiUrl}`);
  const row = { latencyMs: c.latencyMs, files: c.files, inputBytes, runs: c.runs, warmup: c.warmup, checks: {} };
  try {
    const contenders = [
      { name: 'iloveimg compress (default -j)', run: withOut('cli', (out) => runCli(['compress', set.glob, '-o', out], { env: engine.env, expect: c.files })) },
      {
        name: 'sequential client (official libraries\' flow)',
        run: withOut('seq', (out) =>
          timed(NODE, [path.join(LIB, 'sequential-client.mjs'), '--api', engine.apiUrl, '--public', engine.publicKey, '--secret', engine.secretKey, '--tool', 'compressimage', '--out', path.join(out, 'output.zip'), ...set.files]),
        ),
      },
    ];
    const r = await alternate('cloud', contenders, c);
    const [cli, seq] = contenders.map((x) => r[x.name]);
    seq.ratio = round(seq.medianMs / cli.medianMs, 2);
    row.contenders = r;
    row.speedup = seq.ratio;
    row.checks['sequential ÷ iloveimg ≥ 4'] = { value: `${seq.ratio}×`, met: seq.ratio >= 4 };

    // Scaling: 10 → 100 → 1000 files, same engine and latency, CLI at its default concurrency.
    row.scaling = {};
    for (const n of c.scaling) {
      if (n === c.files) {
        row.scaling[n] = { ...cli, perFileMs: round(cli.medianMs / n, 2), note: 'the runs above' };
        continue;
      }
      const s = await smallFiles(n);
      const runs = n === Math.max(...c.scaling) ? c.largestRuns : c.scalingRuns;
      const rr = await alternate(`cloud scaling ${n} files`, [{ name: `${n}`, run: withOut('scale', (out) => runCli(['compress', s.glob, '-o', out], { env: engine.env, expect: n })) }], { runs, warmup: 0 });
      row.scaling[n] = { ...rr[`${n}`], perFileMs: round(rr[`${n}`].medianMs / n, 2) };
    }
    const ns = c.scaling;
    const small = row.scaling[ns[ns.length - 2]];
    const big = row.scaling[ns[ns.length - 1]];
    const growth = round(big.perFileMs / small.perFileMs, 2);
    row.checks[`time per file, ${ns.at(-1)} vs ${ns.at(-2)} files ≤ 1.1× (linear)`] = { value: `${growth}×`, met: growth <= 1.1 };
  } finally {
    await engine.stop();
  }

  // Diagnostic, not the target: the same alternation with the engine's compress replaced by a
  // pass-through, so that the server's CPU (2 cores shared with the client here) is out of the way.
  const pt = await startEngine({ latencyMs: c.latencyMs, passthrough: true });
  try {
    const contenders = [
      { name: 'iloveimg compress (default -j)', run: withOut('cli', (out) => runCli(['compress', set.glob, '-o', out], { env: pt.env, expect: c.files })) },
      {
        name: 'sequential client',
        run: withOut('seq', (out) =>
          timed(NODE, [path.join(LIB, 'sequential-client.mjs'), '--api', pt.apiUrl, '--public', pt.publicKey, '--secret', pt.secretKey, '--tool', 'compressimage', '--out', path.join(out, 'output.zip'), ...set.files]),
        ),
      },
    ];
    const r = await alternate('cloud, pass-through engine', contenders, { runs: c.passthroughRuns, warmup: 0 });
    const [a, b] = contenders.map((x) => r[x.name]);
    row.passthrough = { runs: c.passthroughRuns, contenders: r, speedup: round(b.medianMs / a.medianMs, 2) };
  } finally {
    await pt.stop();
  }
  loadNote(row);
  results.rows.cloud = row;
}

async function rowMemory() {
  const c = CFG.memory;
  const set = await smallFiles(c.files);
  if (!set) return (results.rows.memory = { skipped: noPhotos() });
  const row = { checks: {}, measurements: {} };
  // (a) the CLI as users run it offline: client and embedded engine in one process.
  const r = await alternate(`memory embedded ${c.files} files`, [{ name: 'embedded', run: withOut('mem', (out) => runCli(['compress', set.glob, '-o', out, '--local'], { expect: c.files })) }], { runs: c.runs, warmup: 0 });
  row.measurements[`iloveimg compress, ${c.files} small files, embedded engine (client + engine)`] = r.embedded;

  // (b) the client alone against an engine in another process: N small files, and one huge file.
  const engine = await startEngine({ maxUpload: c.bigBytes * 2 });
  try {
    const one = await smallFiles(1);
    const rOne = await alternate('memory client 1 small file', [{ name: 'one', run: withOut('mem1', (out) => runCli(['compress', one.glob, '-o', out], { env: engine.env, expect: 1 })) }], { runs: c.bigRuns, warmup: 0 });
    row.measurements['client only, 1 small file'] = rOne.one;
    if (!results.rows.cloud?.scaling?.[c.files]) {
      const rN = await alternate(`memory client ${c.files} files`, [{ name: 'n', run: withOut('memN', (out) => runCli(['compress', set.glob, '-o', out], { env: engine.env, expect: c.files })) }], { runs: c.runs, warmup: 0 });
      row.measurements[`client only, ${c.files} small files`] = rN.n;
    }

    const bigDir = path.join(TMP, 'big');
    await mkdir(bigDir, { recursive: true });
    const big = await paddedImage(one.files[0], path.join(bigDir, 'huge.jpg'), c.bigBytes);
    log(`memory: uploading a ${(c.bigBytes / 1024 ** 2).toFixed(0)} MiB file (JPEG header + zero padding) in 2 MB chunks`);
    // The engine may process or refuse the padded file after the upload: either way the upload is done,
    // and only the client's memory is measured, so a failed file is accepted here.
    const rBig = await alternate(
      'memory client 1 GiB',
      [
        {
          name: 'big',
          run: withOut('big', async (out) => {
            const m = await timed(NODE, [BIN, 'compress', big, '-o', out, '--json'], { env: engine.env, cwd: TMP });
            let summary;
            try {
              summary = JSON.parse(m.stdout).summary;
            } catch {
              /* reported below */
            }
            if (!summary) return { ...m, error: `no JSON report (exit ${m.code}): ${m.stderr.slice(-300)}` };
            return { ...m, code: 0, extra: { fileStatus: summary.ok ? 'ok' : summary.skipped ? 'skipped' : 'failed after upload' } };
          }),
        },
      ],
      { runs: c.bigRuns, warmup: 0 },
    );
    row.measurements[`client only, 1 file of ${(c.bigBytes / 1024 ** 3).toFixed(2)} GiB (chunked upload)`] = rBig.big;
    await rm(bigDir, { recursive: true, force: true });
  } finally {
    await engine.stop();
  }
  // Client-only RSS at 10/100/1000 files comes from row 3 (same measurement, with latency).
  if (results.rows.cloud?.scaling) {
    for (const [n, s] of Object.entries(results.rows.cloud.scaling)) {
      row.measurements[`client only, ${n} small files, ${results.rows.cloud.latencyMs} ms latency (row 3 runs)`] = { rssMbMedian: s.rssMbMedian, rssMbMax: s.rssMbMax, medianMs: s.medianMs, minMs: s.minMs, maxMs: s.maxMs, runsMs: s.runsMs, cpuCores: s.cpuCores, cpuSeconds: s.cpuSeconds };
    }
  }
  const entries = Object.entries(row.measurements);
  const peak = Math.max(...entries.map(([, m]) => m.rssMbMax ?? 0));
  row.checks['peak RSS < 200 MB (every measurement)'] = { value: `${round(peak, 0)} MB`, met: peak < 200 };
  const oneRss = row.measurements['client only, 1 small file'].rssMbMedian;
  const nRss = entries.find(([k]) => k.startsWith(`client only, ${c.files} small files`))[1].rssMbMedian;
  const bigRss = entries.find(([k]) => k.includes('GiB'))[1].rssMbMedian;
  row.checks[`flat in N: client ${c.files} files ÷ 1 file ≤ 1.25`] = { value: `${round(nRss / oneRss, 2)}× (${round(oneRss, 0)} → ${round(nRss, 0)} MB)`, met: nRss / oneRss <= 1.25 };
  row.checks['flat in size: client 1 GiB ÷ 1 small file ≤ 1.25'] = { value: `${round(bigRss / oneRss, 2)}× (${round(oneRss, 0)} → ${round(bigRss, 0)} MB)`, met: bigRss / oneRss <= 1.25 };
  loadNote(row);
  results.rows.memory = row;
}

async function rowCompression(im) {
  const c = CFG.compression;
  let photos = (await sources()).slice(0, c.photos);
  if (!photos.length) return (results.rows.compression = { skipped: noPhotos() });
  if (c.downscale) photos = await derivedSet(photos, path.join(TMP, 'compression-in'), { count: photos.length, longSide: c.downscale, step: 0 });
  // By default, every tenth camera-sized photo of row 2 joins the committed photos.
  else if (!CORPUS) photos = [...photos, ...(await cameraPhotos()).filter((_, i) => i % 10 === 5)];
  const inputBytes = (await Promise.all(photos.map((f) => stat(f)))).reduce((s, st) => s + st.size, 0);
  const row = { photos: photos.length, inputs: CORPUS_LABEL, inputBytes, encoders: {} };
  const outRoot = path.join(TMP, 'compression');
  const encoders = [];
  for (const level of ['extreme', 'recommended', 'low']) {
    encoders.push({
      name: `iloveimg compress -l ${level}`,
      key: level,
      run: (out) => runCli(['compress', ...photos, '-o', out, '--flat', '-l', level, '--local'], { expect: photos.length }),
    });
  }
  if (!im.missing) encoders.push({ name: 'ImageMagick -quality 75', key: 'im75', run: (out) => timed(im.cmd, [...im.pre, '-path', out, '-auto-orient', '-strip', '-quality', '75', ...photos]) });
  encoders.push({ name: "sharp's default JPEG (q80)", key: 'sharp-default', run: (out) => timed(NODE, [path.join(LIB, 'sharp-direct.mjs'), 'jpeg-default', out, ...photos]) });
  encoders.push({ name: 'sharp JPEG q75', key: 'sharp-q75', run: (out) => timed(NODE, [path.join(LIB, 'sharp-direct.mjs'), 'jpeg75', out, ...photos]) });

  const { luma, compare } = await import('./lib/ssim.mjs');
  const originals = new Map();
  for (const e of encoders) {
    const out = path.join(outRoot, e.key);
    await mkdir(out, { recursive: true });
    const m = await e.run(out);
    if (m.error || m.code !== 0) throw new Error(`compression / ${e.name}: ${m.error ?? m.stderr.slice(-300)}`);
    let bytes = 0;
    const perFile = {};
    for (const p of photos) {
      const o = path.join(out, path.basename(p));
      const size = (await stat(o)).size;
      bytes += size;
      if (!originals.has(p)) originals.set(p, await luma(p));
      const q = compare(originals.get(p), await luma(o));
      const kept = size === (await stat(p)).size && (await readFile(o)).equals(await readFile(p));
      perFile[path.basename(p)] = { bytes: size, ssim: round(q.ssim, 5), psnrDb: Number.isFinite(q.psnr) ? round(q.psnr, 2) : null, kept };
    }
    const ssims = Object.values(perFile).map((f) => f.ssim);
    const psnrs = Object.values(perFile).filter((f) => f.psnrDb !== null).map((f) => f.psnrDb);
    row.encoders[e.name] = {
      outputBytes: bytes,
      percentOfInput: round((bytes / inputBytes) * 100, 1),
      savedBytes: inputBytes - bytes,
      meanSsim: round(mean(ssims), 4),
      meanPsnrDb: round(mean(psnrs), 2),
      keptOriginals: Object.values(perFile).filter((f) => f.kept).length,
      wallMs: round(m.wallMs, 0),
      perFile,
    };
    log(`compression: ${e.name}: ${bytes} B (${row.encoders[e.name].percentOfInput} %), SSIM ${row.encoders[e.name].meanSsim}`);
    await rm(out, { recursive: true, force: true });
  }
  if (im.missing) row.imagemagick = `not available: ${im.missing}`;
  // A file that compress kept as it was scores SSIM 1; compare the encoders on the files that every
  // encoder re-encoded too, so that the keep-the-original rule does not flatter the means.
  const common = photos.map((p) => path.basename(p)).filter((n) => Object.values(row.encoders).every((e) => !e.perFile[n].kept));
  row.commonFiles = common.length;
  for (const e of Object.values(row.encoders)) {
    e.meanSsimCommon = round(mean(common.map((n) => e.perFile[n].ssim)), 4);
    e.bytesCommon = common.reduce((sum, n) => sum + e.perFile[n].bytes, 0);
  }
  const { frontier } = await import('./lib/jpeg-frontier.mjs');
  log(`compression: the JPEG encoder frontier on ${photos.length} photos`);
  row.frontier = await frontier(photos, { magick: im.missing ? undefined : im });
  const rec = row.encoders['iloveimg compress -l recommended'];
  const imq = row.encoders['ImageMagick -quality 75'];
  row.checks = {
    'recommended ≤ ImageMagick q75 in bytes, at ≥ its SSIM': imq
      ? {
          value: `${round((rec.outputBytes / imq.outputBytes) * 100, 1)} % of IM's bytes, SSIM ${rec.meanSsim} vs ${imq.meanSsim} (all files); on the ${common.length} files both re-encoded: ${round((rec.bytesCommon / imq.bytesCommon) * 100, 1)} % of the bytes, SSIM ${rec.meanSsimCommon} vs ${imq.meanSsimCommon}`,
          met: rec.outputBytes <= imq.outputBytes && rec.meanSsim >= imq.meanSsim && rec.bytesCommon <= imq.bytesCommon && rec.meanSsimCommon >= imq.meanSsimCommon,
        }
      : { value: 'not available', met: null },
  };
  loadNote(row);
  results.rows.compression = row;
}

// ---------------------------------------------------------------------------------------------------
// Report.

function markdown() {
  const L = [];
  const yes = (met) => (met === true ? '**yes**' : met === false ? '**no**' : 'n/a');
  const mb = (x) => (x === undefined ? '–' : `${Math.round(x)} MB`);
  const cores = (x, s) => (x === undefined ? '–' : `${x.toFixed(2)}${s?.cpuSeconds !== undefined ? ` (${s.cpuSeconds.toFixed(1)} s)` : ''}`);
  const range = (s) => `${fmtMs(s.minMs)}–${fmtMs(s.maxMs)}`;
  const M = results.machine ?? {};
  L.push(`Machine: ${M.cpus} × ${M.cpuModel}, ${M.memGiB} GiB; Node ${M.node}; sharp ${M.sharp} (libvips ${M.libvips}, ${M.sharpThreadsPerImage} thread per image); ${M.imagemagick}. 1-min load average ${M.loadAvgStart?.[0]} at start, ${M.loadAvgEnd?.[0]} at end (the machine is shared). Commit ${results.commit}.`);
  if (results.merged) L.push('', `Rows not re-run here (${Object.entries(results.rows).filter(([, v]) => v.mergedFrom).map(([k]) => k).join(', ')}) come from an earlier run of commit ${results.merged.commit} (1-min load ${results.merged.loadAvgStart?.[0]} → ${results.merged.loadAvgEnd?.[0]}).`);
  L.push('');
  L.push('| # | measurement | contender | median | min–max | CPU: cores busy (CPU s) | peak RSS | ratio | target | met |');
  L.push('|---|---|---|---|---|---|---|---|---|---|');
  const R = results.rows;
  if (R.startup) {
    const s = R.startup.contenders;
    L.push(`| 1 | start-up (${R.startup.runs} runs) | \`node -e 0\` (baseline) | ${fmtMs(s['node -e 0'].medianMs)} | ${range(s['node -e 0'])} | – | – | 1 | | |`);
    for (const k of ['iloveimg --version', 'iloveimg compress --help']) {
      L.push(`| 1 | | \`${k}\` | ${fmtMs(s[k].medianMs)} | ${range(s[k])} | – | – | ${R.startup.checks[k].value} | ≤ +40 ms | ${yes(R.startup.checks[k].met)} |`);
    }
  }
  if (R.throughput?.skipped) L.push(`| 2 | embedded engine throughput | – | – | – | – | – | – | – | ${R.throughput.skipped} |`);
  else if (R.throughput) {
    const t = R.throughput;
    for (const [wname, w] of Object.entries(t.workloads)) {
      const names = Object.keys(w.contenders);
      names.forEach((n, i) => {
        const s = w.contenders[n];
        const label = i === 0 ? `${wname}, ${w.files === t.files ? `${t.files} JPEGs (${t.megapixels} MP)` : `${w.files} JPEGs`}, ${t.runs} runs` : '';
        let ratio = i === 1 ? `1 (baseline; output bytes ${w.sameBytesAsSharp ? '=' : '≠'} iloveimg's)` : `${s.ratio}× sharp`;
        let target = '';
        let met = '';
        if (i === 0) {
          target = Object.keys(w.checks).join('; ');
          met = Object.values(w.checks).map((v) => yes(v.met)).join(' / ');
          if (w.iloveimgOverIm) ratio += `; ${w.iloveimgOverIm}× ImageMagick`;
          if (w.checks["output bytes ≤ ImageMagick's"]) ratio += `; bytes ${w.checks["output bytes ≤ ImageMagick's"].value}`;
        }
        const who = n === 'ImageMagick mogrify' ? `${n}: ${w.imNote}` : n;
        if (s.imOverThis) ratio += `; IM ÷ this = ${s.imOverThis}×`;
        L.push(`| 2 | ${label} | ${who} | ${fmtMs(s.medianMs)} | ${range(s)} | ${cores(s.cpuCores, s)} | ${mb(s.rssMbMax)} | ${ratio} | ${target} | ${met} |`);
      });
      if (w.imagemagick) L.push(`| 2 | | ImageMagick mogrify | ${w.imagemagick} | | | | | | |`);
    }
  }
  if (R.cloud?.skipped) L.push(`| 3 | cloud-like | – | – | – | – | – | – | – | ${R.cloud.skipped} |`);
  else if (R.cloud) {
    const c = R.cloud;
    const names = Object.keys(c.contenders);
    const a = c.contenders[names[0]];
    const b = c.contenders[names[1]];
    L.push(`| 3 | ${c.latencyMs} ms per request, ${c.files} small JPEGs, ${c.runs} runs | ${names[0]} | ${fmtMs(a.medianMs)} | ${range(a)} | ${cores(a.cpuCores, a)} | ${mb(a.rssMbMax)} | sequential ÷ iloveimg = ${c.speedup}× | ≥ 4× | ${yes(c.checks['sequential ÷ iloveimg ≥ 4'].met)} |`);
    L.push(`| 3 | | ${names[1]} (baseline) | ${fmtMs(b.medianMs)} | ${range(b)} | ${cores(b.cpuCores, b)} | ${mb(b.rssMbMax)} | 1 | | |`);
    const ns = Object.keys(c.scaling);
    ns.forEach((n, i) => {
      const s = c.scaling[n];
      const last = i === ns.length - 1;
      const key = Object.keys(c.checks).find((k) => k.startsWith('time per file'));
      L.push(`| 3 | ${i === 0 ? `scaling, iloveimg compress (runs with the ${c.latencyMs} ms proxy)` : ''} | ${n} files (${s.runsMs.length} runs) | ${fmtMs(s.medianMs)} | ${range(s)} | ${cores(s.cpuCores, s)} | ${mb(s.rssMbMax)} | ${s.perFileMs} ms/file | ${last ? 'linear (≤ 1.1× per file)' : ''} | ${last ? `${c.checks[key].value} ${yes(c.checks[key].met)}` : ''} |`);
    });
  }
  if (R.cloud?.passthrough) {
    const pt = R.cloud.passthrough;
    const [na, nb] = Object.keys(pt.contenders);
    const a = pt.contenders[na];
    const b = pt.contenders[nb];
    L.push(`| 3 | diagnostic: same, engine compress replaced by a pass-through (server CPU ≈ 0), ${pt.runs} runs | ${na} | ${fmtMs(a.medianMs)} | ${range(a)} | ${cores(a.cpuCores, a)} | ${mb(a.rssMbMax)} | sequential ÷ iloveimg = ${pt.speedup}× | (not a target) | |`);
    L.push(`| 3 | | ${nb} | ${fmtMs(b.medianMs)} | ${range(b)} | ${cores(b.cpuCores, b)} | ${mb(b.rssMbMax)} | 1 | | |`);
  }
  if (R.memory?.skipped) L.push(`| 4 | memory | – | – | – | – | – | – | – | ${R.memory.skipped} |`);
  else if (R.memory) {
    const m = R.memory;
    for (const [k, s] of Object.entries(m.measurements)) {
      L.push(`| 4 | peak RSS | ${k} (${s.runsMs.length} runs) | ${fmtMs(s.medianMs)} | ${range(s)} | ${cores(s.cpuCores, s)} | ${mb(s.rssMbMax)} | | < 200 MB | ${yes((s.rssMbMax ?? Infinity) < 200)} |`);
    }
    for (const [k, v] of Object.entries(m.checks)) if (!k.startsWith('peak')) L.push(`| 4 | ${k} | | | | | | ${v.value} | flat | ${yes(v.met)} |`);
  }
  L.push('');
  if (R.compression?.skipped) L.push(`Row 5 (compression): ${R.compression.skipped}`);
  else if (R.compression) {
    const c = R.compression;
    L.push(`Row 5, compression: ${c.photos} ${c.inputs ?? 'photos'}, ${c.inputBytes.toLocaleString('en-US')} bytes in; quality = luma block-SSIM (8×8) and PSNR against the original`);
    L.push('');
    L.push(`| encoder | output bytes | % of input | bytes saved | mean SSIM | mean PSNR-Y | originals kept | bytes / mean SSIM on the ${c.commonFiles} files all re-encoded |`);
    L.push('|---|---|---|---|---|---|---|---|');
    for (const [k, e] of Object.entries(c.encoders)) {
      L.push(`| ${k} | ${e.outputBytes.toLocaleString('en-US')} | ${e.percentOfInput} % | ${e.savedBytes.toLocaleString('en-US')} | ${e.meanSsim} | ${e.meanPsnrDb} dB | ${e.keptOriginals} | ${e.bytesCommon.toLocaleString('en-US')} / ${e.meanSsimCommon} |`);
    }
    if (c.imagemagick) L.push(`| ImageMagick -quality 75 | ${c.imagemagick} | | | | | |`);
    for (const [k, v] of Object.entries(c.checks)) L.push('', `Target (row 5): ${k}: ${v.value} → ${yes(v.met)}`);
    if (c.frontier) L.push('', frontierMarkdown(c.frontier));
  }
  const G = goals();
  if (G.length) {
    L.push('', 'Goals (issue 15), from the rows above:', '', '| measure | measured | goal | met |', '|---|---|---|---|');
    for (const g of G) L.push(`| ${g.measure} | ${g.value} | ${g.goal} | ${yes(g.met)} |`);
  }
  return L.join('\n');
}

/** The goals table: one line per goal, with the figure it was judged on. */
function goals() {
  const G = [];
  const R = results.rows;
  const add = (measure, goal, value, met) => G.push({ measure, goal, value, met });
  const w = R.throughput?.workloads ?? {};
  const resize = w['resize 50 %'];
  if (resize) add(`embedded resize 50 %, ${R.throughput.files} photos`, '≤ 1.10× plain sharp', `${resize.contenders['iloveimg (embedded engine)'].ratio}×`, resize.checks['iloveimg ÷ plain sharp ≤ 1.1']?.met);
  const small = Object.entries(w).find(([k]) => k.includes('small files'));
  if (small) add(`embedded resize 50 %, ${small[1].files} small files`, '≤ 1.30× plain sharp', `${small[1].contenders['iloveimg (embedded engine)'].ratio}×`, small[1].checks['iloveimg ÷ plain sharp ≤ 1.3']?.met);
  const comp = w.compress;
  if (comp) {
    const t = comp.checks['iloveimg ÷ ImageMagick ≤ 1.5 (wall)'];
    const b = comp.checks["output bytes ≤ ImageMagick's"];
    const q = R.compression?.encoders;
    const rec = q?.['iloveimg compress -l recommended'];
    const imq = q?.['ImageMagick -quality 75'];
    const ssimMet = rec && imq ? rec.meanSsim >= imq.meanSsim : null;
    add(
      `compress recommended, ${R.throughput.files} photos`,
      '≤ 1.5× ImageMagick -quality 75 (wall), bytes ≤ its, SSIM ≥ its',
      `${t?.value ?? 'n/a'} wall; bytes ${b?.value ?? 'n/a'}; SSIM ${rec?.meanSsim ?? 'n/a'} vs ${imq?.meanSsim ?? 'n/a'} (row 5 photos)`,
      t?.met == null || b?.met == null || ssimMet == null ? null : t.met && b.met && ssimMet,
    );
  }
  const f = R.compression?.frontier;
  if (f) {
    for (const level of ['extreme', 'low']) {
      const r = f.rows.find((x) => x.level === level);
      if (r) add(`compress ${level}: its JPEG setting`, 'on the bytes–SSIM frontier of the settings tried (row 5)', `${r.name}: ${r.percent.toFixed(1)} % of input, SSIM ${r.ssim.toFixed(4)}`, r.onSizeFrontier);
    }
  }
  if (R.startup) {
    for (const k of ['iloveimg compress --help', 'iloveimg --version']) add(`start-up \`${k.replace('iloveimg ', '')}\``, '≤ node + 40 ms', R.startup.checks[k].value, R.startup.checks[k].met);
  }
  if (R.memory?.checks) {
    for (const [k, v] of Object.entries(R.memory.checks)) add(`memory: ${k.replace(/ ≤ 1.25$/, '')}`, k.startsWith('peak') ? '< 200 MB' : '≤ 1.25×', v.value, v.met);
  }
  return G;
}

// ---------------------------------------------------------------------------------------------------

let exitCode = 0;
let interrupted;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = sig;
    killChildren();
  });
}
try {
  if (!existsSync(path.join(ROOT, 'dist', 'server', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm run bench does)');
  const im = ROWS.has(2) || ROWS.has(5) ? findMagick() : { missing: 'not needed' };
  const { default: sharp } = await import('sharp');
  const git = (a) => spawnSync('git', ['-C', ROOT, ...a], { encoding: 'utf8' }).stdout?.trim();
  results.machine = {
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memGiB: round(os.totalmem() / 1024 ** 3, 1),
    loadAvgStart: os.loadavg().map((x) => round(x, 2)),
    sharp: sharp.versions?.sharp,
    libvips: sharp.versions?.vips,
    sharpThreadsPerImage: sharp.concurrency(),
    imagemagick: im.version ?? im.missing,
    rusage: TIME ? 'GNU time (/usr/bin/time -f "%U %S %M"): user+sys CPU and ru_maxrss of the child' : 'not available (no /usr/bin/time)',
  };
  results.commit = `${git(['rev-parse', '--short', 'HEAD'])}${git(['status', '--porcelain', '--untracked-files=no']) ? ' (with uncommitted changes)' : ''}`;
  // --merge FILE: keep that run's other rows, so that one row can be measured again (the table says so).
  if (val('--merge')) {
    const prev = JSON.parse(readFileSync(val('--merge'), 'utf8'));
    for (const [k, v] of Object.entries(prev.rows ?? {})) results.rows[k] ??= { ...v, mergedFrom: prev.commit };
    results.merged = { from: val('--merge'), commit: prev.commit, loadAvgStart: prev.machine?.loadAvgStart, loadAvgEnd: prev.machine?.loadAvgEnd };
    if (im.missing === 'not needed' && prev.machine?.imagemagick) results.machine.imagemagick = prev.machine.imagemagick;
  }
  results.mode = SMOKE ? 'smoke' : 'full';
  results.config = CFG;
  log(`${SMOKE ? 'smoke' : 'full'} run, rows ${[...ROWS].join(',')}; temp dir ${TMP}; ImageMagick: ${im.version ?? im.missing}`);

  if (ROWS.has(1)) await rowStartup();
  if (ROWS.has(2)) await rowThroughput(im);
  if (ROWS.has(3)) await rowCloud();
  if (ROWS.has(4)) await rowMemory();
  if (ROWS.has(5)) await rowCompression(im);
} catch (err) {
  exitCode = 1;
  results.error = err.stack ?? String(err);
  log(`FAILED: ${err.stack ?? err}`);
} finally {
  killChildren();
  if (interrupted) results.interrupted = interrupted;
  results.machine && (results.machine.loadAvgEnd = os.loadavg().map((x) => round(x, 2)));
  results.durationSeconds = round((Date.now() - started) / 1000, 1);
  results.finishedAt = new Date().toISOString();
  const table = markdown();
  results.goals = goals();
  results.markdown = table;
  const outFile = val('--out') ?? (SMOKE ? path.join(TMP, '..', `iloveimg-bench-smoke-${process.pid}.json`) : path.join(ROOT, 'bench', 'results', 'latest.json'));
  await mkdir(path.dirname(outFile), { recursive: true });
  await writeFile(outFile, JSON.stringify(results, null, 1) + '\n');
  process.stdout.write(`${table}\n\nTotal bench time: ${results.durationSeconds} s (${results.mode}). Results: ${path.relative(process.cwd(), outFile) || outFile}\n`);
  if (!has('--keep')) await rm(TMP, { recursive: true, force: true });
  else log(`kept ${TMP}`);
}
process.exit(exitCode);
