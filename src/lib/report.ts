/**
 * What a batch run shows: a progress bar on a terminal (stderr), a line per file and a summary for
 * people (stderr), or exactly one JSON document (`--json`) / one event per line (`--ndjson`) on stdout
 * for scripts. The human and JSON views are built from the same FileReport objects.
 */
import { formatBytes, type IO } from './io.js';
import type { BatchEvents, FileReport, Stage } from './batch.js';
import type { InputItem } from './inputs.js';

export type OutputMode = 'human' | 'json' | 'ndjson';

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
  finish(report: RunReport): void;
}

export async function createReporter(io: IO, mode: OutputMode, items: InputItem[]): Promise<Reporter> {
  const progress = mode === 'human' && io.interactive ? await createBar(io, items) : undefined;
  const paint = (code: string, s: string) => (io.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const line = (r: FileReport) => {
    if (r.status === 'failed') return `${paint('31', '✗')} ${r.input}: ${r.error?.type ? `${r.error.type}: ` : ''}${r.error?.message ?? 'failed'}`;
    if (r.status === 'skipped') return `${paint('33', '-')} ${r.input}${r.output ? ` → ${r.output}` : ''}: skipped (${r.note ?? 'nothing to do'})`;
    const pct = r.inputBytes > 0 && r.outputBytes !== undefined ? ` (${signedPercent(r.inputBytes, r.outputBytes)})` : '';
    return `${paint('32', '✓')} ${r.input} → ${r.output}  ${formatBytes(r.inputBytes)} → ${formatBytes(r.outputBytes ?? 0)}${pct}`;
  };
  const emit = (r: FileReport) => {
    if (mode === 'ndjson') io.event({ event: 'file', ...r });
    else if (mode === 'human') {
      const text = line(r);
      if (progress) progress.log(text);
      else if (r.status === 'failed') io.stderr.write(`${text}\n`);
      else io.info(text);
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
    finish(report) {
      progress?.stop();
      if (mode === 'json') return io.json(report);
      if (mode === 'ndjson') return io.event({ event: 'summary', tool: report.tool, ...report.summary });
      const s = report.summary;
      const parts = [`${s.ok} ok`];
      if (s.skipped) parts.push(`${s.skipped} skipped`);
      if (s.failed) parts.push(paint('31', `${s.failed} failed`));
      const size = s.inputBytes > 0 ? `; ${formatBytes(s.inputBytes)} → ${formatBytes(s.outputBytes)} (${signedPercent(s.inputBytes, s.outputBytes)})` : '';
      const left = s.remainingFiles !== undefined ? `; ${s.remainingFiles} files left on the account` : '';
      const text = `${report.tool}: ${parts.join(', ')} of ${s.total} file${s.total === 1 ? '' : 's'}${size} in ${s.seconds.toFixed(1)} s${left}`;
      if (s.failed) io.stderr.write(`${text}\n`);
      else io.info(text);
    },
  };
}

function signedPercent(before: number, after: number): string {
  const p = ((after - before) / before) * 100;
  return `${p <= 0 ? '−' : '+'}${Math.abs(p).toFixed(1)}%`;
}

interface Bar {
  stage(item: InputItem, stage: Stage): void;
  uploaded(bytes: number): void;
  fileDone(): void;
  log(line: string): void;
  stop(): void;
}

/** One overall bar: files done, bytes sent, ETA, and what the most recent file is doing. */
async function createBar(io: IO, items: InputItem[]): Promise<Bar> {
  const { default: cliProgress } = await import('cli-progress');
  const totalBytes = items.reduce((a, i) => a + i.size, 0);
  let sent = 0;
  const bar = new cliProgress.SingleBar(
    {
      stream: io.stderr as NodeJS.WritableStream,
      format: ' {bar} {value}/{total} files | {sent} sent | ETA {eta_formatted} | {stage}',
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
      barsize: 24,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(items.length, 0, { sent: formatBytes(0), stage: 'starting' });
  return {
    stage(item, stage) {
      if (stage !== 'done') bar.update({ stage: `${stage} ${item.display.slice(-40)}` });
    },
    uploaded(bytes) {
      sent += bytes;
      bar.update({ sent: `${formatBytes(sent)}/${formatBytes(totalBytes)}` });
    },
    fileDone() {
      bar.increment();
    },
    log(line) {
      // Print above the bar without leaving a broken bar behind.
      (io.stderr as NodeJS.WritableStream).write(`\r\x1b[2K${line}\n`);
      bar.render();
    },
    stop() {
      bar.stop();
    },
  };
}
