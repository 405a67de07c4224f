/**
 * @module oauth/grants/refresh-token
 * The `refresh_token` grant (RFC 6749 §6) with rotation (OAuth 2.1 §4.3.1: refresh tokens of
 * public clients MUST rotate; the broker rotates for every client).
 *
 * Why a grace window: Claude refreshes from two places at once (docs/authorization.md
 * §Policy choices, PrefectHQ/fastmcp#4264), so a retry of the same refresh token shortly after it was exchanged is
 * not an attack. Within `config.tokens.refreshGraceS` such a retry gets the *same* successor
 * (sealed with AES-256-GCM, AAD = grant id and token hash, only for the window; the reaper wipes
 * it). After the window, a reused refresh token means two parties hold the family: the whole
 * family (grant) is revoked (RFC 6819 §5.2.2.3, RFC 9700 §4.14.2).
 */
import { sha256 } from '../../lib/crypto.js';
import type { Client } from '../clients.js';
import type { AsContext, Params } from '../context.js';
import { OAuthError } from '../errors.js';
import { mintTokens, type TokenResponse } from '../issue.js';
import { audienceOf, checkResource, resourceList } from '../resource.js';

export async function refreshTokenGrant(ctx: AsContext, client: Client, p: Params): Promise<TokenResponse> {
  if (!p.refresh_token) throw new OAuthError('invalid_request', 'refresh_token is required');
  const hash = sha256(p.refresh_token);
  const row = await ctx.tokens.find(hash);
  const now = ctx.now();
  if (!row || row.kind !== 'refresh') throw new OAuthError('invalid_grant', 'unknown refresh token');
  if (row.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'refresh token was issued to another client');
  if (row.grant.revokedAt !== null || row.revokedAt !== null) throw new OAuthError('invalid_grant', 'refresh token was revoked');
  if (row.expiresAt <= now) throw new OAuthError('invalid_grant', 'refresh token expired');
  // The refresh token carries every resource of the authorization; the new access token is for
  // the one named, or the first (RFC 8707 §2.2).
  if (p.resource !== undefined && !resourceList(row.resource).includes(checkResource(p.resource, ctx.resources))) {
    throw new OAuthError('invalid_target', 'resource differs from the grant');
  }
  const audience = audienceOf(p.resource, row.resource, ctx.resources);
  const aad = `${row.grantId}:${hash}`;
  const replayWithinGrace = (r: typeof row): TokenResponse | undefined =>
    r.rotatedAt !== null && r.successorSealed && (r.graceUntil ?? 0) > now
      ? (JSON.parse(ctx.sealer.open(r.successorSealed, aad)) as TokenResponse)
      : undefined;

  if (row.rotatedAt !== null) return retryOrRevoke(ctx, row.grantId, client, replayWithinGrace(row));

  const { response, rows } = mintTokens(ctx, row.grant, client, audience);
  const graceMs = ctx.config.tokens.refreshGraceS * 1000;
  const sealed = graceMs > 0 ? ctx.sealer.seal(JSON.stringify(response), aad) : null;
  if (!(await ctx.tokens.rotate(hash, sealed, now, now + graceMs, rows))) {
    // Lost a race with a concurrent refresh of the same token: answer like a retry.
    const again = await ctx.tokens.find(hash);
    return retryOrRevoke(ctx, row.grantId, client, again ? replayWithinGrace(again) : undefined);
  }
  ctx.audit('token.refreshed', { clientId: client.clientId, grantId: row.grantId, personId: row.grant.personId });
  return response;
}

async function retryOrRevoke(ctx: AsContext, grantId: string, client: Client, successor: TokenResponse | undefined): Promise<TokenResponse> {
  if (successor) {
    ctx.log.info({ clientId: client.clientId, grantId }, 'refresh retried within the grace window; returning the same successor');
    return successor;
  }
  await ctx.grants.revoke(grantId, 'refresh token reused after rotation', ctx.now());
  ctx.audit('family.revoked', { clientId: client.clientId, grantId, reason: 'refresh token reused after rotation' });
  throw new OAuthError('invalid_grant', 'refresh token was already used; the token family is revoked');
}
