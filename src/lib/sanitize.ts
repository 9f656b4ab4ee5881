/**
 * What the CLI prints is its own words, never a server's control codes or a secret (README "Security").
 *
 * - `cleanText`: text that came from a server (error messages, `param`, task fields, file names) loses
 *   every control character (ESC, BEL, DEL, the C1 range, bidirectional overrides), so no answer can
 *   clear the screen, retitle the terminal or colour a line; line breaks become spaces.
 * - `redact`: every line printed, in every mode, loses the secret key (and the file encryption key)
 *   and anything shaped like a JWT, whatever its origin. `guardStream` applies it to a stream's text
 *   writes (binary writes, an image sent to stdout, pass untouched).
 */

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function cleanText(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ').replace(CONTROL, '');
}

const secrets = new Set<string>();

/** Registers a secret to be removed from everything printed (shorter than 8 characters: ignored). */
export function addSecret(secret: string | undefined): void {
  if (secret && secret.length >= 8) secrets.add(secret);
}

const JWT = /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;

export function redact(text: string): string {
  let out = text.replace(JWT, '[redacted token]');
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('[redacted]');
  // The C1 range is never the CLI's own output (its colours are 7-bit ESC sequences).
  return out.replace(/[\u0080-\u009f]/g, '');
}

const guarded = new WeakMap<object, object>();

/**
 * `stream` with every string write passed through `redact`; everything else is the stream itself.
 * The same stream always gets the same guard (and a guard is its own guard), so code that keys on the
 * stream — the terminal writer of screen.ts, shared by the entry point and the reporter — sees one object.
 */
export function guardStream<S extends NodeJS.WritableStream>(stream: S): S {
  const known = guarded.get(stream);
  if (known) return known as S;
  const write = (chunk: unknown, ...rest: unknown[]) =>
    (stream.write as (...a: unknown[]) => boolean).call(stream, typeof chunk === 'string' ? redact(chunk) : chunk, ...rest);
  const proxy = new Proxy(stream, {
    get(target, prop) {
      if (prop === 'write') return write;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  guarded.set(stream, proxy);
  guarded.set(proxy, proxy);
  return proxy;
}
