/**
 * @module oauth/registration
 * RFC 7591 dynamic client registration. Hardened against registration spam: a body size cap
 * (http layer), a per-IP rate limit, a cap on stored clients with the unused ones reaped first.
 * The broker mints its own client ids (never the forge's) and, for confidential clients, a secret
 * stored only as its hash.
 * @see https://www.rfc-editor.org/rfc/rfc7591#section-3
 */
import { randomToken, sha256 } from '../lib/crypto.js';
import { parseClientMetadata } from './client-metadata.js';
import type { AsContext } from './context.js';
import { OAuthError } from './errors.js';
import type { RateLimiter } from './rate-limit.js';

/** Largest registration request body, in bytes. */
export const MAX_REGISTRATION_BYTES = 16 * 1024;
/** A registered client that never obtained a grant is reaped after this long, in seconds. */
export const UNUSED_CLIENT_TTL_S = 24 * 3600;

/**
 * Registers a client.
 * @param body the parsed JSON request body.
 * @param ip the caller's address, for the rate limit.
 * @returns the RFC 7591 §3.2.1 response body (status 201).
 * @throws {OAuthError} `invalid_client_metadata`, `invalid_redirect_uri` (400), or
 *   `temporarily_unavailable` (429 with Retry-After; 503 when the client cap is reached).
 */
export async function register(ctx: AsContext, limiter: RateLimiter, body: unknown, ip: string): Promise<Record<string, unknown>> {
  const now = ctx.now();
  const wait = limiter.hit(ip, now);
  if (wait > 0) {
    throw new OAuthError('temporarily_unavailable', 'too many registrations from this address; retry later', {
      status: 429,
      headers: { 'retry-after': String(wait) },
    });
  }
  const metadata = parseClientMetadata(body, 'client_secret_basic');
  const max = ctx.config.registration.maxClients;
  if ((await ctx.clients.countDcr()) >= max) {
    await ctx.clients.reapDcr(now - UNUSED_CLIENT_TTL_S * 1000, max - 1);
    if ((await ctx.clients.countDcr()) >= max) {
      throw new OAuthError('temporarily_unavailable', 'the broker holds the most clients it may; retry later', { status: 503 });
    }
  }
  const clientId = randomToken('mcpb_c_', 16);
  const secret = metadata.token_endpoint_auth_method === 'none' ? undefined : randomToken('mcpb_cs_');
  await ctx.clients.insert({
    clientId,
    source: 'dcr',
    metadata: JSON.stringify(metadata),
    secretHash: secret ? sha256(secret) : null,
    createdAt: now,
    lastUsedAt: null,
    freshUntil: null,
  });
  ctx.audit('client.registered', { clientId, clientName: metadata.client_name, ip, confidential: !!secret });
  return {
    client_id: clientId,
    client_id_issued_at: Math.floor(now / 1000),
    ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
    ...metadata,
  };
}
