/**
 * Self-signed JWTs, exactly as the official server-side libraries make them (docs/protocol.md §2.1):
 * HS256 with the project's secret key, the public key in `jti`, `iss`/`aud` empty, `iat`/`nbf`
 * back-dated by 5400 s and `exp` = now + 3600 + 5400, so a client whose clock is off by up to
 * 90 minutes still gets in (the PHP library's reasoning). jose is imported lazily.
 */

/** How far the official libraries back-date `iat`/`nbf` and extend `exp`. */
const SKEW_SECONDS = 5400;
const LIFETIME_SECONDS = 3600;
/** A token is reused for this long, then signed anew, so a batch of any length never sends an old one. */
const REUSE_SECONDS = 1800;

export interface Credentials {
  publicKey: string;
  secretKey: string;
  /** Sent as the `file_encryption_key` claim on every call when set (reference: "File Encryption"). */
  fileEncryptionKey?: string;
}

export class TokenSigner {
  private token?: string;
  private signedAt = 0;

  constructor(
    private readonly credentials: Credentials,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  /** A valid token, signed anew every 30 minutes. */
  async get(): Promise<string> {
    const now = this.now();
    if (this.token && now - this.signedAt < REUSE_SECONDS && now >= this.signedAt) return this.token;
    const { SignJWT } = await import('jose');
    const claims: Record<string, string> = { jti: this.credentials.publicKey };
    if (this.credentials.fileEncryptionKey) claims.file_encryption_key = this.credentials.fileEncryptionKey;
    const exp = now + LIFETIME_SECONDS + SKEW_SECONDS;
    this.token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('')
      .setAudience('')
      .setIssuedAt(now - SKEW_SECONDS)
      .setNotBefore(now - SKEW_SECONDS)
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(this.credentials.secretKey));
    this.signedAt = now;
    return this.token;
  }

  /** Drops the cached token (after a 401 "Signature verification failed", sign again). */
  reset(): void {
    this.token = undefined;
    this.signedAt = 0;
  }
}
