/**
 * @module oauth/revoke
 * RFC 7009 token revocation. Revoking a refresh token ends its whole family (the grant and every
 * access token issued under it, §2.1 "SHOULD also invalidate"); revoking an access token ends
 * only that token. Unknown tokens and tokens of other clients are answered 200 without effect
 * (§2.2), so the endpoint reveals nothing.
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2
 */
import { sha256 } from '../lib/crypto.js';
import type { PresentedCredentials } from './clients.js';
import type { AsContext, Params } from './context.js';
import { OAuthError } from './errors.js';

/** @throws {OAuthError} invalid_client or invalid_request. */
export async function revokeEndpoint(ctx: AsContext, p: Params, creds: PresentedCredentials): Promise<void> {
  const client = await ctx.registry.authenticate(creds);
  if (!p.token) throw new OAuthError('invalid_request', 'token is required');
  const row = await ctx.tokens.find(sha256(p.token));
  if (!row || row.clientId !== client.clientId) return;
  const now = ctx.now();
  if (row.kind === 'refresh') {
    if (await ctx.grants.revoke(row.grantId, 'refresh token revoked by the client', now)) {
      ctx.audit('grant.revoked', { clientId: client.clientId, grantId: row.grantId, reason: 'revoked by the client (RFC 7009)' });
    }
  } else if (await ctx.tokens.revoke(row.hash, now)) {
    ctx.audit('token.revoked', { clientId: client.clientId, grantId: row.grantId, kind: 'access' });
  }
}
