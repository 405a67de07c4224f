/**
 * @module oauth/callback
 * The forge's redirect back to the broker (`GET /oauth/callback`). The forge `state` must be one
 * the broker issued after consent, unused and younger than 10 minutes, and the browser must carry
 * the same transaction's cookie (consent↔callback binding; GHSA-rww4-4w9c-7733). Then: exchange
 * the code (with the PKCE verifier), identify the person (`GET /api/v1/user`), check the
 * allowlist (fail closed), store the forge tokens sealed, create the grant and a single-use
 * authorization code bound to client, redirect URI, PKCE challenge, resource and scope, and
 * redirect 302 to the client with `code`, `state` and `iss` (RFC 6749 §4.1.2, RFC 9207 §2).
 */
import { sha256 } from '../lib/crypto.js';
import { ForgeClientRefusedError, ForgeGrantEndedError, ForgeUnavailableError } from '../upstream/types.js';
import { boundTransaction } from './consent.js';
import type { AsContext, Params } from './context.js';
import { OAuthError, errorRedirectUrl } from './errors.js';
import { txCookieName } from './authorize.js';
import { AUTHORIZATION_CODE_TTL_S, newAuthorizationCode, newId } from './tokens.js';

/**
 * @param cookie reads a request cookie by name.
 * @returns the client redirect (success or a redirectable error) and the transaction id whose
 *   cookie is to be cleared.
 * @throws {OAuthError} not redirectable while the transaction is not established.
 */
export async function forgeCallback(
  ctx: AsContext,
  p: Params,
  cookie: (name: string) => string | undefined,
): Promise<{ location: string; txId: string }> {
  const tx = p.state ? await ctx.transactions.getByForgeState(sha256(p.state)) : undefined;
  if (!tx || tx.phase !== 'forge') {
    throw new OAuthError('invalid_request', 'this forge response matches no sign-in in progress (unknown or used state); start again from your AI client');
  }
  await boundTransaction(ctx, tx.id, cookie(txCookieName(tx.id)));
  // Single use: whichever request moves the transaction to "done" first proceeds.
  if (!(await ctx.transactions.finish(tx.id, 'forge', ctx.now()))) {
    throw new OAuthError('invalid_request', 'this sign-in was already completed or expired');
  }
  const back = { redirectUri: tx.redirectUri, state: tx.state };
  const fail = (err: OAuthError) => ({ location: errorRedirectUrl(err.redirectTo(back), ctx.config.issuer), txId: tx.id });
  if (p.error !== undefined || !p.code) {
    ctx.audit('signin.refused', { clientId: tx.clientId, reason: `forge answered ${p.error ?? 'without a code'}` });
    return fail(p.error === 'access_denied'
      ? new OAuthError('access_denied', 'the person declined on the forge')
      : new OAuthError('server_error', 'the forge did not grant access'));
  }
  try {
    const verifier = ctx.sealer.open(tx.forgeVerifierSealed ?? '', tx.id);
    const tokens = await ctx.forge.exchangeCode({ code: p.code, codeVerifier: verifier });
    const identity = await ctx.forge.identify(tokens.accessToken);
    if (!(await ctx.forge.isAllowed(identity, tokens.accessToken))) {
      ctx.audit('signin.refused', { clientId: tx.clientId, personId: identity.id, login: identity.login, reason: 'not on the allowlist' });
      return fail(new OAuthError('access_denied', 'this forge account is not allowed to use this broker'));
    }
    if (await ctx.control.isBlocked(identity.id, identity.login)) {
      ctx.audit('signin.refused', { clientId: tx.clientId, personId: identity.id, login: identity.login, reason: 'blocked by the operator' });
      throw new OAuthError('access_denied', `The forge account ${identity.login} is blocked on this broker by its operator, so it cannot connect AI assistants here. Ask the broker's operator if you think this is wrong.`, { status: 403 });
    }
    await ctx.forgeTokens.save(identity, tokens);
    const now = ctx.now();
    const code = newAuthorizationCode();
    const grantId = newId('gr_');
    await ctx.grants.createWithCode(
      { id: grantId, personId: identity.id, login: identity.login, clientId: tx.clientId, scope: tx.scope, resource: tx.resource, createdAt: now },
      { hash: sha256(code), clientId: tx.clientId, redirectUri: tx.redirectUri, codeChallenge: tx.codeChallenge, resource: tx.resource, scope: tx.scope, expiresAt: now + AUTHORIZATION_CODE_TTL_S * 1000 },
    );
    await ctx.clients.touch(tx.clientId, now);
    ctx.audit('signin.completed', { clientId: tx.clientId, personId: identity.id, login: identity.login, grantId });
    const u = new URL(tx.redirectUri);
    u.searchParams.set('code', code);
    if (tx.state !== null) u.searchParams.set('state', tx.state);
    u.searchParams.set('iss', ctx.config.issuer);
    return { location: u.href, txId: tx.id };
  } catch (err) {
    if (err instanceof OAuthError) throw err; // a page for the person, not a redirect (blocked)
    if (err instanceof ForgeGrantEndedError) {
      ctx.log.warn({ err: err.message, clientId: tx.clientId }, 'forge refused the code exchange or identity call');
      return fail(new OAuthError('access_denied', 'the forge refused the sign-in'));
    }
    if (err instanceof ForgeClientRefusedError) {
      ctx.audit('forge.client_refused', { clientId: tx.clientId, kind: err.kind, reason: err.message });
      return fail(new OAuthError('temporarily_unavailable', 'the forge refused the broker\'s own settings; the operator must fix them (see /healthz)'));
    }
    if (err instanceof ForgeUnavailableError) {
      ctx.log.warn({ err: err.message }, 'forge unavailable during sign-in');
      return fail(new OAuthError('temporarily_unavailable', 'the forge is unavailable; try again shortly'));
    }
    ctx.log.error({ err }, 'sign-in failed after the forge callback');
    return fail(new OAuthError('server_error', 'the sign-in failed; see the broker log'));
  }
}
