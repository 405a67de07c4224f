/**
 * @module mcp/session-id
 * `Mcp-Session-Id` values bound to a person: `<random>.<mac>` where mac = HMAC-SHA256(key,
 * personId + "." + random). The broker can tell, without any state and after a restart, whether
 * a session id was minted for the person presenting it. Never used for authentication: the bearer
 * check runs first; the binding only decides "re-attach" versus 404.
 * @see MCP 2025-11-25 basic/transports §session-management ("bind session IDs to user-specific information")
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const MAC_CHARS = 22; // 132 bits of the HMAC, base64url

export interface SessionIdMinter {
  mint(personId: string): string;
  /** True when `id` has the right shape and was minted for `personId` under this key. */
  belongsTo(id: string, personId: string): boolean;
}

/**
 * The HMAC key derived from key material; a label separates it from sealing. Brokers before the
 * stable session-id key derived it from the first encryption key; ops/control.ts stores exactly
 * that value once, so session ids minted before survive the upgrade and every later rotation.
 */
export function sessionIdKeyFrom(secret: Buffer): Buffer {
  return createHmac('sha256', secret).update('fjmcp mcp-session-id v1').digest();
}

/**
 * @param secret key material (the first encryption key), or with `derived` the HMAC key itself
 *   ({@link sessionIdKeyFrom}, as stored by the broker).
 */
export function createSessionIdMinter(secret: Buffer | undefined, derived = false): SessionIdMinter {
  const key = derived && secret ? secret : sessionIdKeyFrom(secret ?? randomBytes(32));
  const mac = (personId: string, random: string) =>
    createHmac('sha256', key).update(`${personId}.${random}`).digest('base64url').slice(0, MAC_CHARS);
  return {
    mint(personId) {
      const random = randomBytes(18).toString('base64url');
      return `${random}.${mac(personId, random)}`;
    },
    belongsTo(id, personId) {
      const m = /^([A-Za-z0-9_-]{24})\.([A-Za-z0-9_-]{22})$/.exec(id);
      if (!m) return false;
      const want = Buffer.from(mac(personId, m[1]!));
      const got = Buffer.from(m[2]!);
      return want.length === got.length && timingSafeEqual(want, got);
    },
  };
}
