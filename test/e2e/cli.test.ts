/**
 * The complete CLI against a standing engine on 127.0.0.1: inputs and outputs, pipelines, tasks,
 * stdin/stdout, URLs, async runs, dry runs. Real bytes are checked with sharp; what reached the
 * server is read from the engine's request log.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORPUS, fixture, runCli, startEngine, tempDir } from '../helpers/cli.js';
import { runInProcess } from '../helpers/inproc.js';

let engine: Awaited<ReturnType<typeof startEngine>>;
beforeAll(async () => {
  engine = await startEngine({ limits: { allowPrivateUrls: true } });
});
afterAll(() => engine.server.close());

const cli = (argv: string[], cwd: string, stdin?: Buffer) => runInProcess(argv, { cwd, env: engine.env, stdin });

describe('inputs and outputs', () => {
  it('mirrors a nested **/*.jpg tree into -o and leaves the inputs alone', async () => {
    const dir = await tempDir();
    await fixture(dir, {
      'photos/a.jpg': 'exif-orient6-iphone4s-205x102.jpg',
      'photos/2024/b.jpg': 'cmyk-video-001-150x103.jpg',
      'photos/2024/deep/c.jpg': 'icc-adobergb-rocket-640x427.jpg',
      'photos/2024/notes.txt': 'broken-not-an-image.png',
    });
    const res = await cli(['compress', 'photos/**/*.jpg', '-o', 'out', '--json'], dir);
    expect(res.code, res.stderr).toBe(0);
    const doc = JSON.parse(res.stdout);
    expect(doc.files.map((f: { output: string }) => f.output).sort()).toEqual(['out/2024/b.jpg', 'out/2024/deep/c.jpg', 'out/a.jpg']);
    for (const f of ['out/a.jpg', 'out/2024/b.jpg', 'out/2024/deep/c.jpg']) expect((await sharp(path.join(dir, f)).metadata()).format).toBe('jpeg');
    expect(await readFile(path.join(dir, 'photos/2024/deep/c.jpg'))).toEqual(await readFile(path.join(CORPUS, 'icc-adobergb-rocket-640x427.jpg')));
  });

  it('catches two inputs mapping to one output before any upload', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a/x.jpg': 'exif-orient6-iphone4s-205x102.jpg', 'b/x.jpg': 'cmyk-video-001-150x103.jpg' });
    const before = engine.server.log.length;
    const res = await cli(['compress', 'a/x.jpg', 'b/x.jpg', '-o', 'out', '--flat'], dir);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/a\/x\.jpg and b\/x\.jpg would both be written to out\/x\.jpg/);
    expect(engine.server.log.length).toBe(before);
  });

  it('replaces inputs only with --in-place, atomically', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'p.jpg': 'photo-storm-1920x1280.jpg' });
    const original = await readFile(path.join(dir, 'p.jpg'));
    const res = await cli(['compress', 'p.jpg', '--in-place'], dir);
    expect(res.code, res.stderr).toBe(0);
    const now = await readFile(path.join(dir, 'p.jpg'));
    expect(now.length).toBeLessThan(original.length);
    expect((await sharp(now).metadata()).width).toBe(1920);
    expect(await readdir(dir)).toEqual(['p.jpg']);
  });

  it('keeps the original when compress cannot save enough (--min-savings)', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'p.jpg': 'photo-storm-1920x1280.jpg' });
    const res = await cli(['compress', 'p.jpg', '-o', 'out', '--min-savings', '99%', '--json'], dir);
    expect(res.code, res.stderr).toBe(0);
    const [f] = JSON.parse(res.stdout).files;
    expect(f.status).toBe('skipped');
    expect(f.note).toMatch(/kept the original/);
    expect(await readFile(path.join(dir, 'out/p.jpg'))).toEqual(await readFile(path.join(dir, 'p.jpg')));
  });

  it('reads one image on stdin and writes the result to stdout', async () => {
    const dir = await tempDir();
    const input = await readFile(path.join(CORPUS, 'png-photo-coffee-600x400.png'));
    const res = await runCli(['resize', '-', '-p', '50'], { cwd: dir, env: engine.env, input });
    expect(res.code, res.stderr).toBe(0);
    const meta = await sharp(res.stdoutBytes).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 300, 200]);
    expect(await readdir(dir)).toEqual([]);
  });

  it('sends an http(s) URL as cloud_file instead of downloading it', async () => {
    const dir = await tempDir();
    const image = await readFile(path.join(CORPUS, 'exif-orient6-iphone4s-205x102.jpg'));
    let hits = 0;
    const origin = http.createServer((_req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.end(image);
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/pics/remote.jpg`;
      const uploads = engine.count('/v1/upload');
      const res = await cli(['rotate', url, '--rotate', '180', '-o', 'out'], dir);
      expect(res.code, res.stderr).toBe(0);
      expect(hits).toBe(1); // fetched once, by the engine
      expect(engine.count('/v1/upload') - uploads).toBe(1);
      const meta = await sharp(path.join(dir, 'out/remote.jpg')).metadata();
      expect([meta.width, meta.height]).toEqual([102, 205]);
    } finally {
      origin.close();
    }
  });

  it("uses the profile's output directory and concurrency when no flag says otherwise", async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.jpg': 'exif-orient6-iphone4s-205x102.jpg' });
    const env = { ILOVEIMG_CONFIG_DIR: path.join(dir, 'cfg') };
    const keys = ['--api-url', engine.env.ILOVEIMG_API_URL, '--public-key', engine.env.ILOVEIMG_PUBLIC_KEY, '--secret-key', engine.env.ILOVEIMG_SECRET_KEY];
    expect((await runInProcess(['login', '--no-verify', ...keys], { cwd: dir, env })).code).toBe(0);
    expect((await runInProcess(['config', 'set', 'output_dir', 'from-profile'], { cwd: dir, env })).code).toBe(0);
    const res = await runInProcess(['compress', 'a.jpg', '--json'], { cwd: dir, env });
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout).files[0].output).toBe('from-profile/a.jpg');
    const flagWins = await runInProcess(['compress', 'a.jpg', '-o', 'flag-out', '--json'], { cwd: dir, env });
    expect(JSON.parse(flagWins.stdout).files[0].output).toBe('flag-out/a.jpg');
  });

  it('--dry-run shows the plan and sends nothing', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.jpg': 'exif-orient6-iphone4s-205x102.jpg', 'b.png': 'gray-camera-512.png' });
    const before = engine.server.log.length;
    const res = await cli(['convert', '*.{jpg,png}', '--to', 'gif', '-o', 'gifs', '--dry-run', '--json'], dir);
    expect(res.code, res.stderr).toBe(0);
    const doc = JSON.parse(res.stdout);
    expect(doc.dryRun).toBe(true);
    expect(doc.files.map((f: { output: string }) => f.output).sort()).toEqual(['gifs/a.gif', 'gifs/b.gif']);
    expect(engine.server.log.length).toBe(before);
    expect(await readdir(dir)).not.toContain('gifs');
  });
});

describe('pipelines', () => {
  it('resize --then compress --then watermark uploads each file once and gives the right pixels', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.jpg': 'photo-storm-1920x1280.jpg', 'b.png': 'png-photo-coffee-600x400.png' });
    const uploads = engine.count('/v1/upload');
    const nexts = engine.count('/v1/task/next');
    const res = await cli(
      ['resize', 'a.jpg', 'b.png', '-p', '50', '--then', 'compress -l low', '--then', "watermark --text '■■■■' --font-size 60 --font-color #ff0000 --gravity NorthWest", '-o', 'out', '-j', '1', '--json'],
      dir,
    );
    expect(res.code, res.stderr).toBe(0);
    const doc = JSON.parse(res.stdout);
    expect(doc.steps).toEqual(['resize', 'compress', 'watermark']);
    expect(engine.count('/v1/upload') - uploads).toBe(2);
    expect(engine.count('/v1/task/next') - nexts).toBe(2);
    const a = sharp(path.join(dir, 'out/a.jpg'));
    expect(((await a.metadata()).width)).toBe(960);
    expect((await sharp(path.join(dir, 'out/b.png')).metadata()).width).toBe(300);
    // The red text sits in the top-left corner; the bottom-right stays the photo.
    const { data, info } = await a.raw().toBuffer({ resolveWithObject: true });
    let red = 0;
    for (let y = 0; y < 120; y++) {
      for (let x = 0; x < 300; x++) {
        const i = (y * info.width + x) * info.channels;
        if (data[i] > 180 && data[i + 1] < 80 && data[i + 2] < 80) red++;
      }
    }
    expect(red).toBeGreaterThan(200);
  });

  it('chain runs the same steps from a list', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.png': 'png-photo-coffee-600x400.png' });
    const res = await runCli(['chain', '-o', 'out', 'crop --width 100 --height 80 --x 10 --y 10', 'convert --to jpg', '--', 'a.png'], { cwd: dir, env: engine.env });
    expect(res.code, res.stderr).toBe(0);
    const meta = await sharp(path.join(dir, 'out/a.jpg')).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 100, 80]);
    await writeFile(path.join(dir, 'pipe.json'), JSON.stringify({ steps: [{ tool: 'resize', params: { pixels_width: 50, no_enlarge_if_smaller: true } }, 'rotate --rotate 90'] }));
    const res2 = await runCli(['chain', '--file', 'pipe.json', '-o', 'out2', 'a.png'], { cwd: dir, env: engine.env });
    expect(res2.code, res2.stderr).toBe(0);
    const m2 = await sharp(path.join(dir, 'out2/a.png')).metadata();
    expect([m2.width, m2.height]).toEqual([33, 50]);
  });
});

describe('tasks', () => {
  it('lists, shows, downloads and deletes tasks made by earlier commands', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.jpg': 'exif-orient6-iphone4s-205x102.jpg', 'b.jpg': 'cmyk-video-001-150x103.jpg' });
    const made = await cli(['compress', 'a.jpg', 'b.jpg', '-o', 'out', '-j', '1', '--custom-int', '4242', '--json'], dir);
    expect(made.code, made.stderr).toBe(0);
    const task = JSON.parse(made.stdout).tasks[0].task as string;

    const list = await cli(['tasks', 'list', '--custom-int', '4242', '--json'], dir);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).map((t: { task: string }) => t.task)).toContain(task);

    const show = await cli(['tasks', 'show', task, '--json'], dir);
    expect(JSON.parse(show.stdout)).toMatchObject({ task, tool: 'compressimage', status: 'TaskSuccess' });

    const human = await cli(['tasks', 'show', task], dir);
    expect(human.stdout).toMatch(/status\s+TaskSuccess/);

    const dl = await cli(['tasks', 'download', task, '-o', 'again'], dir);
    expect(dl.code, dl.stderr).toBe(0);
    const got = (await readdir(path.join(dir, 'again'))).sort();
    expect(got).toHaveLength(2);
    for (const f of got) expect((await sharp(path.join(dir, 'again', f)).metadata()).format).toBe('jpeg');

    const del = await cli(['tasks', 'delete', task], dir);
    expect(del.code, del.stderr).toBe(0);
    const gone = await cli(['tasks', 'show', task], dir);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/not found|TaskNotFound/i);
  });

  it('--no-wait queues the task; tasks wait and tasks download fetch it later', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.png': 'gray-camera-512.png' });
    const res = await cli(['resize', 'a.png', '-w', '100', '--no-wait', '--json'], dir);
    expect(res.code, res.stderr).toBe(0);
    const task = JSON.parse(res.stdout).tasks[0].task as string;
    expect(await readdir(dir)).toEqual(['a.png']);
    const wait = await cli(['tasks', 'wait', task, '--json'], dir);
    expect(wait.code, wait.stderr).toBe(0);
    expect(JSON.parse(wait.stdout).status).toBe('TaskSuccess');
    const dl = await cli(['tasks', 'download', task, '-o', 'later'], dir);
    expect(dl.code, dl.stderr).toBe(0);
    const [file] = await readdir(path.join(dir, 'later'));
    expect((await sharp(path.join(dir, 'later', file)).metadata()).width).toBe(100);
  });

  it('refuses tasks commands on the throwaway embedded engine', async () => {
    const dir = await tempDir();
    await mkdir(dir, { recursive: true });
    const res = await runInProcess(['tasks', 'list'], { cwd: dir, env: {} });
    expect(res.code).toBe(4);
    expect(res.stderr).toMatch(/outlives this command/);
  });
});
