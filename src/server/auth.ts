/**
 * JWT authentication as the official clients need it (docs/protocol.md §2).
 *
 * HS256 only, signed with the secret of the project whose public key is in `jti` (or `iss` when `jti`
 * is absent). Deliberately lenient where the clients differ: `exp`, `nbf`, `aud` are optional, `iss`
 * is not checked, and `iat`/`nbf`/`exp` may be floats (js-core) or date strings (.NET serialises
 * DateTime objects). Deliberately strict where it matters: other algorithms (and `none`) are refused,
 * a token dated clearly in the future is refused, a past `exp` is refused, an `exp` that is present
 * but unreadable (`"never"`) is refused rather than read as "no expiry", and a token given as
 * `?token=` (a download link, which travels in URLs and logs) must carry an `exp` at most
 * DOWNLOAD_TOKEN_MAX_LIFETIME after its `iat` (or after now), so no link lives for ever.
 *
 * Claims are checked by hand after `compactVerify` because jose's JWT claim checks reject non-numeric
 * `iat`, which .NET sends.
 */
import { SignJWT, compactVerify, decodeJwt, decodeProtectedHeader, type JWTPayload } from 'jose';
import type { IncomingMessage } from 'node:http';
import { UnauthorizedError } from './errors.js';
import type { ProjectKeys } from './options.js';

/** Who is calling, and the file encryption key their token carries, if any. */
export interface AuthContext {
  project: ProjectKeys;
  encryptionKey?: string;
}

/** How far in the future `iat`/`nbf` may be (client clocks drift; PHP back-dates by 5400 s anyway). */
const CLOCK_SKEW_SECONDS = 300;
/** Lifetime of tokens issued by /auth (the reference: "all signed tokens expire after 2 hours"). */
const ISSUED_TOKEN_LIFETIME = '2h';
/** The longest `exp − iat` of a `?token=` link: 2 h tokens, plus PHP's 5400 s back-dated `iat`, plus margin. */
export const DOWNLOAD_TOKEN_MAX_LIFETIME = 4 * 3600;

const encoder = new TextEncoder();

/**
 * Tokens whose signature was already checked, with the secret they were checked against. A client
 * signs one token and sends it on every request of a batch (thousands), and the HMAC check was the
 * largest single cost of a small-file request in the engine (docs/performance.md). Only the signature
 * is remembered: the time claims are checked on every request. Bounded: the oldest entry goes first.
 */
const verified = new Map<string, string>();
const VERIFIED_MAX = 256;

async function checkSignature(token: string, secretKey: string): Promise<void> {
  if (verified.get(token) === secretKey) return;
  await compactVerify(token, encoder.encode(secretKey), { algorithms: ['HS256'] });
  if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value as string);
  verified.set(token, secretKey);
}

/**
 * The bearer token of a request: the Authorization header, or `?token=` where the caller allows it;
 * and whether it came from the URL (`?token=`: a link, held to a bounded lifetime).
 */
export function tokenOf(req: IncomingMessage, query?: URLSearchParams): { token?: string; fromQuery: boolean } {
  const header = req.headers.authorization;
  const m = header ? /^\s*Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (m) return { token: m[1], fromQuery: false };
  const token = query?.get('token') ?? undefined;
  return { token, fromQuery: token !== undefined };
}

/** A numeric, numeric-string, `/Date(ms)/` or ISO date claim in seconds; undefined when unreadable. */
export function claimSeconds(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  if (/^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  const dotNet = /^\/Date\((-?\d+)/.exec(value);
  if (dotNet) return Number(dotNet[1]) / 1000;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms / 1000 : undefined;
}

function decode(token: string): { alg: unknown; claims: JWTPayload } {
  if (token.split('.').length !== 3) throw new UnauthorizedError('Wrong number of segments');
  try {
    return { alg: decodeProtectedHeader(token).alg, claims: decodeJwt(token) };
  } catch {
    throw new UnauthorizedError('Malformed token');
  }
}

export async function verifyToken(
  token: string | undefined,
  projects: ReadonlyMap<string, ProjectKeys>,
  nowSeconds = Date.now() / 1000,
  opts: { fromQuery?: boolean } = {},
): Promise<AuthContext> {
  if (!token) throw new UnauthorizedError('Your request was made with invalid credentials: no bearer token');
  const { alg, claims } = decode(token);
  if (alg !== 'HS256') throw new UnauthorizedError('Algorithm not allowed');

  const publicKey = typeof claims.jti === 'string' && claims.jti !== '' ? claims.jti : claims.iss;
  const project = typeof publicKey === 'string' ? projects.get(publicKey) : undefined;
  if (!project) throw new UnauthorizedError('Invalid public key');

  try {
    await checkSignature(token, project.secretKey);
  } catch {
    throw new UnauthorizedError('Signature verification failed');
  }

  for (const name of ['nbf', 'iat'] as const) {
    const t = claimSeconds(claims[name]);
    if (t !== undefined && t > nowSeconds + CLOCK_SKEW_SECONDS) {
      throw new UnauthorizedError(`Cannot handle token prior to ${new Date(t * 1000).toISOString()}`);
    }
  }
  const exp = claimSeconds(claims.exp);
  if (exp === undefined && claims.exp !== undefined && claims.exp !== null) throw new UnauthorizedError('Unreadable exp claim');
  if (exp !== undefined && exp <= nowSeconds) throw new UnauthorizedError('Expired token');
  if (opts.fromQuery) {
    const from = claimSeconds(claims.iat) ?? nowSeconds;
    if (exp === undefined) throw new UnauthorizedError('A ?token= link needs an exp claim');
    if (exp - Math.min(from, nowSeconds) > DOWNLOAD_TOKEN_MAX_LIFETIME) {
      throw new UnauthorizedError(`A ?token= link may live at most ${DOWNLOAD_TOKEN_MAX_LIFETIME} s (exp - iat)`);
    }
  }

  const key = claims.file_encryption_key;
  return { project, encryptionKey: typeof key === 'string' && key !== '' ? key : undefined };
}

/** The token `POST /auth` hands out: what a self-signing client would make, valid for two hours. */
export async function issueToken(project: ProjectKeys, issuer: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(issuer)
    .setJti(project.publicKey)
    .setIssuedAt()
    .setNotBefore('0s')
    .setExpirationTime(ISSUED_TOKEN_LIFETIME)
    .sign(encoder.encode(project.secretKey));
}
