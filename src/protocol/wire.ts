/**
 * Response shapes of the iLoveIMG REST API v1, as the reference and the official clients define them
 * (docs/protocol.md §3, §6). Shared by the API client (which reads them) and the
 * engine (which writes them). Only documented fields live here: never add a field for our own pair.
 */
import type { FileStatus, TaskStatus, ToolName } from './tools.js';

/** `GET /v1/start/{tool}` */
export interface StartResponse {
  /** Bare worker host name (e.g. `api8g.iloveimg.com`); clients add the scheme. */
  server: string;
  task: string;
  remaining_files: number;
}

/** `POST /v1/auth` */
export interface AuthResponse {
  token: string;
}

/** `POST /v1/upload` */
export interface UploadResponse {
  server_filename: string;
}

/** One entry of `files[]` in a process body. */
export interface ProcessFile {
  server_filename: string;
  filename: string;
  rotate?: number;
  password?: string;
}

/** `POST /v1/process` (synchronous form). */
export interface ProcessResponse {
  download_filename: string;
  filesize: number;
  output_filesize: number;
  output_filenumber: number;
  /** An array from some servers, a JSON string like `["jpg"]` from others: accept both. */
  output_extensions: string[] | string;
  timer: string;
  status: TaskStatus;
  status_message?: string;
}

/** One file of a task resource. */
export interface TaskFile {
  server_filename: string;
  status: FileStatus;
  status_message: string;
  filename: string;
  timer: number;
  filesize: number;
  output_filesize: number;
}

/** `GET /v1/task/{task}`, the items of the task list, and webhook payloads. */
export interface TaskResource {
  tool: ToolName | string;
  process_start: string;
  status: TaskStatus;
  status_message: string;
  timer: string;
  filesize: number;
  output_filesize: number;
  output_filenumber: number;
  output_extensions: string[] | string;
  server: string;
  task: string;
  file_number: string;
  download_filename: string;
  custom_int: number | null;
  custom_string: string | null;
  files: TaskFile[];
}

/** `POST /v1/task/next` */
export interface NextTaskResponse {
  task: string;
  /** server_filename → original filename */
  files: Record<string, string>;
}

/** `GET /v1/info` */
export interface InfoResponse {
  remaining_files: number;
  [key: string]: unknown;
}

export type ErrorType = 'UploadError' | 'ProcessingError' | 'DownloadError' | 'StartError' | 'TaskError' | 'HTTP Error' | string;

/** The error shape of 400/404/429/5xx responses. */
export interface ErrorBody {
  error: {
    type: ErrorType;
    message: string;
    code: number | string;
    param?: Record<string, unknown> | unknown[];
  };
}

/** The framework-style shape of 401 responses (`{name, message, code, status}`). */
export interface UnauthorizedBody {
  name: string;
  message: string;
  code: number;
  status: 401;
}

export const FINAL_TASK_STATUSES: readonly TaskStatus[] = ['TaskSuccess', 'TaskSuccessWithWarnings', 'TaskError', 'TaskDeleted', 'TaskNotFound'];
