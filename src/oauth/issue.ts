/**
 * @module oauth/issue
 * Mints the token pair of a successful token request and the RFC 6749 §5.1 response body.
 * Access tokens live `config.tokens.accessTtlS`; a refresh token `refreshTtlS` from its issue
 * (each rotation starts a new period, so a family lives as long as it is used).
 */
import { sha256 } from '../lib/crypto.js';
import type { GrantRow } from '../store/grants.js';
import type { NewToken } from '../store/tokens.js';
import type { Client } from './clients.js';
import type { AsContext } from './context.js';
import { newAccessToken, newRefreshToken } from './tokens.js';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token?: string;
  scope: string;
}

/**
 * @param audience the one resource the access token is for (oauth/resource.ts `audienceOf`); the
 *   refresh token keeps every resource of the grant, so a later refresh may name another.
 */
export function mintTokens(ctx: AsContext, grant: GrantRow, client: Client, audience: string): { response: TokenResponse; rows: NewToken[] } {
  const now = ctx.now();
  const { accessTtlS, refreshTtlS } = ctx.config.tokens;
  const base = { grantId: grant.id, clientId: client.clientId, scope: grant.scope, resource: grant.resource, createdAt: now };
  const access = newAccessToken();
  const rows: NewToken[] = [{ ...base, resource: audience, hash: sha256(access), kind: 'access', expiresAt: now + accessTtlS * 1000 }];
  const response: TokenResponse = { access_token: access, token_type: 'Bearer', expires_in: accessTtlS, scope: grant.scope };
  if (client.metadata.grant_types.includes('refresh_token')) {
    const refresh = newRefreshToken();
    rows.push({ ...base, hash: sha256(refresh), kind: 'refresh', expiresAt: now + refreshTtlS * 1000 });
    response.refresh_token = refresh;
  }
  return { response, rows };
}
