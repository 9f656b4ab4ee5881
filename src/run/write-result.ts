/**
 * A task's results onto the disk: download (a zip is unpacked, result.ts), pair each output with its
 * input, and write it atomically where the plan says — or keep the original when compress did not save
 * enough (`--min-savings`). Every file is reported once, ok, skipped or failed.
 */
import { createReadStream, type Stats } from 'node:fs';
import { stat, utimes } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import type { IloveimgClient, TaskRef } from '../api/client.js';
import { limitsFor } from '../api/download-limits.js';
import { formatBytes } from '../lib/io.js';
import { realDirsBelow } from '../lib/safe-name.js';
import type { BatchOptions } from './batch.js';
import { displayPath, sniff } from './inputs.js';
import { errMessage, errType, stem, type Fail, type Member } from './member.js';
import type { FileReport, MinSavings } from './model.js';
import { ConflictError, copyAtomic, OutputExistsError, withExt } from './outputs.js';
import { fetchResult, type ResultFile } from './result.js';

/** What writing needs from its task group: the run's options, the report, and failing a member. */
export interface ResultSink {
  readonly opts: BatchOptions;
  readonly report: (r: FileReport) => void;
  readonly fail: Fail;
}

export async function downloadAndWrite(client: IloveimgClient, ref: TaskRef, members: Member[], sink: ResultSink): Promise<void> {
  const { opts, fail } = sink;
  const inputBytes = members.map((m) => m.inputBytes);
  const limits = limitsFor({ tools: opts.steps.map((s) => s.tool), inputBytes: inputBytes.reduce((a, b) => a + b, 0), largestInput: Math.max(0, ...inputBytes), override: opts.maxResultBytes });
  await fetchResult(client, ref, { fallbackName: () => members[0].sentName, limits }, async (result) => {
    // A single result refused outright (not an image, too large) is every member's failure.
    const refused = !result.zip && result.files[0]?.error;
    if (refused) {
      for (const m of members) fail(m, refused.type, refused.message, ref.task);
      return;
    }
    // Zip entry names are only ever used to match stems (no zip-slip); empty entries are no output.
    const outputs = result.zip ? result.files.filter((f) => f.bytes > 0 || f.error) : result.files;
    // A joined output (animated GIF) is one file for all its inputs: written once, reported for each.
    let joinedWrite: Promise<string | undefined> | undefined;
    let joinedReported = false;
    for (const [m, out] of matchOutputs(members, outputs, opts.joined)) {
      if (!out) {
        fail(m, 'DownloadError', 'the server returned no output for this file', ref.task);
        continue;
      }
      if (out.error) {
        fail(m, out.error.type, out.error.message, ref.task);
        continue;
      }
      const write = async (dest: string) => {
        if (opts.outputRoot) await realDirsBelow(opts.outputRoot, path.dirname(dest));
        return opts.joined ? (joinedWrite ??= copyAtomic(out.path, dest, opts.onConflict)) : copyAtomic(out.path, dest, opts.onConflict, opts.inPlace);
      };
      // The joined file's size is counted once, on its first input; the others say where they went.
      const joinedRest = Boolean(opts.joined) && joinedReported;
      joinedReported = Boolean(opts.joined);
      await writeOne(m, out, sink, ref.task, write, joinedRest).catch((e) => fail(m, errType(e), errMessage(e), ref.task));
    }
  });
}

/**
 * Pairs outputs with inputs: by name stem (the server names outputs after `files[].filename`, which we
 * made unique), else — when the user's --output-filename renamed them — by position.
 */
function matchOutputs(members: Member[], outputs: ResultFile[], joined?: boolean): [Member, ResultFile | undefined][] {
  if (joined || (members.length === 1 && outputs.length === 1)) return members.map((m) => [m, outputs[0]]);
  const byStem = new Map(outputs.map((o) => [stem(o.name), o]));
  const all = members.every((m) => byStem.has(stem(m.sentName)));
  if (!all && outputs.length === members.length) return members.map((m, i) => [m, outputs[i]]);
  return members.map((m) => [m, byStem.get(stem(m.sentName))]);
}

async function writeOne(m: Member, out: ResultFile, sink: ResultSink, task: string, write: (dest: string) => Promise<string | undefined>, joinedRest = false): Promise<void> {
  const { opts, report } = sink;
  const shown = (p: string) => displayPath(p, opts.cwd ?? process.cwd());
  const fmt = sniff(out.head);
  let dest = m.plan.dest;
  // -O names exactly that file (README "Outputs"); otherwise the extension follows the real format.
  if (fmt && dest !== '-' && !opts.inPlace && !m.plan.literal) dest = withExt(dest, fmt);
  const base = { input: m.item.display, inputBytes: m.inputBytes, task, ...(m.warnings.length ? { warnings: [...m.warnings] } : {}) };
  if (opts.minSavings && !opts.joined && !savesEnough(m.inputBytes, out.bytes, opts.minSavings)) {
    // Keep the original: never hand back a larger (or not worth it) result.
    m.done = true;
    let note = `${savingsShortfall(m.inputBytes, out.bytes, opts.minSavings)}; kept the original`;
    let written: string | undefined;
    // Copied where a result was asked for (-o DIR, -O FILE), so the target exists; not as a
    // `-compressed` twin beside the input.
    if (m.item.kind === 'file' && !opts.inPlace && dest !== '-' && (m.plan.literal || path.dirname(dest) !== path.dirname(m.item.source))) {
      written = await copyAtomic(m.item.source, dest, opts.onConflict).catch((e) => {
        if (e instanceof ConflictError) return undefined;
        throw e;
      });
      if (written) note += ` (copied to ${shown(written)})`;
      if (written) await carryDates(written, await datesOf(m, opts));
    } else if (dest === '-' && m.item.data) {
      opts.stdout?.write(m.item.data);
    }
    opts.events?.onStage?.(m.item, 'done');
    report({ ...base, status: 'skipped', output: written ? shown(written) : undefined, outputBytes: m.inputBytes, note });
    return;
  }
  if (dest === '-') {
    // Streamed, never held whole (result.ts); stdout stays open for whatever follows.
    await pipeline(createReadStream(out.path), opts.stdout!, { end: false });
    m.done = true;
    opts.events?.onStage?.(m.item, 'done');
    report({ ...base, status: 'ok', output: '<stdout>', outputBytes: out.bytes });
    return;
  }
  const checked = (await opts.checkResult?.(m.item, out.path).catch(() => [])) ?? [];
  if (checked.length) Object.assign(base, { warnings: [...m.warnings, ...checked] });
  try {
    const dates = await datesOf(m, opts);
    const written = await write(dest);
    if (written) await carryDates(written, dates);
    m.done = true;
    opts.events?.onStage?.(m.item, 'done');
    if (written === undefined) report({ ...base, status: 'skipped', output: shown(dest), note: 'destination exists (--on-conflict skip)' });
    else if (joinedRest) report({ ...base, status: 'ok', output: shown(written), outputBytes: 0, note: 'joined into the same file; its size is counted once' });
    else report({ ...base, status: 'ok', output: shown(written), outputBytes: out.bytes });
  } catch (e) {
    if (e instanceof ConflictError) throw new OutputExistsError(shown(dest));
    throw e;
  }
}

/** The input's times, for --keep-dates (read before writing: in place, the input is the destination). */
async function datesOf(m: Member, opts: BatchOptions): Promise<Stats | undefined> {
  return opts.keepDates && m.item.kind === 'file' ? stat(m.item.source) : undefined;
}

async function carryDates(written: string, dates: Stats | undefined): Promise<void> {
  if (dates) await utimes(written, dates.atime, dates.mtime);
}

/** Why a compressed result was not kept, with the numbers: what it saved against what was asked. */
function savingsShortfall(before: number, after: number, min: MinSavings): string {
  const saved = before - after;
  if (saved <= 0) return `the result (${formatBytes(after)}) is not smaller than the original (${formatBytes(before)})`;
  const asked = [min.percent !== undefined ? `${min.percent}%` : '', min.bytes !== undefined ? formatBytes(min.bytes) : ''].filter(Boolean).join(' and ');
  return `the result saves ${formatBytes(saved)} (${((saved / before) * 100).toFixed(1)}%), less than --min-savings ${asked}`;
}

function savesEnough(before: number, after: number, min: MinSavings): boolean {
  const saved = before - after;
  if (saved <= 0) return false;
  if (min.bytes !== undefined && saved < min.bytes) return false;
  if (min.percent !== undefined && (saved / before) * 100 < min.percent) return false;
  return true;
}
