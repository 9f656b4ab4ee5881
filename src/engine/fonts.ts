/**
 * Fonts of the watermark tool's text stamps: the API's font names mapped to installed families, the
 * Pango markup and font description a text stamp is drawn with, and glyph coverage (src/engine/watermark.ts).
 */
import { execFile } from 'node:child_process';

interface FontChoice {
  family: string;
  /** The Debian package that installs it, for the warning when it is missing. */
  pkg: string;
}

/**
 * The API's font names mapped to explicit installed families. We never let fontconfig guess from the
 * API name: what it substitutes depends on the machine (docs/dependencies.md §3 saw "Comic Sans MS" become a
 * calligraphic script and "Impact" a Dingbats font). Liberation fonts are metric-compatible with Arial,
 * Times New Roman and Courier New; DejaVu Sans descends from Bitstream Vera, Verdana's look-alike, and
 * covers Latin, Greek, Cyrillic and Arabic for "Arial Unicode MS" (CJK glyphs then fall back through
 * fontconfig to WenQuanYi Zen Hei when it is installed).
 */
export const FONT_MAP: Readonly<Record<string, FontChoice>> = {
  Arial: { family: 'Liberation Sans', pkg: 'fonts-liberation2' },
  'Arial Unicode MS': { family: 'DejaVu Sans', pkg: 'fonts-dejavu-core' },
  Verdana: { family: 'DejaVu Sans', pkg: 'fonts-dejavu-core' },
  Courier: { family: 'Liberation Mono', pkg: 'fonts-liberation2' },
  'Times New Roman': { family: 'Liberation Serif', pkg: 'fonts-liberation2' },
  'Comic Sans MS': { family: 'Comic Neue', pkg: 'fonts-comic-neue' },
  'WenQuanYi Zen Hei': { family: 'WenQuanYi Zen Hei', pkg: 'fonts-wqy-zenhei' },
  'Lohit Marathi': { family: 'Lohit Marathi', pkg: 'fonts-lohit-deva-marathi' },
};

/** Used when the mapped family is not installed: DejaVu is on every machine of ours (docs/dependencies.md §3). */
export const FALLBACK_FONT: FontChoice = { family: 'DejaVu Sans', pkg: 'fonts-dejavu-core' };

let installedFamilies: Promise<Set<string> | undefined> | undefined;

/**
 * The font families fontconfig knows, lower-cased, from one `fc-list` run per process (sharp's bundled
 * fontconfig reads the same /etc/fonts configuration). Undefined when fc-list is not available: then we
 * cannot tell and trust the mapping.
 */
export function installedFonts(): Promise<Set<string> | undefined> {
  installedFamilies ??= new Promise((resolve) => {
    execFile('fc-list', [':', 'family'], { timeout: 10_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => {
      if (err) return resolve(undefined);
      const families = new Set<string>();
      for (const line of stdout.split('\n')) {
        for (const name of line.split(',')) {
          const family = name.replace(/\\/g, '').trim().toLowerCase();
          if (family) families.add(family);
        }
      }
      resolve(families);
    });
  });
  return installedFamilies;
}

const coverage = new Map<number, Promise<boolean>>();

/**
 * The characters of `text` that no installed font has (Pango would draw them as boxes), asked of
 * fontconfig once per character per process; ASCII is taken as covered. Empty when fc-list is missing.
 */
export async function missingGlyphs(text: string): Promise<string[]> {
  const chars = [...new Set([...text].filter((c) => c.codePointAt(0)! > 0x7e && c.trim() !== ''))].slice(0, 64);
  const covered = await Promise.all(
    chars.map((c) => {
      const cp = c.codePointAt(0)!;
      let p = coverage.get(cp);
      if (!p) {
        p = new Promise<boolean>((resolve) => execFile('fc-list', [`:charset=${cp.toString(16)}`, 'family'], { timeout: 10_000 }, (err, out) => resolve(Boolean(err) || out.trim() !== '')));
        coverage.set(cp, p);
      }
      return p;
    }),
  );
  return chars.filter((_, i) => !covered[i]);
}

/** The family to render `requested` with, and a warning when a substitute had to be used. */
export function resolveFont(requested: string, installed: Set<string> | undefined): { family: string; warning?: string } {
  const choice = FONT_MAP[requested] ?? Object.entries(FONT_MAP).find(([k]) => k.toLowerCase() === requested.toLowerCase())?.[1];
  if (!choice) {
    return {
      family: FALLBACK_FONT.family,
      warning: `font_family "${requested}" is not one of ${Object.keys(FONT_MAP).join(', ')}; "${FALLBACK_FONT.family}" was used instead`,
    };
  }
  if (!installed || installed.has(choice.family.toLowerCase())) return { family: choice.family };
  return {
    family: FALLBACK_FONT.family,
    warning: `font_family "${requested}" needs the font "${choice.family}" (Debian package ${choice.pkg}), which is not installed; "${FALLBACK_FONT.family}" was used instead`,
  };
}

/** Pango parses markup in every text, so the user's text must be escaped. */
export function escapeMarkup(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/**
 * The Pango font description. The comma after the family is required: without it "Times New Roman 32"
 * parses as family "Times New" with style "Roman" (docs/dependencies.md §2).
 */
export function pangoFont(family: string, style: string, size: number): string {
  const s = style.toLowerCase();
  const words = [s.includes('bold') ? 'Bold' : '', s.includes('italic') ? 'Italic' : ''].filter(Boolean).join(' ');
  return `${family}, ${words ? `${words} ` : ''}${size}`;
}
