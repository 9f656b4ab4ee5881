/**
 * The one writer of human text to stderr. Every line a person reads (file results, warnings, the
 * summary, the first Ctrl-C notice) goes through `Screen.line`, and the progress bar is drawn only
 * here, so the two never fight:
 *
 * - a line is printed above the bar: the bar's row is cleared, the line written, the bar redrawn
 *   below it, in one write; nothing ever saves or restores the cursor position (ESC 7/8), which is
 *   what left stale bars and summaries on top of file lines;
 * - the bar is one row, cut to the terminal's width (never wrapping), redrawn at most every 80 ms;
 * - `clear()` removes the bar and shows the cursor again; an exit handler does the same on every
 *   other way out (an error, a second Ctrl-C's process.exit), so the cursor is never left hidden.
 *
 * `screenFor(stream)` returns the same Screen for the same stream, so the entry point, the IO of a
 * command and the reporter all share it. Text passes through `Screen.line` once: the place to clean
 * server text before it reaches a terminal.
 */
import { writeSync } from 'node:fs';
import type { Writable } from 'node:stream';

type Stream = Writable & { isTTY?: boolean; columns?: number; fd?: number };

export interface Screen {
  /** One line for a person, above the bar when one is drawn. */
  line(text: string): void;
  /** Shows (or updates) the one-row status bar (the caller decides that stderr is a terminal). */
  bar(text: string): void;
  /** Removes the bar and shows the cursor. Safe to call more than once. */
  clear(): void;
}

const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
const CLEAR_ROW = '\r\x1b[2K';
const REDRAW_MS = 80;
const WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1faff}\u{20000}-\u{3fffd}]/u;

const screens = new WeakMap<object, Screen>();

export function screenFor(stream: Stream): Screen {
  let s = screens.get(stream);
  if (!s) screens.set(stream, (s = createScreen(stream)));
  return s;
}

function createScreen(stream: Stream): Screen {
  let barText: string | undefined;
  let drawn = false;
  let lastDraw = 0;
  let timer: NodeJS.Timeout | undefined;
  const restoreOnExit = () => {
    if (!drawn) return;
    drawn = false;
    // process.exit does not wait for stream writes: write the restore synchronously.
    try {
      if (typeof stream.fd === 'number') writeSync(stream.fd, CLEAR_ROW + SHOW_CURSOR);
      else stream.write(CLEAR_ROW + SHOW_CURSOR);
    } catch {
      /* the terminal is gone */
    }
  };
  const render = () => {
    // Cut to the terminal's width (wide CJK characters count twice): a wrapped bar cannot be redrawn.
    const width = Math.max(10, (stream.columns ?? 80) - 1);
    let used = 0;
    let out = '';
    for (const c of barText ?? '') {
      const w = WIDE.test(c) ? 2 : 1;
      if (used + w > width - 1) return `${CLEAR_ROW}${out}…`;
      used += w;
      out += c;
    }
    return CLEAR_ROW + out;
  };
  const draw = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (barText === undefined) return;
    lastDraw = Date.now();
    if (!drawn) process.once('exit', restoreOnExit);
    stream.write((drawn ? '' : HIDE_CURSOR) + render());
    drawn = true;
  };
  return {
    line(text) {
      if (!drawn) return void stream.write(`${text}\n`);
      stream.write(`${CLEAR_ROW}${text}\n${render()}`);
    },
    bar(text) {
      barText = text;
      const wait = REDRAW_MS - (Date.now() - lastDraw);
      if (!drawn || wait <= 0) draw();
      else timer ??= setTimeout(draw, wait).unref();
    },
    clear() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      barText = undefined;
      if (!drawn) return;
      drawn = false;
      process.off('exit', restoreOnExit);
      stream.write(CLEAR_ROW + SHOW_CURSOR);
    },
  };
}
