/**
 * `iloveimg tasks list|show|wait|download|delete`: the API's task resources. Tasks live on a server,
 * so these need one that outlives the command: the cloud, or a running `iloveimg serve`
 * (the in-process engine of a single command is gone when it ends).
 */
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { TaskResource } from '../protocol/wire.js';
import { TASK_STATUSES, TOOLS, toolByCommand, toolByName } from '../protocol/tools.js';
import { connectionFlags, ioFor, type AppContext } from '../lib/context.js';
import { CONFLICT_POLICIES, type ConflictPolicy } from '../run/model.js';
import { PartialFailureError } from '../lib/errors.js';
import { numberOption } from '../flags/number-option.js';
import type { IO } from '../lib/io.js';
import { formatBytes } from '../lib/io.js';
import { cleanText } from '../lib/sanitize.js';

const REMOTE = '`iloveimg tasks`';

async function withClient<T>(ctx: AppContext, cmd: Command, fn: (client: import('../api/client.js').IloveimgClient, io: IO) => Promise<T>): Promise<T> {
  const { connect } = await import('../account/connection.js');
  const io = ioFor(ctx, cmd);
  const conn = await connect(connectionFlags(cmd), { io, env: ctx.env, requireRemote: REMOTE });
  try {
    return await fn(conn.client, io);
  } finally {
    await conn.close();
  }
}

/** A task's worker host, from the task resource on the start server. */
async function locate(client: import('../api/client.js').IloveimgClient, id: string): Promise<TaskResource> {
  return client.getTask({ task: id });
}

function printTask(io: IO, raw: TaskResource): void {
  const t = cleanTask(raw);
  const out = io.stdout;
  out.write(`task        ${t.task}\ntool        ${t.tool}\nstatus      ${t.status}${t.status_message ? ` (${t.status_message})` : ''}\n`);
  out.write(`started     ${t.process_start ?? '-'}\nserver      ${t.server}\nfiles       ${t.file_number ?? t.files?.length ?? 0} in, ${t.output_filenumber ?? 0} out\n`);
  out.write(`size        ${formatBytes(Number(t.filesize ?? 0))} → ${formatBytes(Number(t.output_filesize ?? 0))}\n`);
  if (t.custom_int !== null && t.custom_int !== undefined) out.write(`custom_int  ${t.custom_int}\n`);
  if (t.custom_string) out.write(`custom_str  ${t.custom_string}\n`);
  for (const f of t.files ?? []) out.write(`  ${f.status.padEnd(18)} ${f.filename}${f.status_message && f.status !== 'FileSuccess' ? `: ${f.status_message}` : ''}\n`);
}

/** A task resource's text fields without a server's control characters (sanitize.ts), for printing. */
function cleanTask(t: TaskResource): TaskResource {
  const c = <T>(v: T): T => (typeof v === 'string' ? (cleanText(v) as T) : v);
  const files = Array.isArray(t.files) ? t.files.map((f) => ({ ...f, filename: c(f.filename), status: c(f.status), status_message: c(f.status_message) })) : t.files;
  return { ...t, task: c(t.task), tool: c(t.tool), status: c(t.status), status_message: c(t.status_message), process_start: c(t.process_start), server: c(t.server), custom_string: c(t.custom_string), files };
}

export default function create(ctx: AppContext): Command {
  const tasks = new Command('tasks').description('List, inspect, wait for, download and delete tasks on the server');

  tasks
    .command('list')
    .description('List the tasks of your project, newest first (50 a page)')
    .option('--tool <tool>', `Only this tool: a command name or the API's (${TOOLS.map((t) => t.command).join(', ')})`, (v: string) => {
      const spec = toolByCommand(v) ?? toolByName(v);
      if (!spec) throw new InvalidArgumentError(`use one of ${TOOLS.map((t) => t.command).join(', ')} (or the API names: ${TOOLS.map((t) => t.tool).join(', ')})`);
      return spec.tool;
    })
    .addOption(new Option('--status <status>', 'Only tasks in this status').choices(TASK_STATUSES as unknown as string[]))
    .option('--custom-int <n>', 'Only tasks with this custom_int', (v) => {
      if (!/^-?\d+$/.test(v)) throw new InvalidArgumentError('--custom-int must be a whole number');
      return Number(v);
    })
    .option('--page <n>', 'Page number', numberOption('--page', { min: 1 }), 1)
    .addHelpText('after', '\nExamples:\n  $ iloveimg tasks list\n  $ iloveimg tasks list --tool compress --status TaskSuccess --json\n')
    .action(async (opts, self: Command) =>
      withClient(ctx, self, async (client, io) => {
        const list = await client.listTasks({ tool: opts.tool, status: opts.status, custom_int: opts.customInt, page: opts.page });
        if (self.optsWithGlobals().json) return io.json(list);
        if (list.length === 0) return io.info('No tasks on this page.');
        // On a terminal, a header (as gh does); in a pipe, the bare rows for scripts.
        const tty = Boolean((ctx.stdout as { isTTY?: boolean }).isTTY);
        if (tty) io.stdout.write(`${'TASK'.padEnd(String(list[0].task).length)}  ${'TOOL'.padEnd(16)} ${'STATUS'.padEnd(24)} ${'FILES'.padStart(10)}  STARTED\n`);
        for (const t of list.map(cleanTask)) {
          const n = Number(t.file_number ?? 0);
          const files = `${t.file_number ?? ''} ${n === 1 ? 'file' : 'files'}`;
          io.stdout.write(`${t.task}  ${String(t.tool).padEnd(16)} ${String(t.status).padEnd(24)} ${files.padStart(10)}  ${t.process_start ?? ''}\n`);
        }
      }),
    );

  tasks
    .command('show')
    .description("Show a task's status and files")
    .argument('<task>', 'task id')
    .addHelpText('after', '\nExamples:\n  $ iloveimg tasks show g27d4mrsg3ztmnzAgm5d3njAm…\n  $ iloveimg tasks show <task> --json\n')
    .action(async (id: string, _opts, self: Command) =>
      withClient(ctx, self, async (client, io) => {
        const t = await locate(client, id);
        if (self.optsWithGlobals().json) io.json(t);
        else printTask(io, t);
      }),
    );

  tasks
    .command('wait')
    .description('Wait until a task has finished processing, then show it')
    .argument('<task>', 'task id')
    .option('--max-wait <seconds>', 'Give up waiting after this long', numberOption('--max-wait', { min: 1 }), 3600)
    .addHelpText('after', '\nExamples:\n  $ iloveimg tasks wait <task> && iloveimg tasks download <task> -o out/\n')
    .action(async (id: string, opts, self: Command) =>
      withClient(ctx, self, async (client, io) => {
        const { waitTask } = await import('../api/task-loops.js');
        const first = await locate(client, id);
        const t = await waitTask(client, { task: id, server: first.server }, ctx.signal, opts.maxWait * 1000);
        if (self.optsWithGlobals().json) io.json(t);
        else printTask(io, t);
        if (t.status === 'TaskError') throw new PartialFailureError(`task ${id} ended in TaskError`);
      }),
    );

  tasks
    .command('download')
    .description("Download a task's results (a zip is unpacked)")
    .argument('<task>', 'task id')
    .option('-o, --output-dir <dir>', 'Where to write the files (default: a new folder named after the task)')
    .addOption(new Option('--on-conflict <policy>', 'What to do when a file exists').choices(CONFLICT_POLICIES as string[]).default('error'))
    .option('--keep-zip', 'Save a multi-file result as the zip the server sent')
    .addHelpText('after', '\nExamples:\n  $ iloveimg tasks download <task> -o out/\n  $ iloveimg tasks download <task> --keep-zip\n')
    .action(async (id: string, opts, self: Command) =>
      withClient(ctx, self, async (client, io) => {
        const { downloadTaskTo, taskOutputDir } = await import('../run/task-download.js');
        const { resultSizeOverride } = await import('../run/result.js');
        const { limitsFor } = await import('../api/download-limits.js');
        const override = resultSizeOverride(ctx.env);
        const t = await locate(client, id);
        // Bounds from the task's own input size (the server's word, but only ever a bound).
        const inputBytes = Math.max(0, Number(t.filesize) || 0);
        const limits = limitsFor({ tools: [String(t.tool)], inputBytes, largestInput: inputBytes, override });
        const outDir = await taskOutputDir(ctx.cwd, id, opts.outputDir);
        const saved = await downloadTaskTo(client, { task: id, server: t.server, tool: t.tool }, outDir, opts.onConflict as ConflictPolicy, Boolean(opts.keepZip), limits);
        if (self.optsWithGlobals().json) io.json({ task: id, files: saved });
        else for (const f of saved) io.info(`${f.status === 'ok' ? '✓' : f.status === 'skipped' ? '-' : '✗'} ${path.relative(ctx.cwd, f.path ?? f.name) || f.name}  ${formatBytes(f.bytes)}${f.error ? `: ${f.error}` : ''}`);
        const bad = saved.filter((f) => f.status === 'failed');
        if (bad.length) throw new PartialFailureError(`${bad.length} of ${saved.length} files could not be written`);
      }),
    );

  tasks
    .command('delete')
    .description('Delete a task and its files from the server now')
    .argument('<task>', 'task id')
    .addHelpText('after', '\nExamples:\n  $ iloveimg tasks delete <task>\n')
    .action(async (id: string, _opts, self: Command) =>
      withClient(ctx, self, async (client, io) => {
        const t = await locate(client, id);
        const res = await client.deleteTask({ task: id, server: t.server });
        if (self.optsWithGlobals().json) io.json(res);
        else io.info(`deleted task ${id} (${res?.status ?? 'TaskDeleted'})`);
      }),
    );

  return tasks;
}
