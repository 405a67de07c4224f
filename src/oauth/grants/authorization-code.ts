/**
 * @module oauth/grants/authorization-code
 * The `authorization_code` grant (RFC 6749 §4.1.3, RFC 7636 §4.6). The code is consumed first, in
 * one transaction that detects replay: a second use revokes the grant and every token issued for
 * it (RFC 6749 §4.1.2). Any failure after consumption burns the code on purpose — a client with
 * a wrong verifier must start over.
 */
import { sha256 } from '../../lib/crypto.js';
import type { Client } from '../clients.js';
import type { AsContext, Params } from '../context.js';
import { OAuthError } from '../errors.js';
import { mintTokens, type TokenResponse } from '../issue.js';
import { assertPkceVerifier } from '../pkce.js';
import { audienceOf } from '../resource.js';

export async function authorizationCodeGrant(ctx: AsContext, client: Client, p: Params): Promise<TokenResponse> {
  if (!p.code) throw new OAuthError('invalid_request', 'code is required');
  const now = ctx.now();
  const result = await ctx.grants.consumeCode(sha256(p.code), now);
  if (result.kind === 'unknown') throw new OAuthError('invalid_grant', 'unknown or expired authorization code');
  if (result.kind === 'replayed') {
    ctx.audit('code.replayed', { clientId: client.clientId, grantId: result.code.grantId });
    ctx.audit('grant.revoked', { grantId: result.code.grantId, reason: 'authorization code replayed' });
    throw new OAuthError('invalid_grant', 'authorization code was already used; the tokens issued for it are revoked');
  }
  const code = result.code;
  if (code.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'authorization code was issued to another client');
  if (code.expiresAt <= now) throw new OAuthError('invalid_grant', 'authorization code expired');
  // RFC 6749 §4.1.3: when sent, redirect_uri must be identical to the one authorized.
  if (p.redirect_uri !== undefined && p.redirect_uri !== code.redirectUri) {
    throw new OAuthError('invalid_grant', 'redirect_uri differs from the authorization request');
  }
  assertPkceVerifier(p.code_verifier, code.codeChallenge);
  const audience = audienceOf(p.resource, code.resource, ctx.resources);
  const grant = await ctx.grants.get(code.grantId);
  if (!grant || grant.revokedAt !== null) throw new OAuthError('invalid_grant', 'the grant was revoked');
  const { response, rows } = mintTokens(ctx, grant, client, audience);
  await ctx.tokens.insert(...rows);
  ctx.audit('token.issued', { clientId: client.clientId, grantId: grant.id, personId: grant.personId });
  return response;
}
