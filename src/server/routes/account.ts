/** Start-server endpoints: `/auth`, `/start/{tool}[/{region}]`, `/info`. */
import { TOOL_NAMES, resolveToolName } from '../../protocol/tools.js';
import type { AuthResponse, InfoResponse, StartResponse } from '../../protocol/wire.js';
import { issueToken } from '../auth.js';
import type { Call, ServerContext } from '../context.js';
import { HttpError, UnauthorizedError } from '../errors.js';
import { sendJson } from '../http.js';
import { checkOpenTasks, text } from './shared.js';

/** iLovePDF's regions (docs/protocol.md §1); accepted for iLoveIMG too, and meaningless locally. */
const REGIONS = ['eu', 'us', 'fr', 'de', 'pl', 'in', 'sg'];

export async function auth(ctx: ServerContext, call: Call): Promise<void> {
  const publicKey = text(call.fields.public_key);
  const project = publicKey ? ctx.projects.get(publicKey) : undefined;
  if (!project) throw new UnauthorizedError('Invalid public key');
  const body: AuthResponse = { token: await issueToken(project, ctx.publicHost) };
  sendJson(call.res, 200, body);
}

export async function start(ctx: ServerContext, call: Call): Promise<void> {
  const { region } = call.params;
  call.entry.tool = call.params.tool;
  // Short names (`compress`) are what the official libraries send; the task keeps the API's slug.
  const tool = resolveToolName(call.params.tool);
  if (!tool) {
    throw new HttpError(400, `Unknown tool: ${call.params.tool}`, { tool: [`tool must be one of ${TOOL_NAMES.join(', ')}`] });
  }
  call.entry.tool = tool;
  if (region !== undefined && !REGIONS.includes(region)) {
    throw new HttpError(400, `Unknown region: ${region}`, { region: [`region must be one of ${REGIONS.join(', ')}`] });
  }
  const project = call.auth!.project.publicKey;
  checkOpenTasks(ctx, project);
  const remaining = ctx.store.remaining(project);
  if (remaining <= 0) throw new HttpError(400, 'No remaining files in this project', { remaining_files: ['0'] });
  const task = await ctx.store.create(project, tool);
  call.entry.task = task.id;
  const body: StartResponse = { server: ctx.publicHost, task: task.id, remaining_files: remaining };
  sendJson(call.res, 200, body);
}

export async function info(ctx: ServerContext, call: Call): Promise<void> {
  const project = call.auth!.project.publicKey;
  const body: InfoResponse = {
    remaining_files: ctx.store.remaining(project),
    open_tasks: ctx.store.openTasks(project),
    max_open_tasks: ctx.limits.maxOpenTasks,
  };
  sendJson(call.res, 200, body);
}
