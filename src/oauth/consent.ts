/**
 * @module oauth/consent
 * The person's decision on the broker's consent page. The decision counts only with the
 * transaction's `__Host-` cookie (bound to this browser) and its CSRF token; both missing or
 * wrong is a local error, never a redirect. Deny sends `access_denied` back to the client with
 * `state` and `iss` (RFC 6749 §4.1.2.1, RFC 9207). Approve creates the forge `state` and PKCE
 * verifier only now, after consent (MCP security best practices, confused deputy), and sends the
 * browser to the forge's login.
 */
import { pkceS256, randomToken, safeEqual, sha256 } from '../lib/crypto.js';
import type { AsContext } from './context.js';
import { OAuthError, errorRedirectUrl } from './errors.js';
import { TRANSACTION_TTL_S } from './tokens.js';
import type { TransactionRow } from '../store/transactions.js';

export interface ConsentDecision {
  txId: string | undefined;
  csrfToken: string | undefined;
  approve: boolean;
  /** Value of the transaction's cookie, if the browser sent one. */
  browserSecret: string | undefined;
}

/**
 * Loads a transaction and checks that this browser started it.
 * @throws {OAuthError} invalid_request (400), not redirectable.
 */
export async function boundTransaction(ctx: AsContext, txId: string | undefined, browserSecret: string | undefined): Promise<TransactionRow> {
  const tx = txId ? await ctx.transactions.get(txId) : undefined;
  if (!tx || tx.expiresAt <= ctx.now() || tx.phase === 'done') {
    throw new OAuthError('invalid_request', 'this sign-in is unknown, finished or expired; start again from your AI client');
  }
  if (!browserSecret || !safeEqual(sha256(browserSecret), tx.browserHash)) {
    throw new OAuthError('invalid_request', 'this sign-in was started in another browser (its cookie is missing); start again from your AI client', { status: 403 });
  }
  return tx;
}

/** @returns where to send the browser. @throws {OAuthError} not redirectable. */
export async function decideConsent(ctx: AsContext, d: ConsentDecision): Promise<{ location: string; done: boolean }> {
  const tx = await boundTransaction(ctx, d.txId, d.browserSecret);
  if (tx.phase !== 'consent') throw new OAuthError('invalid_request', 'this sign-in was already decided');
  if (!d.csrfToken || !safeEqual(sha256(d.csrfToken), tx.csrfHash)) {
    throw new OAuthError('invalid_request', 'the consent form is stale or forged (CSRF token mismatch)', { status: 403 });
  }
  const now = ctx.now();
  if (!d.approve) {
    if (!(await ctx.transactions.finish(tx.id, 'consent', now))) throw new OAuthError('invalid_request', 'this sign-in was already decided');
    ctx.audit('consent.denied', { clientId: tx.clientId, txId: tx.id });
    const err = new OAuthError('access_denied', 'the person declined', { redirect: { redirectUri: tx.redirectUri, state: tx.state } });
    return { location: errorRedirectUrl(err, ctx.config.issuer), done: true };
  }
  const forgeState = randomToken();
  const verifier = randomToken();
  const sealed = ctx.sealer.seal(verifier, tx.id);
  if (!(await ctx.transactions.approve(tx.id, sha256(forgeState), sealed, now, now + TRANSACTION_TTL_S * 1000))) {
    throw new OAuthError('invalid_request', 'this sign-in was already decided or expired');
  }
  ctx.audit('consent.approved', { clientId: tx.clientId, txId: tx.id });
  return { location: ctx.forge.authorizationUrl({ state: forgeState, codeChallenge: pkceS256(verifier) }).href, done: false };
}
