/**
 * The thin HTTP client for the iLoveIMG REST API v1: the only code in the project that speaks HTTP to
 * it. Drives start → upload → process → download plus the task resources, with got (lazily imported)
 * and self-signed tokens (auth.ts). It never prints; callers observe progress through callbacks.
 *
 * Wire decisions (docs/protocol.md §1, §3, §9):
 * - `/start`, `/auth`, `/task` (list), `/task/{id}` and `/info` go to the configured API URL; everything
 *   else goes to the worker host the start call returned, with the configured URL's scheme (so
 *   `http://127.0.0.1:PORT` works for the embedded engine and `https://api.iloveimg.com` in real life).
 * - Bodies are JSON, as js-core and the Python library send them; uploads are multipart `task` + `file`.
 * - Files over 2,000,000 bytes go up in chunks of that size (`chunk`/`chunks`), as the .NET library does.
 */
import { createWriteStream, openAsBlob } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Got } from 'got';
import { TokenSigner } from './auth.js';
import { ApiError, AuthenticationError } from './errors.js';
import { DEFAULT_RETRIES, retryDelay, shouldRetry, type RetryPolicy } from './retry.js';
import { boundedCounter, MAX_JSON_BYTES, NotAnImageError, ResultTooLargeError } from './download-limits.js';
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, type ClientOptions, type DownloadResult, type ListFilters, type RequestSpec, type ResolvedClientOptions, type TaskRef, type UploadSource } from './client-types.js';
import { enc, filenameFromDisposition, parseBody, retryAfterOf, sleep, toApiError } from './http-helpers.js';
import { gotCall, gotOpenDownload, makeGot } from './got-transport.js';
import { readAnswerText, sendInProcess } from './in-process.js';
import type {
  InfoResponse,
  NextTaskResponse,
  ProcessResponse,
  StartResponse,
  TaskResource,
  UploadResponse,
} from '../protocol/wire.js';
import type { ToolName } from '../protocol/tools.js';

export type { ClientOptions, DownloadResult, ListFilters, TaskRef, UploadSource } from './client-types.js';

export const DEFAULT_API_URL = 'https://api.iloveimg.com';
/** The .NET library's `MaxBytesPerChunk`: the only chunk size known to work against the real API. */
export const CHUNK_BYTES = 2_000_000;

export class IloveimgClient {
  private readonly signer: TokenSigner;
  private readonly base: URL;
  private gotInstance?: Got;

  private readonly options: ResolvedClientOptions;

  constructor(options: ClientOptions) {
    this.options = { ...options, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS };
    this.signer = new TokenSigner(options.credentials);
    this.base = new URL(options.apiUrl.endsWith('/') ? options.apiUrl : `${options.apiUrl}/`);
  }

  /** `GET /v1/start/{tool}` */
  async start(tool: ToolName | string): Promise<TaskRef & { remainingFiles: number }> {
    const res = await this.call<StartResponse>({ step: 'start', method: 'GET', url: this.startUrl(`start/${tool}`), idempotent: true });
    if (!res.server || !res.task) {
      throw new ApiError('The API started no task (no server or task in its answer)', 200, 'start', 'StartError');
    }
    return { task: res.task, server: res.server, tool, remainingFiles: Number(res.remaining_files ?? 0) };
  }

  /**
   * `POST /v1/upload` of a local file or bytes. Large files go in chunks; each attempt rebuilds its body,
   * so uploads are retried safely (the server keys a chunk by its index, and an unfinished upload
   * is invisible to process).
   */
  async upload(ref: TaskRef, source: UploadSource, onProgress?: (bytes: number) => void): Promise<UploadResponse> {
    const blob = source.path ? await openAsBlob(source.path) : new Blob([new Uint8Array(source.data ?? Buffer.alloc(0))]);
    const chunks = blob.size > CHUNK_BYTES ? Math.ceil(blob.size / CHUNK_BYTES) : 1;
    let last: UploadResponse | undefined;
    for (let i = 0; i < chunks; i++) {
      const part = chunks === 1 ? blob : blob.slice(i * CHUNK_BYTES, Math.min(blob.size, (i + 1) * CHUNK_BYTES));
      let reported = 0;
      const start = i * CHUNK_BYTES;
      const file = { name: 'file', filename: source.filename, path: source.path, data: source.data, start, size: part.size };
      last = await this.call<UploadResponse>({
        step: 'upload',
        method: 'POST',
        url: this.workerUrl(ref, 'upload'),
        idempotent: true,
        form: async () => {
          const fd = new FormData();
          fd.append('task', ref.task);
          fd.append('file', part, source.filename);
          if (chunks > 1) {
            fd.append('chunk', String(i));
            fd.append('chunks', String(chunks));
          }
          return fd;
        },
        upload: [{ name: 'task', value: ref.task }, file, ...(chunks > 1 ? [{ name: 'chunk', value: String(i) }, { name: 'chunks', value: String(chunks) }] : [])],
        onUploadProgress: (transferred) => {
          // The multipart envelope counts too; report only the file's bytes, once each.
          const now = Math.min(transferred, part.size);
          if (now > reported) onProgress?.(now - reported);
          reported = Math.max(reported, now);
        },
      });
      if (reported < part.size) onProgress?.(part.size - reported);
    }
    if (!last?.server_filename) throw new ApiError('The API accepted the upload but named no server file', 200, 'upload', 'UploadError');
    return last;
  }

  /** `POST /v1/upload` with `cloud_file`: the server fetches the URL itself. */
  async uploadCloud(ref: TaskRef, url: string): Promise<UploadResponse> {
    return this.call<UploadResponse>({
      step: 'upload',
      method: 'POST',
      url: this.workerUrl(ref, 'upload'),
      json: { task: ref.task, cloud_file: url },
      idempotent: true,
    });
  }

  /** `DELETE /v1/upload/{task}/{server_filename}` */
  async deleteFile(ref: TaskRef, serverFilename: string): Promise<void> {
    await this.call({
      step: 'delete',
      method: 'DELETE',
      url: this.workerUrl(ref, `upload/${enc(ref.task)}/${enc(serverFilename)}`),
      idempotent: true,
    });
  }

  /**
   * `POST /v1/process`. Not idempotent (processing a task twice is an error), so it is only sent again
   * when the server said it did not start (429, 503); after a lost answer (connection failure, other
   * 5xx) callers ask `getTask` and resend only when the task is confirmed still TaskWaiting
   * (src/api/task-loops.ts `sendProcess`).
   */
  async process(ref: TaskRef, body: Record<string, unknown>): Promise<ProcessResponse> {
    return this.call<ProcessResponse>({
      step: 'process',
      method: 'POST',
      url: this.workerUrl(ref, 'process'),
      json: { ...body, task: ref.task, tool: ref.tool },
      idempotent: false,
    });
  }

  /** `GET /v1/task/{task}` on the worker (or on the start server when the worker is unknown). */
  async getTask(ref: Pick<TaskRef, 'task'> & { server?: string }): Promise<TaskResource> {
    const url = ref.server ? this.workerUrl(ref as TaskRef, `task/${enc(ref.task)}`) : this.startUrl(`task/${enc(ref.task)}`);
    return this.call<TaskResource>({ step: 'task', method: 'GET', url, idempotent: true });
  }

  /**
   * `DELETE /v1/task/{task}`. With `unabortable`, it is sent even after Ctrl-C, so an interrupted run
   * can remove the tasks it leaves open.
   */
  async deleteTask(ref: Pick<TaskRef, 'task' | 'server'>, opts: { unabortable?: boolean } = {}): Promise<TaskResource> {
    return this.call<TaskResource>({
      step: 'delete',
      method: 'DELETE',
      url: this.workerUrl(ref as TaskRef, `task/${enc(ref.task)}`),
      idempotent: true,
      unabortable: opts.unabortable,
    });
  }

  /**
   * `POST /v1/task/next`: a connected task on the parent's outputs, with no re-upload.
   *
   * Not idempotent: when only the answer was lost, the server did make a child task, and sending it
   * again would make a second. So it is resent only on 429/503 here; after a lost answer the caller
   * looks for the child first (src/run/split-group.ts `nextTask`).
   */
  async next(ref: TaskRef, tool: ToolName | string): Promise<TaskRef & { files: Record<string, string> }> {
    const res = await this.call<NextTaskResponse>({
      step: 'next',
      method: 'POST',
      url: this.workerUrl(ref, 'task/next'),
      json: { task: ref.task, tool },
      idempotent: false, // see above
    });
    return { task: res.task, tool, server: ref.server, files: res.files ?? {} };
  }

  /** `POST /v1/task` with the secret key: the project's tasks, newest first, 50 a page. */
  async listTasks(filters: ListFilters = {}): Promise<TaskResource[]> {
    const body: Record<string, unknown> = { secret_key: this.options.credentials.secretKey };
    for (const [k, v] of Object.entries(filters)) if (v !== undefined) body[k] = v;
    const res = await this.call<TaskResource[] | { tasks?: TaskResource[] }>({
      step: 'list',
      method: 'POST',
      url: this.startUrl('task'),
      json: body,
      idempotent: true,
    });
    return Array.isArray(res) ? res : (res.tasks ?? []);
  }

  /** `GET /v1/info` */
  async info(): Promise<InfoResponse> {
    return this.call<InfoResponse>({ step: 'info', method: 'GET', url: this.startUrl('info'), idempotent: true });
  }

  /**
   * `GET /v1/download/{task}` streamed to `destPath` (the caller's temporary file). Returns the name
   * the server gave it; whether it is a zip is decided from the bytes by the caller.
   */
  async download(ref: TaskRef, destPath: string, limits: { maxBytes?: number; check?: (head: Buffer) => string | undefined } = {}): Promise<DownloadResult> {
    const url = this.workerUrl(ref, `download/${enc(ref.task)}`);
    return this.withRetries({ step: 'download', method: 'GET', url, idempotent: true }, async () => {
      const headers = await this.headers();
      const answer = this.options.dispatch
        ? await sendInProcess(this.options.dispatch, { method: 'GET', url, headers, signal: this.options.signal, timeoutMs: this.options.timeoutMs })
        : await gotOpenDownload(await this.got(), url, headers, this.options);
      if (answer.statusCode >= 400) {
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const c of answer.body) {
          if ((size += (c as Buffer).length) > MAX_JSON_BYTES) break;
          chunks.push(c as Buffer);
        }
        answer.body.destroy();
        throw ApiError.fromResponse(answer.statusCode, 'download', parseBody(Buffer.concat(chunks).toString('utf8')), retryAfterOf(answer));
      }
      // Counted after any Content-Encoding is undone: a gzip bomb stops at the bound, on disk, in 64 kB steps.
      const counter = boundedCounter('the downloaded result', { maxBytes: limits.maxBytes ?? Infinity, maxRatio: Infinity }, undefined, limits.check);
      try {
        await pipeline(answer.body, counter.stream, createWriteStream(destPath));
      } catch (e) {
        if (e instanceof ResultTooLargeError || e instanceof NotAnImageError) throw new ApiError(e.message, 0, 'download', e.type);
        throw e;
      }
      const disposition = answer.headers['content-disposition'];
      return {
        filename: disposition ? filenameFromDisposition(disposition) : undefined,
        bytes: counter.bytes(),
        head: counter.head(),
      };
    });
  }

  // ── plumbing ────────────────────────────────────────────────────────────────────────────────

  private startUrl(path: string): string {
    return new URL(`v1/${path}`, this.base).toString();
  }

  private workerUrl(ref: Pick<TaskRef, 'server'>, path: string): string {
    // The API returns a bare host; reuse the configured URL's scheme (docs/protocol.md §1).
    const server = ref.server.replace(/^https?:\/\//, '').replace(/\/+$/, '');
    return `${this.base.protocol}//${server}/v1/${path}`;
  }

  private async got(): Promise<Got> {
    if (!this.gotInstance) {
      const { default: got } = await import('got');
      this.gotInstance = makeGot(got, this.options);
    }
    return this.gotInstance;
  }

  private async headers(): Promise<Record<string, string>> {
    return { authorization: `Bearer ${await this.signer.get()}` };
  }

  private async call<T>(spec: RequestSpec): Promise<T> {
    return this.withRetries(spec, async () => {
      const headers = await this.headers();
      const signal = spec.unabortable ? undefined : this.options.signal;
      let res: { statusCode: number; headers: IncomingHttpHeaders; body: string };
      if (this.options.dispatch) {
        const answer = await sendInProcess(this.options.dispatch, { method: spec.method, url: spec.url, headers, json: spec.json, upload: spec.upload, signal, timeoutMs: this.options.timeoutMs });
        res = { statusCode: answer.statusCode, headers: answer.headers, body: await readAnswerText(answer, spec.step) };
      } else res = await gotCall(await this.got(), spec, headers, signal);
      const body = parseBody(res.body);
      if (res.statusCode >= 400) throw ApiError.fromResponse(res.statusCode, spec.step, body, retryAfterOf(res));
      return body as T;
    });
  }

  /**
   * The retry policy of every request (defaults: 6 retries, 0.5 s base delay, 30 s cap). Six, because a
   * batch makes thousands of requests: at a 20 % failure rate a request then fails for good about once
   * in 80,000 (0.2^7), where four retries lost a file in every other 200-image run (test/reliability).
   */
  get retryPolicy(): RetryPolicy {
    return { retries: DEFAULT_RETRIES, baseDelayMs: 500, maxDelayMs: 30_000, ...this.options.retry };
  }

  private async withRetries<T>(spec: Pick<RequestSpec, 'step' | 'method' | 'url' | 'idempotent' | 'unabortable'>, attempt: () => Promise<T>): Promise<T> {
    const signal = spec.unabortable ? undefined : this.options.signal;
    const policy = this.retryPolicy;
    let unauthorized = 0;
    for (let n = 0; ; n++) {
      try {
        return await attempt();
      } catch (raw) {
        const error = toApiError(raw, spec.step, spec.method, spec.url);
        if (signal?.aborted || n >= policy.retries || !shouldRetry(error, spec.idempotent)) throw error;
        // A 401 "Signature verification failed" from a bad node: sign a fresh token and try once more
        // (as ilovepdf-python does). A second one means the key is wrong: fail fast, don't back off.
        if (error instanceof AuthenticationError) {
          if (++unauthorized > 1) throw error;
          this.signer.reset();
        }
        const delayMs = retryDelay(n, error, policy);
        this.options.onRetry?.({ step: spec.step, attempt: n + 1, error, delayMs });
        await sleep(delayMs, signal);
      }
    }
  }
}
