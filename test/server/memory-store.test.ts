/**
 * The embedded engine's memory pool (src/server/memory.ts): uploads, outputs and zips held in memory
 * give the same result bytes and dimensions as the on-disk store, write no task file, and spill to
 * disk once the pool is full, taking the pool's bytes back when a task is deleted.
 */
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { unzipSync } from 'fflate';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IloveimgClient } from '../../src/api/client.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { tempDir } from '../helpers/cli.js';
import { fixture } from '../helpers/fixtures.js';

const STORM = fixture('photo-storm-1920x1280.jpg'); // 695 KB
const WOOD = fixture('photo-wood-2560x1920.jpg'); // 526 KB
const COFFEE = fixture('png-photo-coffee-600x400.png'); // 467 KB

let dir: string;
let disk: RunningServer;
let memory: RunningServer;
let small: RunningServer;

beforeAll(async () => {
  dir = await tempDir();
  disk = await startServer({ host: '127.0.0.1', port: 0 });
  memory = await startServer({ host: '127.0.0.1', port: 0, dataDir: path.join(dir, 'memory'), keepTasks: false, memoryBytes: 256 * 1024 * 1024 });
  // Room for the storm photo, not for the wood photo beside it.
  small = await startServer({ host: '127.0.0.1', port: 0, dataDir: path.join(dir, 'small'), keepTasks: false, memoryBytes: 800_000 });
});
afterAll(async () => {
  await Promise.all([disk, memory, small].map((s) => s?.close()));
  await rm(dir, { recursive: true, force: true });
});

function client(srv: RunningServer): IloveimgClient {
  const [pair] = srv.projects;
  return new IloveimgClient({ apiUrl: srv.url, credentials: pair, retry: { retries: 0 }, dispatch: srv.dispatch });
}

/** The files (not directories) under a task's directory. */
async function filesOf(srv: RunningServer, task: string): Promise<string[]> {
  const root = path.join(dir, srv === memory ? 'memory' : 'small', task);
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => e.name);
}

/** Resizes `files` by half in one task (deleted after): the outputs in order; `onUploaded` sees the task before and after processing. */
async function resize(srv: RunningServer, files: string[], onUploaded?: (task: string) => Promise<void>): Promise<Buffer[]> {
  const api = client(srv);
  const ref = await api.start('resizeimage');
  const uploaded = [];
  for (const file of files) uploaded.push({ server_filename: (await api.upload(ref, { path: file, filename: path.basename(file) })).server_filename, filename: path.basename(file) });
  await onUploaded?.(ref.task);
  await api.process(ref, { files: uploaded, resize_mode: 'percentage', percentage: 50 });
  const dest = path.join(dir, `${ref.task}.zip`);
  await api.download(ref, dest);
  if (srv !== disk) await onUploaded?.(ref.task);
  await api.deleteTask(ref);
  if (files.length === 1) return [await readFile(dest)];
  const zip = unzipSync(await readFile(dest));
  return files.map((f) => Buffer.from(zip[path.basename(f)]));
}

async function dims(bytes: Buffer[]): Promise<number[][]> {
  return Promise.all(bytes.map(async (b) => (({ width, height }) => [width!, height!])(await sharp(b).metadata())));
}

describe('the embedded engine holding task files in memory', () => {
  it('gives the on-disk store’s bytes and dimensions and writes no task file', async () => {
    const onDisk = await resize(disk, [STORM, COFFEE]);
    const held = await resize(memory, [STORM, COFFEE], async (task) => expect(await filesOf(memory, task)).toEqual([]));
    for (const [i, bytes] of held.entries()) expect(bytes.equals(onDisk[i])).toBe(true);
    expect(await dims(held)).toEqual([[960, 640], [300, 200]]);
  });

  it('spills to disk above its budget, with the same results, and takes the bytes back on delete', async () => {
    const onDisk = await resize(disk, [STORM, WOOD]);
    const seen: string[][] = [];
    const spilled = await resize(small, [STORM, WOOD], async (task) => void seen.push(await filesOf(small, task)));
    // After the uploads: the storm photo held, the wood photo on disk; after processing, outputs too.
    expect(seen[0]).toHaveLength(1);
    expect(seen[1].length).toBeGreaterThanOrEqual(1);
    for (const [i, bytes] of spilled.entries()) expect(bytes.equals(onDisk[i])).toBe(true);
    expect(await dims(spilled)).toEqual([[960, 640], [1280, 960]]);
    // The deleted task gave its bytes back: the storm photo is held in memory again.
    const again: string[][] = [];
    await resize(small, [STORM], async (task) => void again.push(await filesOf(small, task)));
    expect(again[0]).toEqual([]);
  });
});
