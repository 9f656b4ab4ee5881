/**
 * What a batch run shows: a progress bar on a terminal (stderr), a line per file and a summary for
 * people (stderr), or exactly one JSON document (`--json`) / one event per line (`--ndjson`) on stdout
 * for scripts. The human and JSON views are built from the same FileReport objects.
 */
import { formatBytes, type IO } from '../lib/io.js';
import { NOT_STARTED } from './batch.js';
import type { BatchEvents, FileReport, OutputMode, Stage } from './model.js';
import type { InputItem } from './inputs.js';


export interface Summary {
  total: number;
  ok: number;
  failed: number;
  skipped: number;
  inputBytes: number;
  outputBytes: number;
  savedBytes: number;
  savedPercent: number;
  seconds: number;
  /** Files the account had left when the run's last task started (`remaining_files`), when known. */
  remainingFiles?: number;
}

export interface RunReport {
  tool: string;
  steps?: string[];
  files: FileReport[];
  tasks?: { task: string; server: string; tool: string; status?: string }[];
  summary: Summary;
}

export function summarize(files: FileReport[], seconds: number): Summary {
  const done = files.filter((f) => f.status !== 'failed');
  const inputBytes = done.reduce((a, f) => a + (f.inputBytes || 0), 0);
  const outputBytes = done.reduce((a, f) => a + (f.outputBytes ?? f.inputBytes ?? 0), 0);
  const saved = inputBytes - outputBytes;
  return {
    total: files.length,
    ok: files.filter((f) => f.status === 'ok').length,
    failed: files.filter((f) => f.status === 'failed').length,
    skipped: files.filter((f) => f.status === 'skipped').length,
    inputBytes,
    outputBytes,
    savedBytes: saved,
    savedPercent: inputBytes > 0 ? Math.round((saved / inputBytes) * 1000) / 10 : 0,
    seconds: Math.round(seconds * 100) / 100,
  };
}

export interface Reporter {
  events: BatchEvents;
  /** Lines for inputs rejected before the run (missing, not an image). */
  rejected(reports: FileReport[]): void;
  /** A passing state shown in the bar on a terminal, e.g. "retrying upload (attempt 2/7)"; cleared by the next stage. */
  status(text: string): void;
  finish(report: RunReport): void;
  /** Removes the bar (and shows the cursor) when the run ends without a report, e.g. on an error. */
  close(): void;
}

export async function createReporter(io: IO, mode: OutputMode, items: InputItem[]): Promise<Reporter> {
  const progress = mode === 'human' && io.interactive ? createBar(io, items) : undefined;
  const paint = (code: string, s: string) => (io.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const line = (r: FileReport) => {
    if (r.status === 'failed') return `${paint('31', '✗')} ${r.input}: ${r.error?.type ? `${r.error.type}: ` : ''}${r.error?.message ?? 'failed'}`;
    if (r.status === 'skipped') return `${paint('33', '-')} ${r.input}${r.output ? ` → ${r.output}` : ''}: skipped (${r.note ?? 'nothing to do'})`;
    if (r.outputBytes === 0 && r.note) return `${paint('32', '✓')} ${r.input} → ${r.output}  (${r.note})`;
    const pct = r.inputBytes > 0 && r.outputBytes !== undefined ? ` (${signedPercent(r.inputBytes, r.outputBytes)})` : '';
    const note = r.note ? `; ${r.note}` : '';
    return `${paint('32', '✓')} ${r.input} → ${r.output}  ${formatBytes(r.inputBytes)} → ${formatBytes(r.outputBytes ?? 0)}${pct}${note}`;
  };
  let notStarted = 0;
  const emit = (r: FileReport) => {
    if (mode === 'ndjson') io.event({ event: 'file', ...r });
    else if (mode === 'human' && r.note === NOT_STARTED) notStarted++;
    else if (mode === 'human') {
      if (r.status === 'failed') io.error(line(r));
      else io.info(line(r));
      // A result the server flagged (TaskSuccessWithWarnings) or that did not do all that was asked.
      for (const w of r.warnings ?? []) io.error(`  ${paint('33', '⚠')} ${w}`);
    }
  };
  return {
    events: {
      onStage: (item: InputItem, stage: Stage) => progress?.stage(item, stage),
      onUploaded: (bytes: number) => progress?.uploaded(bytes),
      onFile: (r: FileReport) => {
        progress?.fileDone();
        emit(r);
      },
      onTask: (t) => {
        if (mode === 'ndjson') io.event({ event: 'task', ...t });
        else if (io.verbose && mode === 'human') io.info(`task ${t.task} (${t.tool}) on ${t.server}`);
      },
    },
    rejected(reports) {
      for (const r of reports) emit(r);
    },
    status(text) {
      progress?.status(text);
    },
    close() {
      io.screen.clear();
    },
    finish(report) {
      io.screen.clear();
      if (mode === 'json') return io.json(report);
      if (mode === 'ndjson') return io.event({ event: 'summary', tool: report.tool, ...report.summary });
      const s = report.summary;
      // After Ctrl-C: one line for the files that never started, not one each.
      if (notStarted) io.info(`${paint('33', '-')} ${notStarted} file${notStarted === 1 ? '' : 's'} not started (interrupted)`);
      const parts = [`${s.ok} ok`];
      if (s.skipped - notStarted > 0) parts.push(`${s.skipped - notStarted} skipped`);
      if (notStarted) parts.push(`${notStarted} not started`);
      if (s.failed) parts.push(paint('31', `${s.failed} failed`));
      const warned = report.files.filter((f) => f.warnings?.length).length;
      if (warned) parts.push(paint('33', `${warned} with warnings`));
      const size = s.inputBytes > 0 ? `; ${formatBytes(s.inputBytes)} → ${formatBytes(s.outputBytes)} (${signedPercent(s.inputBytes, s.outputBytes)})` : '';
      const left = s.remainingFiles !== undefined ? `; ${s.remainingFiles} files left on the account` : '';
      const text = `${report.tool}: ${parts.join(', ')} of ${s.total} file${s.total === 1 ? '' : 's'}${size} in ${s.seconds.toFixed(1)} s${left}`;
      if (s.failed) io.error(text);
      else io.info(text);
    },
  };
}

function signedPercent(before: number, after: number): string {
  const p = ((after - before) / before) * 100;
  return `${p <= 0 ? '−' : '+'}${Math.abs(p).toFixed(1)}%`;
}

/** 75 → "1m15s" */
function duration(s: number): string {
  const r = Math.max(1, Math.round(s));
  return r < 60 ? `${r}s` : `${Math.floor(r / 60)}m${String(r % 60).padStart(2, '0')}s`;
}

/**
 * One overall bar, drawn by the screen (src/lib/screen.ts): files done, bytes sent, an ETA once a
 * file has finished (never "ETA 0s" before anything is known), and what the most recent file is
 * doing, or a retry under way.
 */
function createBar(io: IO, items: InputItem[]) {
  const totalBytes = items.reduce((a, i) => a + i.size, 0);
  const started = Date.now();
  let sent = 0;
  let done = 0;
  let state = 'starting';
  const width = 24;
  const draw = () => {
    const filled = items.length ? Math.round((done / items.length) * width) : 0;
    const elapsed = (Date.now() - started) / 1000;
    const eta = done > 0 && done < items.length ? ` | ETA ${duration((elapsed / done) * (items.length - done))}` : '';
    io.screen.bar(` ${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${done}/${items.length} files | ${formatBytes(sent)}/${formatBytes(totalBytes)} sent${eta} | ${state}`);
  };
  draw();
  return {
    stage(item: InputItem, stage: Stage) {
      if (stage === 'done') return;
      state = `${stage} ${item.display.slice(-40)}`;
      draw();
    },
    uploaded(bytes: number) {
      sent += bytes;
      draw();
    },
    fileDone() {
      done++;
      draw();
    },
    status(text: string) {
      state = text;
      draw();
    },
  };
}
