/**
 * @module lib/crypto
 * Random opaque tokens, SHA-256 digests for storing them, constant-time comparison, PKCE S256,
 * and AES-256-GCM sealing of forge tokens at rest with rotatable keys.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 256 bits of randomness, base64url, with an optional readable prefix (`mcpb_at_…`). */
export function randomToken(prefix = '', bytes = 32): string {
  return prefix + randomBytes(bytes).toString('base64url');
}

/** Hex SHA-256 of a secret; what the store keeps instead of the secret. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Constant-time string comparison (false on length mismatch). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** RFC 7636 §4.2 S256: BASE64URL(SHA256(ASCII(code_verifier))). */
export function pkceS256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** Thrown by {@link Sealer.open} when no key opens the box or it was tampered with. */
export class SealError extends Error {
  override name = 'SealError';
}

/**
 * AES-256-GCM with a key ring: `keys[0]` seals, every key opens. A sealed box is
 * `v1.<key id>.<iv>.<ciphertext+tag>` (base64url parts); the key id is the first 8 hex digits of
 * SHA-256(key) so rotation needs no bookkeeping. `aad` binds the box to its row (e.g. person id),
 * so a box copied to another row does not open.
 */
export class Sealer {
  private readonly ring: { id: string; key: Buffer }[];
  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0) throw new Error('Sealer needs at least one 32-byte key');
    this.ring = keys.map((key) => {
      if (key.length !== 32) throw new Error('Sealer keys must be 32 bytes');
      return { id: createHash('sha256').update(key).digest('hex').slice(0, 8), key };
    });
  }

  seal(plaintext: string, aad: string): string {
    const { id, key } = this.ring[0]!;
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(Buffer.from(aad));
    const body = Buffer.concat([c.update(plaintext, 'utf8'), c.final(), c.getAuthTag()]);
    return `v1.${id}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  /** @throws {SealError} unknown key id, bad format or failed authentication. */
  open(box: string, aad: string): string {
    const [v, id, ivB64, bodyB64] = box.split('.');
    const entry = this.ring.find((k) => k.id === id);
    if (v !== 'v1' || !entry || !ivB64 || !bodyB64) throw new SealError('sealed value has an unknown format or key');
    const body = Buffer.from(bodyB64, 'base64url');
    try {
      const d = createDecipheriv('aes-256-gcm', entry.key, Buffer.from(ivB64, 'base64url'));
      d.setAAD(Buffer.from(aad));
      d.setAuthTag(body.subarray(body.length - 16));
      return Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]).toString('utf8');
    } catch {
      throw new SealError('sealed value failed authentication');
    }
  }

  /** True when the box was sealed by an older key and should be re-sealed. */
  isStale(box: string): boolean {
    return box.split('.')[1] !== this.ring[0]!.id;
  }
}
