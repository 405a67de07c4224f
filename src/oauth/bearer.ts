/**
 * @module oauth/bearer
 * The bearer check in front of `/mcp`: only access tokens this broker issued, only for its own
 * resource (RFC 8707 audience), only from the `Authorization` header (never the query string,
 * MCP authorization "Token requirements"). Success yields the {@link Principal} with the person's
 * current forge access token; failure is a `WWW-Authenticate: Bearer` challenge naming the
 * protected-resource metadata and the scope (RFC 6750 §3, RFC 9728 §5.1).
 */
import { sha256 } from '../lib/crypto.js';
import type { Principal } from '../lib/principal.js';
import { ForgeGrantEndedError, ForgeUnavailableError } from '../upstream/types.js';
import type { AsContext } from './context.js';
import { resourceMetadataUrl } from './metadata.js';
import { SCOPES_SUPPORTED } from './scopes.js';
import { ACCESS_TOKEN_PREFIX, PERSONAL_TOKEN_PREFIX } from './tokens.js';

/** Seconds a client is told to wait when the forge is unavailable. */
const FORGE_RETRY_AFTER_S = 5;

type ChallengeError = { error: 'invalid_request' | 'invalid_token'; description: string };

/**
 * The RFC 6750 §3 challenge response (401, or 400 for invalid_request), naming the metadata of
 * `resource` (default: `/mcp`).
 */
export function bearerChallenge(ctx: Pick<AsContext, 'config'>, err?: ChallengeError, resource?: string): Response {
  const parts = [
    'realm="fjmcp-broker"',
    `resource_metadata="${resourceMetadataUrl(ctx.config, resource)}"`,
    `scope="${SCOPES_SUPPORTED.join(' ')}"`,
  ];
  if (err) parts.push(`error="${err.error}"`, `error_description="${err.description.replace(/["\\]/g, '')}"`);
  const status = err?.error === 'invalid_request' ? 400 : 401;
  const body = err ? { error: err.error, error_description: err.description } : { error: 'unauthorized', error_description: 'an access token is required' };
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', 'www-authenticate': `Bearer ${parts.join(', ')}`, 'cache-control': 'no-store' },
  });
}

/** A grant's last use is written at most this often, ms. */
export const GRANT_TOUCH_INTERVAL_MS = 60_000;
const touched = new WeakMap<AsContext, Map<string, number>>();

/** Records the grant's use in the store, at most once per {@link GRANT_TOUCH_INTERVAL_MS}; never fails the request. */
function touchGrant(ctx: AsContext, grantId: string, now: number): void {
  let seen = touched.get(ctx);
  if (!seen) touched.set(ctx, (seen = new Map()));
  if (now - (seen.get(grantId) ?? 0) < GRANT_TOUCH_INTERVAL_MS) return;
  seen.set(grantId, now);
  if (seen.size > 10_000) for (const [id, at] of seen) if (now - at >= GRANT_TOUCH_INTERVAL_MS) seen.delete(id);
  ctx.control.touchGrant(grantId, now).catch((err: unknown) => ctx.log.warn({ err }, 'recording a grant\'s last use failed'));
}

/**
 * @param resource the protected resource requested (the MCP URL of the server the request is
 *   for); default: `/mcp`. A token is accepted only for its own audience (RFC 8707).
 * @returns the principal, or the Response to send instead (401/400 challenge, 503 forge unavailable).
 */
export async function authenticateBearer(ctx: AsContext, req: Request, resource: string = ctx.config.mcpUrl): Promise<Principal | Response> {
  const url = new URL(req.url);
  const challenge = (err?: ChallengeError) => bearerChallenge(ctx, err, resource);
  if (url.searchParams.has('access_token')) {
    return challenge({ error: 'invalid_request', description: 'access tokens are accepted only in the Authorization header' });
  }
  const header = req.headers.get('authorization');
  const m = header ? /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header) : null;
  if (!m) {
    return header && /^Bearer\b/i.test(header)
      ? challenge({ error: 'invalid_request', description: 'malformed Bearer credentials' })
      : challenge();
  }
  const token = m[1]!;
  const invalid = (description: string) => challenge({ error: 'invalid_token', description });
  // Personal access tokens (account page) are access tokens of their own grant: same checks.
  if (!token.startsWith(ACCESS_TOKEN_PREFIX) && !token.startsWith(PERSONAL_TOKEN_PREFIX)) return invalid('not an access token issued by this server');
  // One store read for the token, its grant, the block and the forge token row (one round trip
  // on PostgreSQL); nothing cached, so a revocation or block from any replica applies at once.
  const found = await ctx.tokens.findForBearer(sha256(token));
  const now = ctx.now();
  if (!found || found.token.kind !== 'access') return invalid('unknown access token');
  const row = found.token;
  if (row.revokedAt !== null || row.grant.revokedAt !== null) return invalid('the access token was revoked');
  if (row.expiresAt <= now) return invalid('the access token expired');
  // RFC 8707 audience: a token for any other resource is not accepted here.
  if (row.resource !== resource) return invalid('the access token was issued for another resource');
  // Blocked by the operator (fjmcp-broker admin block): refused from the next request on.
  if (found.blocked) return invalid('this account is blocked on this broker by its operator');
  touchGrant(ctx, row.grantId, now);
  let forge: { accessToken: string; expiresAt: number };
  try {
    forge = await ctx.forgeTokens.current(row.grant.personId, found.forge ?? null);
  } catch (err) {
    if (err instanceof ForgeGrantEndedError) {
      // Normally the onGrantEnded listener already did this; repeat it in case it did not run.
      await ctx.grants.revokeForPerson(row.grant.personId, 'forge grant ended', now);
      return invalid('the forge sign-in ended; sign in again');
    }
    if (err instanceof ForgeUnavailableError) {
      return new Response(JSON.stringify({ error: 'temporarily_unavailable', error_description: 'the forge is unavailable; retry shortly' }), {
        status: 503,
        headers: { 'content-type': 'application/json', 'retry-after': String(FORGE_RETRY_AFTER_S) },
      });
    }
    throw err;
  }
  return {
    personId: row.grant.personId,
    login: row.grant.login,
    clientId: row.clientId,
    grantId: row.grantId,
    scopes: row.scope.split(' ').filter(Boolean),
    forgeAccessToken: forge.accessToken,
    forgeTokenExpiresAt: forge.expiresAt,
    server: ctx.resources.find((r) => r.url === resource)?.server ?? 'default',
  };
}
