/**
 * The requests of the official iLoveIMG PHP library (v1.1.17), reproduced byte for byte where it
 * matters, so that CI guards compatibility without PHP (docs/protocol.md §11 lists the evidence).
 *
 * - Every request carries `Authorization: Bearer <HS256 JWT>` and `Accept: application/json`.
 * - GETs (`start`, `info`, `download`) still carry a form body `v=php.1.1.17` (Guzzle `form_params`).
 * - `/process` is x-www-form-urlencoded in PHP bracket notation (`http_build_query`): every public
 *   property of the task object, null omitted, true → 1, false → 0, objects as their public properties.
 * - Tool names: the task classes send the slug (`compressimage`), `next('compress')` the short name.
 * - The worker base is `'https://' . $start->server`; a webhook listener uses `$_POST['server']` as is.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { signToken } from './helpers.js';
import type { ProjectKeys } from '../../src/server/options.js';

export const PHP_VERSION = 'php.1.1.17';

/** PHP's `http_build_query` on a nested array (no numeric prefix, RFC 1738 as Guzzle uses it). */
export function httpBuildQuery(data: Record<string, unknown>): string {
  const pairs: string[] = [];
  const walk = (value: unknown, key: string): void => {
    if (value === null || value === undefined) return;
    if (typeof value === 'object') {
      const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
      for (const [k, v] of entries) walk(v, `${key}[${k}]`);
      return;
    }
    const text = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
    pairs.push(`${encodeURIComponent(key).replace(/%20/g, '+')}=${encodeURIComponent(text).replace(/%20/g, '+')}`);
  };
  for (const [k, v] of Object.entries(data)) walk(v, k);
  return pairs.join('&');
}

/** The public properties `ImageTask::__toArray()` sends on execute, with the library's defaults. */
export function taskProperties(tool: string, task: string, files: PhpFile[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    task,
    files,
    tool,
    packaged_filename: null,
    output_filename: null,
    ignore_errors: true,
    try_repair: true,
    webhook: null,
    custom_int: null,
    custom_string: null,
    result: null,
    outputFile: null,
    outputFileName: null,
    outputFileType: null,
    remainingFiles: 999,
    token: 'the.jwt.itself',
    info: null,
    ...extra,
    v: PHP_VERSION,
  };
}

/** `Iloveimg\File`'s public properties. */
export interface PhpFile {
  server_filename: string;
  filename: string;
  rotate: number;
}

/** A new `Iloveimg\Element` (public properties and their defaults, src/Element.php), with overrides. */
export function phpElement(values: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'text',
    mode: 'text',
    text: null,
    image: null,
    vertical_adjustment: 0,
    horizontal_adjustment: 0,
    vertical_adjustment_percent: 0,
    horizontal_adjustment_percent: 0,
    width_percent: 100,
    height_percent: 100,
    x_pos_percent: 0,
    y_pos_percent: 0,
    rotation: 0,
    transparency: 100,
    opacity: 100,
    mosaic: false,
    font_family: 'Arial',
    font_style: 'Regular',
    font_weight: null,
    font_color: '#000000',
    color_shadow: null,
    font_size: 14,
    image_resize: 1,
    zoom: 1,
    gravity: 'Center',
    border: null,
    layer: null,
    bold: false,
    server_filename: null,
    ...values,
  };
}

export interface PhpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json: () => any;
}

/** One HTTP exchange with an optional body on any method, as Guzzle does it. */
export function send(method: string, url: string, headers: Record<string, string>, body?: Buffer | string): Promise<PhpResponse> {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  const payload = body === undefined ? undefined : Buffer.from(body);
  const allHeaders = payload ? { ...headers, 'Content-Length': String(payload.length) } : headers;
  return new Promise((resolve, reject) => {
    const req = request(u, { method, headers: allHeaders, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, headers: res.headers, body: buf, json: () => JSON.parse(buf.toString()) });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** The library's request layer: `Iloveimg::sendRequest` with a start server and a worker server. */
export class PhpClient {
  workerServer: string | undefined;

  constructor(
    readonly startServer: string,
    readonly project: ProjectKeys,
    readonly claims: Record<string, unknown> = {},
  ) {}

  private async headers(): Promise<Record<string, string>> {
    return { Authorization: `Bearer ${await signToken(this.project, this.claims)}`, Accept: 'application/json', 'User-Agent': 'GuzzleHttp/7' };
  }

  /** A `form_params` request (GET included) to the worker, or to the start server when `start` or no worker is known. */
  async form(method: string, endpoint: string, data: Record<string, unknown>, start = false): Promise<PhpResponse> {
    const base = !start && this.workerServer ? this.workerServer : this.startServer;
    const headers = { ...(await this.headers()), 'Content-Type': 'application/x-www-form-urlencoded' };
    return send(method.toUpperCase(), `${base}/v1/${endpoint}`, headers, httpBuildQuery(data));
  }

  /** `ImageTask::start()`: GET start/{tool}, then the worker is `'https://' . server` (`http://` for a plain test server). */
  async start(tool: string): Promise<string> {
    const res = await this.form('get', `start/${tool}`, { v: PHP_VERSION }, true);
    if (res.status !== 200) throw new Error(`start/${tool}: ${res.status} ${res.body}`);
    const body = res.json();
    this.workerServer = `${new URL(this.startServer).protocol}//${body.server}`;
    return body.task;
  }

  /** `ImageTask::uploadFile()`: multipart with the file part first, then task and v. */
  async upload(task: string, filename: string, data: Buffer): Promise<PhpFile> {
    const boundary = '----php' + Math.random().toString(16).slice(2);
    const part = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\nContent-Length: ${Buffer.byteLength(value)}\r\n\r\n${value}\r\n`;
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-type: multipart/form-data\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Length: ${data.length}\r\n\r\n`),
      data,
      Buffer.from(`\r\n${part('task', task)}${part('v', PHP_VERSION)}--${boundary}--\r\n`),
    ]);
    const headers = { ...(await this.headers()), 'Content-Type': `multipart/form-data; boundary=${boundary}` };
    const res = await send('POST', `${this.workerServer}/v1/upload`, headers, body);
    if (res.status !== 200) throw new Error(`upload: ${res.status} ${res.body}`);
    return { server_filename: res.json().server_filename, filename, rotate: 0 };
  }

  /** `ImageTask::execute()`. */
  execute(properties: Record<string, unknown>): Promise<PhpResponse> {
    return this.form('post', 'process', properties);
  }

  /** `ImageTask::next($nextTool)`: the short name goes on the wire as given. */
  next(task: string, nextTool: string): Promise<PhpResponse> {
    return this.form('post', 'task/next', { v: PHP_VERSION, task, tool: nextTool });
  }

  /** `ImageTask::downloadRequestData()` and the file name it takes from Content-Disposition. */
  async download(task: string): Promise<{ status: number; filename: string; bytes: Buffer }> {
    const res = await this.form('get', `download/${task}`, { v: PHP_VERSION });
    const cd = String(res.headers['content-disposition'] ?? '');
    const utf = /filename\*=utf-8''([\W\w]+)/.exec(cd);
    const filename = utf ? decodeURIComponent(utf[1].replace(/"/g, '')) : (/ .*filename="([\W\w]+)"/.exec(cd)?.[1] ?? '').replace(/"/g, '');
    return { status: res.status, filename, bytes: res.body };
  }
}
