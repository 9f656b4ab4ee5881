/**
 * Watermark element fields that the official PHP library sends besides the reference's own (every
 * public property of its `Element`, defaults included, on every element): folded into the reference's
 * fields where their meaning is clear, handed to the engine where it has an effect, and otherwise
 * accepted and reported as a task warning when they carry anything but the library's neutral default.
 * The mapping and its evidence: docs/protocol.md §11, "Watermark element fields".
 */
import { ParamError, coerceParam, type ParamSpec } from '../protocol/tools.js';
import type { Fields } from './brackets.js';

const int = (name: string, min: number, max: number): ParamSpec => ({ name, type: 'integer', min, max, description: '' });

/** Fields the engine's watermark tool reads (src/engine/watermark.ts), coerced here. */
const GEOMETRY: readonly ParamSpec[] = [
  int('width_percent', 0, 100),
  int('height_percent', 0, 100),
  int('x_pos_percent', 0, 100),
  int('y_pos_percent', 0, 100),
  int('vertical_adjustment', -65535, 65535),
  int('horizontal_adjustment', -65535, 65535),
];

/** Accepted but without a known meaning: a warning when not at the library's default (`undefined`: any value warns). */
const UNCLEAR: Readonly<Record<string, number | undefined>> = { image_resize: 1, zoom: 1, color_shadow: undefined, border: undefined, layer: undefined };

const absent = (v: unknown): boolean => v === undefined || v === null || v === '';

function truthy(v: unknown): boolean {
  return v === true || (typeof v === 'string' && ['1', 'true', 'yes', 'on'].includes(v.trim().toLowerCase())) || v === 1;
}

export interface NormalisedElement {
  /** The element with `mode`, `bold`, `font_weight` and `opacity` folded into reference fields. */
  given: Fields;
  /** Engine fields beyond the reference's (`width_percent`, …), coerced. */
  extra: Fields;
}

/**
 * Rewrites one element as the client sent it. `add(param, message)` records a bad value (400
 * ProcessingError, like every other parameter); `warn` a field accepted without effect.
 */
export function normaliseElement(raw: Fields, index: number, add: (param: string, message: string) => void, warn: (message: string) => void): NormalisedElement {
  const given: Fields = { ...raw };
  const label = (name: string) => `elements[${index}][${name}]`;
  // `mode` is the library's older name for `type` (both default to "text"); `type` wins when both are sent.
  if (absent(given.type) && (given.mode === 'text' || given.mode === 'image')) given.type = given.mode;
  // `bold` (boolean) and `font_weight` ("Bold") add bold to whatever `font_style` says.
  const weight = typeof given.font_weight === 'string' ? given.font_weight.trim().toLowerCase() : '';
  if (truthy(given.bold) || weight === 'bold' || weight === '700') {
    const style = absent(given.font_style) ? '' : String(given.font_style).toLowerCase();
    given.font_style = style.includes('italic') ? 'Bold-Italic' : 'Bold';
  }
  // `opacity` and `transparency` are both opacity in percent (100 = opaque) and the library sends both:
  // the stamp gets their product, so either one set below 100 takes effect.
  if (!absent(given.opacity)) {
    try {
      const opacity = coerceParam(int('opacity', 0, 100), given.opacity, label('opacity')) as number;
      const transparency = absent(given.transparency) ? 100 : Number(given.transparency);
      if (opacity !== 100 && Number.isFinite(transparency)) given.transparency = Math.max(1, Math.round((transparency * opacity) / 100));
    } catch (err) {
      add((err as ParamError).param, (err as ParamError).message);
    }
  }
  const extra: Fields = {};
  for (const spec of GEOMETRY) {
    if (absent(given[spec.name])) continue;
    try {
      extra[spec.name] = coerceParam(spec, given[spec.name], label(spec.name));
    } catch (err) {
      add((err as ParamError).param, (err as ParamError).message);
    }
  }
  for (const [name, neutral] of Object.entries(UNCLEAR)) {
    const value = given[name];
    if (absent(value) || (neutral !== undefined && Number(value) === neutral)) continue;
    warn(`${label(name)}=${String(value).slice(0, 40)} is accepted but has no effect in this engine`);
  }
  return { given, extra };
}
