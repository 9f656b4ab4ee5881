/**
 * The route table and the one request pipeline every call goes through:
 * log → CORS → faults (only with `serve --faults`) → match → authenticate → rate limit → parse body →
 * `debug` echo → handler → errors.
 *
 * Handlers only deal with their resource; everything about turning failures into the API's error
 * shapes, answering early on oversized bodies, and keeping the server alive after a crash is here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorType } from '../protocol/wire.js';
import { COMMON_PARAMS, coerceParam } from '../protocol/tools.js';
import { tokenOf, verifyToken, type AuthContext } from './auth.js';
import { discardPart, parseBody, type ParsedBody } from './body.js';
import type { Fields } from './brackets.js';
import type { Call, ServerContext } from './context.js';
import { HttpError, UnauthorizedError } from './errors.js';
import { prepareEarlyAnswer, sendJson } from './http.js';
import type { RecordedRequest } from './options.js';
import { auth, info, start } from './routes/account.js';
import { download } from './routes/download.js';
import { processRoute } from './routes/process.js';
import { checkedKey, text } from './routes/shared.js';
import { deleteTask, getTask, listTasks, nextTask } from './routes/task.js';
import { deleteUpload, upload } from './routes/upload.js';

interface Route {
  methods: readonly string[];
  /** Path segments after `/v1`; `:name` captures one segment. */
  path: readonly string[];
  /** The error `type` of this endpoint's 400s, which is what the clients map to exceptions. */
  errorType: ErrorType;
  /** `query` also accepts `?token=` (downloads only). */
  auth: 'none' | 'header' | 'query';
  /** Accepts a file part, streamed to the temp dir. */
  upload?: boolean;
  handler: (ctx: ServerContext, call: Call) => Promise<void>;
}

const ROUTES: readonly Route[] = [
  { methods: ['POST'], path: ['auth'], errorType: 'HTTP Error', auth: 'none', handler: auth },
  { methods: ['GET', 'POST'], path: ['start', ':tool'], errorType: 'StartError', auth: 'header', handler: start },
  { methods: ['GET', 'POST'], path: ['start', ':tool', ':region'], errorType: 'StartError', auth: 'header', handler: start },
  { methods: ['POST'], path: ['upload'], errorType: 'UploadError', auth: 'header', upload: true, handler: upload },
  { methods: ['POST'], path: ['upload', 'delete'], errorType: 'UploadError', auth: 'header', handler: deleteUpload },
  { methods: ['DELETE'], path: ['upload'], errorType: 'UploadError', auth: 'header', handler: deleteUpload },
  { methods: ['DELETE'], path: ['upload', ':task', ':server_filename'], errorType: 'UploadError', auth: 'header', handler: deleteUpload },
  { methods: ['POST'], path: ['process'], errorType: 'ProcessingError', auth: 'header', handler: processRoute },
  { methods: ['GET'], path: ['download', ':task'], errorType: 'DownloadError', auth: 'query', handler: download },
  { methods: ['GET', 'POST'], path: ['task'], errorType: 'TaskError', auth: 'header', handler: listTasks },
  { methods: ['POST'], path: ['task', 'next'], errorType: 'TaskError', auth: 'header', handler: nextTask },
  { methods: ['GET'], path: ['task', ':task'], errorType: 'TaskError', auth: 'header', handler: getTask },
  { methods: ['DELETE'], path: ['task', ':task'], errorType: 'TaskError', auth: 'header', handler: deleteTask },
  { methods: ['GET', 'POST'], path: ['info'], errorType: 'HTTP Error', auth: 'header', handler: info },
];

interface Match {
  route: Route;
  params: Record<string, string>;
}

/** The route for a request, `405` when the path exists for other methods, `404` otherwise. */
function match(method: string, pathname: string): Match {
  const segments = pathname.replace(/\/+$/, '').split('/').slice(1);
  if (segments[0] !== 'v1') throw new HttpError(404, `No such endpoint: ${pathname}`, undefined, 'NotFound');
  const rest = segments.slice(1);
  const wanted = method === 'HEAD' ? 'GET' : method;
  const allowed = new Set<string>();
  for (const route of ROUTES) {
    if (route.path.length !== rest.length) continue;
    const params: Record<string, string> = {};
    const fits = route.path.every((p, i) => {
      if (!p.startsWith(':')) return p === rest[i];
      try {
        params[p.slice(1)] = decodeURIComponent(rest[i]);
      } catch {
        return false;
      }
      return rest[i] !== '';
    });
    if (!fits) continue;
    if (route.methods.includes(wanted)) return { route, params };
    route.methods.forEach((m) => allowed.add(m));
  }
  if (allowed.size > 0) {
    throw new HttpError(405, `${method} is not allowed on ${pathname}`, undefined, 'MethodNotAllowed', { Allow: [...allowed].join(', ') });
  }
  throw new HttpError(404, `No such endpoint: ${method} ${pathname}`, undefined, 'NotFound');
}

const DEBUG = COMMON_PARAMS.find((p) => p.name === 'debug')!;

function isDebug(fields: Fields): boolean {
  if (fields.debug === undefined) return false;
  try {
    return coerceParam(DEBUG, fields.debug) === true;
  } catch {
    return false;
  }
}

function record(ctx: ServerContext, entry: RecordedRequest): void {
  ctx.log.push(entry);
  const excess = ctx.log.length - ctx.limits.maxLogEntries;
  if (excess > 0) ctx.log.splice(0, excess);
}

function setCors(res: ServerResponse): void {
  // The reference promises CORS; the token, not the origin, is what authorises a call.
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Expose-Headers', 'Content-Disposition, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset');
}

async function authenticate(ctx: ServerContext, route: Route, req: IncomingMessage, url: URL): Promise<AuthContext | undefined> {
  if (route.auth === 'none') return undefined;
  const { token, fromQuery } = tokenOf(req, route.auth === 'query' ? url.searchParams : undefined);
  return verifyToken(token, ctx.projects, undefined, { fromQuery });
}

function applyRateLimit(ctx: ServerContext, res: ServerResponse, who: AuthContext | undefined): void {
  if (!ctx.rateLimiter || !who) return;
  const decision = ctx.rateLimiter.hit(who.project.publicKey);
  for (const [name, value] of Object.entries(decision.headers)) res.setHeader(name, value);
  if (!decision.allowed) throw new HttpError(429, 'Too Many Requests', undefined, 'TooManyRequests');
}

function sendError(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, err: unknown, type: ErrorType): void {
  if (res.headersSent) {
    // Failed mid-stream (a download whose client went away): nothing sensible can be sent any more.
    res.destroy();
    return;
  }
  prepareEarlyAnswer(req, res);
  if (err instanceof UnauthorizedError) sendJson(res, 401, err.toBody(), { 'WWW-Authenticate': 'Bearer' });
  else if (err instanceof HttpError) sendJson(res, err.status, err.toBody(type), err.headers);
  else {
    ctx.logger('error', `${req.method} ${req.url} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    sendJson(res, 500, { error: { type: 'ServerError', message: 'Something on our end went wrong. Please try again later.', code: 500 } });
  }
}

export async function handleRequest(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', 'http://engine.invalid');
  const entry: RecordedRequest = { method, path: url.pathname, at: Date.now() };
  record(ctx, entry);
  res.on('finish', () => (entry.status = res.statusCode));
  setCors(res);
  if (method === 'OPTIONS') {
    res.writeHead(204, {
      'Access-Control-Allow-Methods': 'GET, POST, DELETE, OPTIONS',
      'Access-Control-Allow-Headers': 'Authorization, Content-Type',
      'Access-Control-Max-Age': '86400',
    });
    res.end();
    return;
  }

  // `serve --faults`: a status fault or an upload reset answers here, before the request has any effect.
  if (ctx.faults && (await ctx.faults.apply(req, res, entry))) return;

  let errorType: ErrorType = 'HTTP Error';
  let body: ParsedBody | undefined;
  try {
    const { route, params } = match(method, url.pathname);
    errorType = route.errorType;
    const who = await authenticate(ctx, route, req, url);
    applyRateLimit(ctx, res, who);
    // The upload is encrypted while it streams in, so the token's key is needed before the body.
    const claimKey = who?.encryptionKey !== undefined ? checkedKey(who.encryptionKey) : undefined;
    body = await parseBody(req, url.searchParams, {
      maxFormBytes: ctx.limits.maxFormBytes,
      upload: route.upload ? { tmpPath: () => ctx.store.tmpPath(), maxBytes: ctx.limits.maxUploadBytes, key: claimKey, memory: ctx.store.memory } : undefined,
    });
    entry.task = text(params.task ?? body.fields.task);
    entry.tool = text(params.tool ?? body.fields.tool);
    if (body.file) entry.file = body.file.filename;

    if (isDebug(body.fields)) {
      // "the resource won't process the request but it will output the parameters received"
      const echo: Record<string, unknown> = { ...body.fields };
      if (body.file) echo.file = { filename: body.file.filename, size: body.file.size };
      entry.params = echo;
      sendJson(res, 200, echo);
      return;
    }
    await route.handler(ctx, { req, res, url, params, fields: body.fields, file: body.file, auth: who, claimKey, entry });
  } catch (err) {
    sendError(ctx, req, res, err, errorType);
  } finally {
    if (body?.file) await discardPart(body.file, ctx.store.memory);
  }
}
