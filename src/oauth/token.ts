/**
 * @module oauth/token
 * The token endpoint (RFC 6749 §3.2): authenticates the client (§2.3.1), then dispatches on
 * `grant_type` to one handler per grant. Responses carry `Cache-Control: no-store` (§5.1; set by
 * the http layer for success and error alike).
 */
import type { PresentedCredentials, Client } from './clients.js';
import type { AsContext, Params } from './context.js';
import { OAuthError } from './errors.js';
import { authorizationCodeGrant } from './grants/authorization-code.js';
import { refreshTokenGrant } from './grants/refresh-token.js';
import type { TokenResponse } from './issue.js';

type GrantHandler = (ctx: AsContext, client: Client, p: Params) => Promise<TokenResponse>;

const GRANT_HANDLERS: ReadonlyMap<string, GrantHandler> = new Map([
  ['authorization_code', authorizationCodeGrant],
  ['refresh_token', refreshTokenGrant],
]);

/** @throws {OAuthError} per RFC 6749 §5.2. */
export async function tokenEndpoint(ctx: AsContext, p: Params, creds: PresentedCredentials): Promise<TokenResponse> {
  const client = await ctx.registry.authenticate(creds);
  if (!p.grant_type) throw new OAuthError('invalid_request', 'grant_type is required');
  const handler = GRANT_HANDLERS.get(p.grant_type);
  if (!handler) throw new OAuthError('unsupported_grant_type', `grant_type ${JSON.stringify(p.grant_type.slice(0, 100))} is not supported`);
  if (!client.metadata.grant_types.includes(p.grant_type)) {
    throw new OAuthError('unauthorized_client', `this client is not registered for the ${p.grant_type} grant`);
  }
  const response = await handler(ctx, client, p);
  ctx.metrics.tokensIssued.inc({ grant_type: p.grant_type });
  return response;
}
