/**
 * @module oauth/authorize
 * The authorization endpoint (RFC 6749 §4.1.1). Checks run in this order: the client, then its
 * exact redirect URI — until both are valid every error is a local page, never a redirect
 * (RFC 6749 §4.1.2.1) — then response type, PKCE S256, resource and scope, whose errors go back
 * to the client. A valid request becomes a transaction awaiting the person's consent.
 */
import { randomToken, sha256 } from '../lib/crypto.js';
import type { Client } from './clients.js';
import type { AsContext, Params } from './context.js';
import { OAuthError } from './errors.js';
import { assertPkceS256Challenge } from './pkce.js';
import { isLoopbackRedirect, matchRedirectUri, redirectHost } from './redirect-uri.js';
import { checkResources } from './resource.js';
import { grantedScope } from './scopes.js';
import { newId, TRANSACTION_TTL_S } from './tokens.js';
import { forgeScopes } from '../upstream/forge-client.js';

/** Longest `state` echoed back, in characters. */
export const MAX_STATE_LENGTH = 2000;

/** What the consent page shows. Every string is untrusted and must be escaped when rendered. */
export interface ConsentView {
  txId: string;
  csrfToken: string;
  clientId: string;
  clientName: string | undefined;
  clientUri: string | undefined;
  /** Seed, or CIMD document on the redirect's host; otherwise the name is only a claim. */
  nameVerified: boolean;
  registration: 'dynamic' | 'metadata-document';
  redirectHost: string;
  /** Origin of the redirect URI (the consent page's CSP must allow form navigation to it). */
  redirectOrigin: string;
  /** True when every redirect URI of the client is on loopback (a local app, or anyone). */
  loopbackOnly: boolean;
  forgeOrigin: string;
  /** Forge scopes the broker requests; empty means the account's full power. */
  forgeScopes: string[];
  /** The MCP servers (protected resources) the client asks for, each named on the page. */
  resources: { url: string; title: string }[];
}

/** The result of a valid authorization request. */
export interface ConsentPrompt {
  view: ConsentView;
  /** Value of the per-transaction `__Host-` cookie that binds the browser. */
  browserSecret: string;
}

/** Name of the per-transaction cookie (one per transaction so parallel sign-ins do not clobber). */
export const txCookieName = (txId: string) => `__Host-fjmcp_tx_${txId}`;

/**
 * `ip` is the client IP the pending-authorization caps count against.
 * @throws {OAuthError} not redirectable for client/redirect problems, redirectable otherwise
 *   (`temporarily_unavailable` over a pending-authorization cap, see pending-authorizations.ts).
 */
export async function authorize(ctx: AsContext, p: Params, ip: string): Promise<ConsentPrompt> {
  const client = await ctx.registry.resolve(p.client_id ?? '');
  const redirectUri = chooseRedirectUri(client, p.redirect_uri);
  const state = p.state ?? null;
  const back = { redirectUri, state: state && state.length <= MAX_STATE_LENGTH ? state : null };
  try {
    if (state !== null && state.length > MAX_STATE_LENGTH) throw new OAuthError('invalid_request', 'state is too long');
    if (p.response_type !== 'code') throw new OAuthError('unsupported_response_type', 'response_type must be "code"');
    if (p.request !== undefined || p.request_uri !== undefined) {
      throw new OAuthError('invalid_request', 'request objects are not supported');
    }
    const challenge = assertPkceS256Challenge(p.code_challenge, p.code_challenge_method);
    const resources = checkResources(p.resource, ctx.resources);
    const resource = resources.join(' ');
    const scope = grantedScope(p.scope);
    await ctx.pending.admit(ip);
    const now = ctx.now();
    const txId = newId('tx_');
    const browserSecret = randomToken();
    const csrfToken = randomToken();
    await ctx.transactions.insert({
      id: txId,
      clientId: client.clientId,
      redirectUri,
      state,
      codeChallenge: challenge,
      resource,
      scope,
      browserHash: sha256(browserSecret),
      csrfHash: sha256(csrfToken),
      phase: 'consent',
      forgeStateHash: null,
      forgeVerifierSealed: null,
      createdAt: now,
      expiresAt: now + TRANSACTION_TTL_S * 1000,
    });
    const view: ConsentView = {
      txId,
      csrfToken,
      clientId: client.clientId,
      clientName: client.metadata.client_name,
      clientUri: client.metadata.client_uri,
      nameVerified: ctx.registry.isNameVerified(client, redirectUri),
      registration: client.source === 'dcr' ? 'dynamic' : 'metadata-document',
      redirectHost: redirectHost(redirectUri),
      redirectOrigin: new URL(redirectUri).origin,
      loopbackOnly: client.metadata.redirect_uris.every(isLoopbackRedirect),
      forgeOrigin: ctx.config.forge.url.origin,
      forgeScopes: forgeScopes(ctx.config), // what is really requested, incl. read:user when restricting
      resources: resources.map((url) => ({ url, title: ctx.resources.find((r) => r.url === url)!.title })),
    };
    return { view, browserSecret };
  } catch (err) {
    if (err instanceof OAuthError) throw err.redirectTo(back);
    throw err;
  }
}

/**
 * The exact registered redirect URI the request names; when it names none, the client's only
 * registered one (RFC 6749 §3.1.2.3).
 * @throws {OAuthError} invalid_request, not redirectable.
 */
function chooseRedirectUri(client: Client, requested: string | undefined): string {
  const registered = client.metadata.redirect_uris;
  if (requested === undefined) {
    if (registered.length === 1 && !isLoopbackRedirect(registered[0]!)) return registered[0]!;
    throw new OAuthError('invalid_request', 'redirect_uri is required for this client');
  }
  if (!matchRedirectUri(registered, requested)) {
    throw new OAuthError('invalid_request', 'redirect_uri is not registered for this client (exact match required)');
  }
  return requested;
}
