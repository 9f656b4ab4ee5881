/**
 * Issue #12, "pipes, flags, scripts" (items 17–21, 23): stdin/stdout rules, --no-wait's task id on
 * stdout, --fail-fast before upload, conflicting flags, a stale api_url, suggestions, tasks list, and
 * output naming (--suffix, --name, --keep-dates).
 */
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORPUS, fixture, runCli, startEngine, tempDir } from '../helpers/cli.js';
import { runInTerminal } from '../helpers/terminal.js';
import { readFile } from 'node:fs/promises';

let engine: Awaited<ReturnType<typeof startEngine>>;
beforeAll(async () => {
  engine = await startEngine();
});
afterAll(() => engine.server.close());

describe('stdin and stdout (item 17)', () => {
  it('refuses image bytes to a terminal, and `-` with a terminal stdin, at once', async () => {
    const dir = await tempDir();
    const toTty = await runInTerminal(['resize', '-', '-p', '10'], { cwd: dir, stdinFile: path.join(CORPUS, 'photo-storm-1920x1280.jpg') });
    expect(toTty.code).toBe(2);
    expect(toTty.rows.join('\n')).toContain('error: refusing to write image bytes to a terminal');
    expect(toTty.raw).not.toContain('\xff\xd8');
    const ttyIn = await runInTerminal(['resize', '-', '-p', '10', '-O', 'x.jpg'], { cwd: dir });
    expect(ttyIn.code).toBe(2);
    expect(ttyIn.rows.join('\n')).toContain('error: `-` reads an image from standard input, but standard input is a terminal');
  });

  it('`- -o dir/` writes dir/stdin.EXT; `- -O f.jpg --json` is one JSON document', async () => {
    const dir = await tempDir();
    const input = await readFile(path.join(CORPUS, 'photo-storm-1920x1280.jpg'));
    const toDir = await runCli(['resize', '-', '-p', '10', '-o', 'd/'], { cwd: dir, input });
    expect(toDir.code, toDir.stderr).toBe(0);
    expect(toDir.stdoutBytes.length).toBe(0);
    expect((await sharp(path.join(dir, 'd/stdin.jpg')).metadata()).width).toBe(192);
    const json = await runCli(['resize', '-', '-p', '10', '-O', 'f.jpg', '--json'], { cwd: dir, input });
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout).files[0]).toMatchObject({ status: 'ok', output: 'f.jpg' });
    expect((await sharp(path.join(dir, 'f.jpg')).metadata()).width).toBe(192);
  });
});

describe('scripts (items 18, 19)', () => {
  it('--no-wait prints the task id on stdout', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.png': 'alpha-yellow-rose-400x301.png' });
    const res = await runCli(['resize', 'a.png', '-w', '100', '--no-wait'], { cwd: dir, env: engine.env });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^[A-Za-z0-9_-]{8,}\n$/);
    expect(res.stderr).toContain(`queued task ${res.stdout.trim()}`);
  });

  it('--fail-fast stops before the first upload when an input check fails', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.jpg': 'photo-storm-1920x1280.jpg' });
    const before = engine.count('/v1/upload');
    const res = await runCli(['compress', 'missing.jpg', 'a.jpg', '-o', 'out', '--fail-fast'], { cwd: dir, env: engine.env });
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/^- a\.jpg: skipped \(not started \(--fail-fast\)\)$/m);
    expect(engine.count('/v1/upload')).toBe(before);
  });

  it.each([
    [['--json', '--ndjson'], '--json and --ndjson cannot be used together'],
    [['-q', '-v'], '-q/--quiet and -v/--verbose cannot be used together'],
    [['--flat'], '--flat needs -o/--output-dir'],
    [['--resume'], '--resume needs -o/--output-dir'],
  ])('%j is a usage error', async (flags, message) => {
    const dir = await tempDir();
    await fixture(dir, { 'a.jpg': 'photo-storm-1920x1280.jpg' });
    const res = await runCli(['compress', 'a.jpg', ...flags], { cwd: dir });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`error: ${message}`);
    expect(await readdir(dir)).not.toContain('a-compressed.jpg');
  });
});

describe('a stale api_url (item 20)', () => {
  it('after logout (a profile with only api_url) and with ILOVEIMG_API_URL alone: the embedded engine runs, and says why', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.jpg': 'photo-storm-1920x1280.jpg' });
    const cfg = path.join(dir, 'cfg');
    await mkdir(cfg);
    await writeFile(path.join(cfg, 'config.json'), JSON.stringify({ profiles: { default: { apiUrl: 'http://127.0.0.1:9' } } }));
    const res = await runCli(['compress', 'a.jpg', '-o', 'p/'], { cwd: dir, env: { ILOVEIMG_CONFIG_DIR: cfg } });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/warning: api_url http:\/\/127\.0\.0\.1:9 \(from the profile 'default' .*\) is not used: no keys are configured, so the embedded engine runs\. Run `iloveimg login` to use that server, or `iloveimg config unset api_url`\./);
    const env = await runCli(['compress', 'a.jpg', '-o', 'e/'], { cwd: dir, env: { ILOVEIMG_API_URL: 'http://127.0.0.1:9' } });
    expect(env.code, env.stderr).toBe(0);
    expect(env.stderr).toContain('(from ILOVEIMG_API_URL) is not used');
    const half = await runCli(['compress', 'a.jpg', '-o', 'h/'], { cwd: dir, env: { ILOVEIMG_API_URL: 'http://127.0.0.1:9', ILOVEIMG_PUBLIC_KEY: 'project_public_x' } });
    expect(half.code).toBe(4);
    expect(half.stderr).toContain('the secret key is missing (the public key comes from ILOVEIMG_PUBLIC_KEY)');
  });
});

describe('names and suggestions (item 21)', () => {
  it('help compres and --then compres suggest compress (exit 2); tool lists include removebackground', async () => {
    const dir = await tempDir();
    const help = await runCli(['help', 'compres'], { cwd: dir });
    expect(help.code).toBe(2);
    expect(help.stderr).toContain("error: unknown command 'compres'; did you mean compress?");
    await fixture(dir, { 'a.jpg': 'photo-storm-1920x1280.jpg' });
    const then = await runCli(['resize', 'a.jpg', '-w', '10', '--then', 'compres'], { cwd: dir });
    expect(then.code).toBe(2);
    expect(then.stderr).toContain('did you mean compress?');
    expect(then.stderr).toContain('removebackground');
  });

  it('tasks list --tool resize is accepted; on a terminal it has a header and a correct plural', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.png': 'alpha-yellow-rose-400x301.png' });
    expect((await runCli(['resize', 'a.png', '-w', '100', '-o', 'o/'], { cwd: dir, env: engine.env })).code).toBe(0);
    const res = await runCli(['tasks', 'list', '--tool', 'resize', '--json'], { cwd: dir, env: engine.env });
    expect(res.code, res.stderr).toBe(0);
    const list = JSON.parse(res.stdout) as { tool: string }[];
    expect(list.length).toBeGreaterThan(0);
    expect(list.every((t) => t.tool === 'resizeimage')).toBe(true);
    const tty = await runInTerminal(['tasks', 'list', '--tool', 'resize'], { cwd: dir, env: engine.env, cols: 160 });
    expect(tty.code).toBe(0);
    expect(tty.rows[0]).toMatch(/^TASK\s+TOOL\s+STATUS\s+FILES\s+STARTED$/);
    expect(tty.rows.slice(1).some((r) => / 1 file {2}/.test(r))).toBe(true);
    expect(tty.rows.join('\n')).not.toContain(' 1 files');
  });
});

describe('output names (item 23)', () => {
  it('--suffix, --name with {name} {ext} {tool} {n}, and --keep-dates', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.jpg': 'photo-storm-1920x1280.jpg', 'b.jpg': 'icc-adobergb-rocket-640x427.jpg' });
    const old = new Date('2020-01-02T03:04:05Z');
    await utimes(path.join(dir, 'a.jpg'), old, old);
    expect((await runCli(['compress', 'a.jpg', '--suffix', 'small'], { cwd: dir })).code).toBe(0);
    const named = await runCli(['compress', 'a.jpg', 'b.jpg', '-o', 'out', '--name', '{name}-{n}.{tool}.min.{ext}', '--keep-dates'], { cwd: dir });
    expect(named.code, named.stderr).toBe(0);
    expect((await readdir(path.join(dir, 'out'))).filter((f) => !f.startsWith('.')).sort()).toEqual(['a-1.compress.min.jpg', 'b-2.compress.min.jpg']);
    expect((await stat(path.join(dir, 'out/a-1.compress.min.jpg'))).mtime.toISOString()).toBe(old.toISOString());
    expect(await readdir(dir)).toContain('a-small.jpg');
    const bad = await runCli(['compress', 'a.jpg', '--name', '{stem}.jpg'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--name: unknown placeholder {stem}');
  });
});
