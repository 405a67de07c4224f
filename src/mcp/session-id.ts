/**
 * @module mcp/session-id
 * `Mcp-Session-Id` values bound to a person: `<random>.<caps>.<mac>` where mac = HMAC-SHA256(key,
 * personId + "." + random + "." + caps) and caps encodes the client capabilities the broker routes
 * by (sampling, elicitation form/url, roots). The broker can tell, without any state and after a
 * restart, whether a session id was minted for the person presenting it, and what the client
 * declared in its `initialize`: a re-attached session keeps its capabilities. Ids of the earlier
 * form `<random>.<mac>` (no capabilities) are still recognised. Never used for authentication:
 * the bearer check runs first; the binding only decides "re-attach" versus 404.
 * @see MCP 2025-11-25 basic/transports §session-management ("bind session IDs to user-specific information")
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const MAC_CHARS = 22; // 132 bits of the HMAC, base64url

/** Capability flags carried in the id: the client capabilities server→client requests need. */
const FLAGS: [bit: number, test: (c: Record<string, Record<string, unknown> | undefined>) => boolean][] = [
  [1, (c) => c.sampling !== undefined],
  [2, (c) => c.sampling?.tools !== undefined],
  [4, (c) => c.sampling?.context !== undefined],
  [8, (c) => c.elicitation !== undefined && (c.elicitation.url === undefined || c.elicitation.form !== undefined)],
  [16, (c) => c.elicitation?.url !== undefined],
  [32, (c) => c.roots !== undefined],
  [64, (c) => c.roots?.listChanged === true],
];

function capsToBits(caps: Record<string, unknown>): number {
  let bits = 0;
  for (const [bit, test] of FLAGS) if (test(caps as Record<string, Record<string, unknown> | undefined>)) bits |= bit;
  return bits;
}

function bitsToCaps(bits: number): Record<string, unknown> {
  const caps: Record<string, Record<string, unknown>> = {};
  if (bits & 1) caps.sampling = { ...(bits & 2 ? { tools: {} } : {}), ...(bits & 4 ? { context: {} } : {}) };
  if (bits & (8 | 16)) caps.elicitation = { ...(bits & 8 ? { form: {} } : {}), ...(bits & 16 ? { url: {} } : {}) };
  if (bits & 32) caps.roots = bits & 64 ? { listChanged: true } : {};
  return caps;
}

export interface SessionIdMinter {
  /** A fresh id for `personId`, carrying the routing-relevant part of `capabilities`. */
  mint(personId: string, capabilities?: Record<string, unknown>): string;
  /** True when `id` has the right shape and was minted for `personId` under this key. */
  belongsTo(id: string, personId: string): boolean;
  /** The client capabilities carried by an id that {@link belongsTo} accepted (none for the older form). */
  capabilities(id: string): Record<string, unknown>;
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
  const mac = (material: string) => createHmac('sha256', key).update(material).digest('base64url').slice(0, MAC_CHARS);
  const SHAPE = /^([A-Za-z0-9_-]{24})(?:\.([0-9a-z]{2}))?\.([A-Za-z0-9_-]{22})$/;
  return {
    mint(personId, capabilities = {}) {
      const random = randomBytes(18).toString('base64url');
      const caps = capsToBits(capabilities).toString(36).padStart(2, '0');
      return `${random}.${caps}.${mac(`${personId}.${random}.${caps}`)}`;
    },
    belongsTo(id, personId) {
      const m = SHAPE.exec(id);
      if (!m) return false;
      const want = Buffer.from(mac(m[2] === undefined ? `${personId}.${m[1]!}` : `${personId}.${m[1]!}.${m[2]}`));
      const got = Buffer.from(m[3]!);
      return want.length === got.length && timingSafeEqual(want, got);
    },
    capabilities(id) {
      const caps = SHAPE.exec(id)?.[2];
      return caps === undefined ? {} : bitsToCaps(parseInt(caps, 36));
    },
  };
}
