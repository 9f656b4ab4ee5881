/**
 * The rules that span several parameters (src/protocol/rules.ts) give the same verdict on both sides:
 * each case goes through the CLI's step parser and, as a /process body, through `serve` over HTTP.
 * A `clientOnly` rule is refused by the CLI and accepted by the server (the API's answer is
 * UNCONFIRMED, so the server stays liberal).
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStep } from '../../src/flags/tool-params.js';
import { flagFor } from '../../src/protocol/flag-names.js';
import { resolveToolName } from '../../src/protocol/tools.js';
import { withDefaults, type ParamsOf } from '../../src/protocol/typed.js';
import { Harness } from '../server/helpers.js';

interface Case {
  /** The step as the CLI reads it. */
  cli: string[];
  /** The same request as a /process body: tool parameters, plus the files' rotation. */
  wire: Record<string, unknown>;
  rotate?: number;
  /** undefined: accepted; otherwise the parameter at fault, as the server names it. */
  fault?: string;
  clientOnly?: true;
}

const CASES: Case[] = [
  { cli: ['resize', '-p', '50'], wire: { percentage: 50 } },
  { cli: ['resize', '-w', '4'], wire: { pixels_width: 4 } },
  { cli: ['resize'], wire: {}, fault: 'pixels_width' },
  { cli: ['resize', '--resize-mode', 'percentage', '-w', '4'], wire: { resize_mode: 'percentage', pixels_width: 4 }, fault: 'percentage' },
  { cli: ['resize', '-w', '4', '-p', '50'], wire: { pixels_width: 4, percentage: 50 }, fault: 'percentage', clientOnly: true },
  { cli: ['crop', '--width', '4'], wire: { width: 4 }, fault: 'height' },
  { cli: ['crop', '--width', '4', '--height', '4'], wire: { width: 4, height: 4 } },
  { cli: ['rotate'], wire: {}, fault: 'rotate', clientOnly: true },
  { cli: ['rotate', '--rotate', '90'], wire: {}, rotate: 90 },
  { cli: ['convert', '--to', 'png'], wire: { convert_to: 'png' } },
  { cli: ['compress', '-l', 'maximum'], wire: { compression_level: 'maximum' }, fault: 'compression_level' },
  { cli: ['watermark', '--elements', '[{"text":"x"}]'], wire: { elements: [{ text: 'x' }] } },
  { cli: ['watermark', '--elements', '[{"type":"text"}]'], wire: { elements: [{ type: 'text' }] }, fault: 'elements[0][text]' },
  { cli: ['watermark', '--elements', '[{"type":"image"}]'], wire: { elements: [{ type: 'image' }] }, fault: 'elements[0][image]' },
  { cli: ['watermark', '--elements', '[{"text":"x","font_color":"red"}]'], wire: { elements: [{ text: 'x', font_color: 'red' }] }, fault: 'elements[0][font_color]' },
];

/** How the CLI's message names the parameter the server names `param`. */
function cliName(param: string): string {
  const element = /^elements\[(\d+)\]\[(\w+)\]$/.exec(param);
  return element ? `--elements[${element[1]}].${element[2]}` : `--${flagFor(param).flag}`;
}

let h: Harness;
let png: Buffer;
beforeAll(async () => {
  h = await Harness.start();
  png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#336699' } }).png().toBuffer();
});
afterAll(() => h.close());

describe('cross-parameter rules: the CLI and the server agree', () => {
  it.each(CASES.map((c) => [c.cli.join(' '), c] as const))('%s', async (_name, c) => {
    const cli = await parseStep(c.cli).then(
      () => undefined,
      (err: Error) => err.message,
    );
    if (c.fault) expect(cli).toContain(cliName(c.fault));
    else expect(cli).toBeUndefined();

    const tool = resolveToolName(c.cli[0])!;
    const { task, files } = await h.prepare(tool, [['a.png', png]]);
    const body = { task, tool, files: files.map((f) => ({ ...f, rotate: c.rotate ?? 0 })), ...c.wire };
    if (c.fault && !c.clientOnly) {
      const res = await h.process(body, 400);
      expect(Object.keys(res.error.param)).toContain(c.fault);
    } else {
      expect((await h.process(body)).status).toBe('TaskSuccess');
    }
  });
});

describe('typed parameters from the table', () => {
  it('fills the defaults once and types every value; an unknown level never reaches the engine', async () => {
    const p: ParamsOf<'compressimage'> = withDefaults('compressimage', {});
    expect(p).toEqual({ compression_level: 'recommended' });
    expect(withDefaults('resizeimage', { percentage: 5 })).toEqual({ percentage: 5, resize_mode: 'pixels', maintain_ratio: true, no_enlarge_if_smaller: true });
    // @ts-expect-error 'foo' is not a compression level of the table
    const bad: ParamsOf<'compressimage'> = { compression_level: 'foo' };
    expect(bad).toBeDefined();
    const { task, files } = await h.prepare('compressimage', [['a.png', png]]);
    const res = await h.process({ task, tool: 'compressimage', files, compression_level: 'foo' }, 400);
    expect(res.error.param.compression_level[0]).toMatch(/extreme, recommended, low/);
  });
});
