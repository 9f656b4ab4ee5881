/**
 * From parsed flags to the typed parameters of one pipeline step, with the checks that need more than
 * one flag (resize needs a size, crop needs an area, …). Shared by the tool commands, `--then` and
 * `chain`, so a step means the same wherever it is written.
 */
import { Command } from 'commander';
import { COMMON_PARAMS, FILE_PARAMS, TOOLS, checkEncryptionKey, toolByCommand, toolByName, ParamError, type ToolSpec } from '../protocol/tools.js';
import { checkStep } from '../protocol/rules.js';
import { didYouMean } from './suggest.js';
import type { PipelineStep } from '../run/model.js';
import { UsageError } from '../lib/errors.js';
import { addParamOptions, flagLabel, flagParams, readParams } from './tool-flags.js';
import { buildWatermarkElements, addWatermarkOptions } from './watermark-flags.js';

/** Registers a tool's own flags, the per-file flags and the common API flags on `cmd`. */
export function addToolOptions(cmd: Command, spec: ToolSpec, opts: { forStep?: boolean } = {}): void {
  if (spec.tool === 'watermarkimage') addWatermarkOptions(cmd);
  else addParamOptions(cmd, flagParams(spec.params, opts));
  addParamOptions(cmd, flagParams(FILE_PARAMS, opts));
  addParamOptions(cmd, flagParams(COMMON_PARAMS, opts));
}

/** Reads a step back from a command that `addToolOptions` prepared. */
export async function readStep(cmd: Command, spec: ToolSpec, cwd = process.cwd()): Promise<PipelineStep & { stampFiles: string[] }> {
  const common = readParams(cmd, COMMON_PARAMS);
  const file = readParams(cmd, FILE_PARAMS);
  let params: Record<string, unknown>;
  let stampFiles: string[] = [];
  if (spec.tool === 'watermarkimage') {
    const wm = await buildWatermarkElements(cmd, cwd);
    params = { elements: wm.elements };
    stampFiles = wm.stampFiles;
  } else {
    params = readParams(cmd, spec.params);
  }
  validateStep(spec, params, file);
  if (typeof common.file_encryption_key === 'string') {
    try {
      checkEncryptionKey(common.file_encryption_key, '--file-encryption-key');
    } catch (e) {
      throw new UsageError((e as ParamError).message);
    }
  }
  return {
    tool: spec.tool,
    params: { ...common, ...params },
    fileParams: { rotate: file.rotate as number | undefined, password: file.password as string | undefined },
    stampFiles,
  };
}

/**
 * The rules that need several flags together, shared with the server (src/protocol/rules.ts); the CLI
 * also enforces the ones the server leaves open. Each message names the flags to use.
 */
function validateStep(spec: ToolSpec, params: Record<string, unknown>, file: Record<string, unknown>): void {
  const rotations = [typeof file.rotate === 'number' ? file.rotate : 0];
  const [problem] = checkStep(spec.tool, { params, rotations }, flagLabel);
  if (problem) throw new UsageError(`${spec.command}: ${problem.message}`);
}

/** Splits a `--then` string the way a POSIX shell would (quotes and backslashes; no expansion). */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) cur += text[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      cur += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new UsageError(`unbalanced ${quote} in ${JSON.stringify(text)}`);
  if (inWord) words.push(cur);
  return words;
}

/**
 * Parses one step, `'<tool> [flags]'` (a `--then` value or a `chain` argument), with the same flags
 * the tool's own command has, minus the ones that belong to the whole run.
 */
export async function parseStep(text: string | string[], cwd = process.cwd()): Promise<PipelineStep & { stampFiles: string[] }> {
  const words = Array.isArray(text) ? text : shellWords(text);
  const [name, ...rest] = words;
  const spec = name ? (toolByCommand(name) ?? toolByName(name)) : undefined;
  if (!spec) {
    const guess = name ? didYouMean(name, TOOLS.map((t) => t.command)) : undefined;
    throw new UsageError(
      `unknown tool in pipeline step ${JSON.stringify(Array.isArray(text) ? text.join(' ') : text)}${guess ? `; did you mean ${guess}?` : ''}`,
      `A step starts with one of: ${TOOLS.map((t) => t.command).join(', ')}.`,
    );
  }
  const cmd = new Command(spec.command).exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined }).allowExcessArguments(false);
  addToolOptions(cmd, spec, { forStep: true });
  try {
    cmd.parse(rest, { from: 'user' });
  } catch (e) {
    throw new UsageError(`in step '${words.join(' ')}': ${(e as Error).message.replace(/^error: /, '')}`);
  }
  return readStep(cmd, spec, cwd);
}
