/**
 * The rules that span several parameters of one tool, written once for both sides: the CLI applies them
 * to the flags of a step (src/flags/tool-params.ts, src/flags/watermark-flags.ts) and the engine's
 * server to a /process body (src/server/params.ts). Single values (type, range, choices) are the
 * table's business (tools.ts `coerceParam`); these run on values already coerced.
 *
 * Each side names parameters its own way in messages (`--pixels-width` on the CLI, `pixels_width` on
 * the wire), hence the `label` callback. A rule marked `clientOnly` guards against a command that would
 * do nothing or contradicts itself, where the API's own answer is UNCONFIRMED: the CLI refuses it, the
 * server stays liberal and accepts it, as it must for the official clients (docs/protocol.md §3.4, §10).
 */
import { checkColor, ParamError, type ParamSpec, type ToolName } from './tools.js';

export type Params = Record<string, unknown>;

export interface Problem {
  /** The parameter at fault, as the side's `label` names it. */
  param: string;
  message: string;
  /** Enforced by the CLI only (see the header). */
  clientOnly?: true;
}

/** How one side names a parameter in its messages. */
export type Label = (param: string) => string;

/** What the rules of one step read: its parameters (coerced, aliases resolved) and each file's rotation. */
export interface StepFacts {
  params: Params;
  rotations: readonly number[];
}

export interface ToolRules {
  /** Fills what the given parameters imply for an absent one; runs before the table's defaults. */
  normalize?(params: Params): void;
  check?(step: StepFacts, label: Label): Problem[];
}

const given = (p: Params, key: string): boolean => p[key] !== undefined && p[key] !== null && p[key] !== '';

/** Cross-parameter rules per tool (a tool without any has no entry). */
export const RULES: Partial<Record<ToolName, ToolRules>> = {
  resizeimage: {
    // Only a percentage given means percentage mode (the reference's default mode is pixels).
    normalize(p) {
      if (given(p, 'resize_mode')) return;
      p.resize_mode = given(p, 'percentage') && !given(p, 'pixels_width') && !given(p, 'pixels_height') ? 'percentage' : 'pixels';
    },
    check({ params: p }, label) {
      if (p.resize_mode === 'percentage') {
        return given(p, 'percentage') ? [] : [{ param: label('percentage'), message: `${label('resize_mode')} percentage needs ${label('percentage')}` }];
      }
      if (!given(p, 'pixels_width') && !given(p, 'pixels_height')) {
        return [{ param: label('pixels_width'), message: `give a size: ${label('pixels_width')} and/or ${label('pixels_height')}, or ${label('percentage')}` }];
      }
      // The reference reads percentage only in percentage mode; the server ignores it otherwise.
      if (given(p, 'percentage')) {
        return [{ param: label('percentage'), message: `${label('percentage')} cannot be combined with ${label('pixels_width')}/${label('pixels_height')}`, clientOnly: true }];
      }
      return [];
    },
  },
  cropimage: {
    check({ params: p }, label) {
      return ['width', 'height'].filter((k) => !given(p, k)).map((k) => ({ param: label(k), message: `${label('width')} and ${label('height')} are both required` }));
    },
  },
  rotateimage: {
    // "Rotate tool has no options, just set rotation property in file" (reference): without one the
    // tool would only re-encode. Whether the API refuses that is UNCONFIRMED.
    check({ rotations }, label) {
      return rotations.some((r) => r !== 0) ? [] : [{ param: label('rotate'), message: `${label('rotate')} <90|180|270> is required`, clientOnly: true }];
    },
  },
  watermarkimage: {
    // At least one element (reference "Watermark extra parameters"; docs/protocol.md §4).
    check({ params: p }, label) {
      return Array.isArray(p.elements) && p.elements.length > 0 ? [] : [{ param: label('elements'), message: 'Elements cannot be blank.' }];
    },
  },
};

/** Normalises a step's parameters in place and returns every problem the rules find. */
export function checkStep(tool: ToolName, step: StepFacts, label: Label): Problem[] {
  const rules = RULES[tool];
  rules?.normalize?.(step.params);
  return rules?.check?.(step, label) ?? [];
}

/**
 * A parameter's value under its name or, when that is absent, under one of its aliases (the convert
 * target `to`/`convert_to`, an element's `image`/`server_filename`): the value and the key it came from.
 */
export function aliasedValue(spec: ParamSpec, fields: Params): { value: unknown; key: string } {
  for (const key of [spec.name, ...(spec.aliases ?? [])]) if (given(fields, key)) return { value: fields[key], key };
  return { value: fields[spec.name], key: spec.name };
}

/**
 * The rules of one watermark element (coerced, `image` alias resolved): its type when not given (an
 * element naming a stamp and no text is an image, docs/protocol.md §5; otherwise the reference's
 * default, text), what each type needs, and the colour written as `#rrggbb`. Normalises in place.
 */
export function checkElement(el: Params, label: Label): Problem[] {
  if (!given(el, 'type')) el.type = given(el, 'image') && !given(el, 'text') ? 'image' : 'text';
  const problems: Problem[] = [];
  if (el.type === 'text' && !String(el.text ?? '').trim()) problems.push({ param: label('text'), message: `${label('text')}: a text element needs a text` });
  if (el.type === 'image' && !given(el, 'image')) {
    problems.push({ param: label('image'), message: `${label('image')}: an image element needs the stamp image (a file uploaded into the task)` });
  }
  if (typeof el.font_color === 'string') {
    try {
      el.font_color = checkColor(el.font_color, label('font_color'));
    } catch (err) {
      if (!(err instanceof ParamError)) throw err;
      problems.push({ param: err.param, message: err.message });
    }
  }
  return problems;
}
