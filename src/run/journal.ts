/**
 * The run journal: one JSON line per finished file, appended as soon as the file is written, in
 * `.iloveimg-journal.ndjson` of the output directory. It lets a later run skip work already done:
 *
 * - `--resume`: an input whose path, size and modification time match a journal line written with the
 *   same pipeline, and whose output is still there with the recorded size, is skipped. This is how an
 *   interrupted batch continues without sending a finished file again.
 * - `--skip-unchanged`: the same, matched by the input's content hash instead of its path and time,
 *   so renamed or touched-but-identical inputs are skipped too.
 *
 * The journal is written whenever there is an output directory (`-o`), or when either flag is given.
 * A line that does not parse is ignored: the journal can only make a run skip work, never lose any.
 */
import { createHash } from 'node:crypto';
import { appendFile, mkdir, open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { PipelineStep } from './model.js';
import type { InputItem } from './inputs.js';

export const JOURNAL_FILE = '.iloveimg-journal.ndjson';

export interface JournalLine {
  /** The pipeline's signature: tools and parameters. */
  sig: string;
  input: string;
  size: number;
  mtimeMs: number;
  sha256: string;
  output: string;
  outputBytes: number;
  at: string;
}

export function pipelineSignature(steps: PipelineStep[]): string {
  const canonical = steps.map((s) => ({ tool: s.tool, params: sortKeys(s.params), file: sortKeys(s.fileParams) }));
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 16);
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b)));
}

// Read buffers of hashFile, kept for the next call. A read stream would allocate a new 64 kB buffer for
// every read: a 1 GiB input left 30 MB of them to the garbage collector at a time, the client's peak
// memory (docs/performance.md, "Memory"). At most one buffer per hash in flight is ever allocated.
const spareBuffers: Buffer[] = [];

/** Files up to this size are hashed from one read: a stream costs more than the hash on small files. */
const ONE_READ_BYTES = 4 * 1024 * 1024;

export async function hashFile(file: string, size?: number): Promise<string> {
  if (size !== undefined && size <= ONE_READ_BYTES) return createHash('sha256').update(await readFile(file)).digest('hex');
  const h = createHash('sha256');
  const buf = spareBuffers.pop() ?? Buffer.allocUnsafeSlow(64 * 1024);
  const fh = await open(file, 'r').catch((e: unknown) => {
    spareBuffers.push(buf);
    throw e;
  });
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    spareBuffers.push(buf);
    await fh.close();
  }
  return h.digest('hex');
}

export class Journal {
  private constructor(
    readonly file: string,
    private readonly lines: JournalLine[],
    readonly sig: string,
  ) {}

  /** The journal's directory, made once per run. */
  private dirMade?: Promise<unknown>;

  static async open(dir: string, sig: string): Promise<Journal> {
    const file = path.join(dir, JOURNAL_FILE);
    const text = await readFile(file, 'utf8').catch(() => '');
    const lines: JournalLine[] = [];
    for (const raw of text.split('\n')) {
      if (!raw.trim()) continue;
      try {
        const line = JSON.parse(raw) as JournalLine;
        // Only this pipeline's lines are ever consulted: the others are not kept.
        if (line && line.sig === sig && typeof line.input === 'string' && typeof line.output === 'string') lines.push(line);
      } catch {
        /* a line cut short by a hard stop: ignore it */
      }
    }
    return new Journal(file, lines, sig);
  }

  /** The journal line that says this input is already done, if any (see the module comment). */
  async done(item: InputItem, mode: { resume: boolean; unchanged: boolean }): Promise<JournalLine | undefined> {
    if (item.kind !== 'file') return undefined;
    const candidates = this.lines;
    if (candidates.length === 0) return undefined;
    const st = await stat(item.source);
    let hit = mode.resume ? candidates.findLast((l) => l.input === item.source && l.size === st.size && l.mtimeMs === st.mtimeMs) : undefined;
    if (!hit && mode.unchanged) {
      const sha = await hashFile(item.source, st.size);
      hit = candidates.findLast((l) => l.sha256 === sha);
    }
    if (!hit) return undefined;
    const out = await stat(hit.output).catch(() => undefined);
    return out && out.size === hit.outputBytes ? hit : undefined;
  }

  async record(input: string, output: string, outputBytes: number): Promise<void> {
    const st = await stat(input);
    const line: JournalLine = { sig: this.sig, input, size: st.size, mtimeMs: st.mtimeMs, sha256: await hashFile(input, st.size), output, outputBytes, at: new Date().toISOString() };
    // Not added to this.lines: a run asks done() before it starts (preflight), never about a file it
    // finished itself, and a line kept per file would grow with the batch (docs/performance.md, "Memory").
    await (this.dirMade ??= mkdir(path.dirname(this.file), { recursive: true }));
    // One appendFile per line: a hard stop can cut at most the last line, which open() then ignores.
    await appendFile(this.file, `${JSON.stringify(line)}\n`);
  }
}
