/**
 * @module account/account
 * The person's own view of their connections (`/account`): a sign-in through the forge with the
 * broker's OAuth application (PKCE S256, single-use state bound to the browser), a short-lived
 * account session, the list of connected clients with their last use and open MCP sessions, and
 * the revocation of one client or all of them. Revocations go through the store's revocation
 * queue (store/control.ts) and are applied to the open sessions at once (ops/control.ts).
 * No HTTP here: http/account-routes.tsx adapts it.
 */
import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import type { Clock } from '../lib/clock.js';
import { pkceS256, randomToken, Sealer, sha256 } from '../lib/crypto.js';
import type { Relay } from '../mcp/relay.js';
import type { Audit } from '../ops/audit.js';
import type { ControlLoop } from '../ops/control.js';
import type { Logger } from '../ops/log.js';
import { SCOPES_SUPPORTED } from '../oauth/scopes.js';
import { newId, newPersonalToken } from '../oauth/tokens.js';
import { PAT_CLIENT_ID } from '../store/personal-tokens.js';
import type { Store } from '../store/store.js';
import { ForgeClientRefusedError, ForgeGrantEndedError, ForgeUnavailableError, type ForgeClient, type ForgeTokens } from '../upstream/types.js';

/** Account session lifetime, ms: short, the page is for a quick look and a revocation. */
export const ACCOUNT_SESSION_TTL_MS = 15 * 60_000;
/** How long a sign-in through the forge may take, ms. */
export const ACCOUNT_LOGIN_TTL_MS = 10 * 60_000;

/** A refusal shown to the person as a page (status, message). */
export class AccountError extends Error {
  override name = 'AccountError';
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** One connected client of a person, as the account page lists it. */
export interface Connection {
  clientId: string;
  name: string;
  /** A client ID metadata document fetched from its URL (verified) rather than a self-registration. */
  verified: boolean;
  redirectHosts: string[];
  connectedAt: number;
  lastUsedAt: number | null;
  /** The person's newest tool call through this client (tool-call audit), if any. */
  lastToolCall: { at: number; tool: string } | null;
  openSessions: number;
}

/** A personal access token as the account page lists it (never the token itself). */
export interface PersonalToken {
  id: string;
  name: string;
  createdAt: number;
  expiresAt: number;
  lastUsedAt: number | null;
  /** `active`, or why it no longer works. */
  status: 'active' | 'revoked' | 'expired';
  openSessions: number;
}

/** Expiries a person may choose for a personal access token, in days. */
export const PAT_EXPIRY_DAYS = [7, 30, 90, 365] as const;
/** Longest name of a personal access token, characters. */
export const PAT_NAME_MAX = 80;

export interface AccountSession {
  personId: string;
  login: string;
  /** The CSRF token every form of this session must carry. */
  csrf: string;
  expiresAt: number;
}

export interface AccountDeps {
  config: Config;
  store: Store;
  forge: ForgeClient;
  forgeTokens: ForgeTokens;
  relay: Relay;
  control: ControlLoop;
  audit: Audit;
  log: Logger;
  clock: Clock;
}

export interface Account {
  /** Starts a sign-in: the forge authorization URL and the browser-binding value for a cookie. */
  startSignIn(): Promise<{ location: URL; browser: string }>;
  /** True when the forge callback's `state` belongs to an account sign-in. */
  ownsState(state: string | undefined): Promise<boolean>;
  /** Completes a sign-in. @returns the new session id (cookie value). @throws {AccountError} */
  finishSignIn(params: { state?: string; code?: string; error?: string }, browser: string | undefined): Promise<string>;
  /** The session of a cookie value, or undefined (unknown, expired, or the person is blocked). */
  session(sessionId: string | undefined): Promise<AccountSession | undefined>;
  signOut(sessionId: string): Promise<void>;
  connections(personId: string): Promise<Connection[]>;
  /** Revokes every grant of the person with this client and closes their open sessions. @returns grants revoked. */
  revokeClient(personId: string, clientId: string): Promise<number>;
  /** Revokes every grant of the person ("disconnect every assistant"), tokens included. @returns grants revoked. */
  revokeAll(personId: string): Promise<number>;
  personalTokens(personId: string): Promise<PersonalToken[]>;
  /**
   * Creates a personal access token acting as the person through their forge grant, bound to the
   * MCP URL. @returns the token, to be shown once (only its SHA-256 is stored).
   * @throws {AccountError} 400 for an empty or too long name or an expiry not offered.
   */
  createPersonalToken(session: AccountSession, name: string, expiryDays: number): Promise<{ id: string; token: string; expiresAt: number }>;
  /** Revokes one of the person's tokens; its open sessions close at once. @returns false when not theirs or already revoked. */
  revokePersonalToken(personId: string, id: string): Promise<boolean>;
}

const csrfOf = (sessionId: string) => createHash('sha256').update(`fjmcp account csrf\0${sessionId}`).digest('base64url');

export function createAccount(deps: AccountDeps): Account {
  const { store, forge, forgeTokens, relay, control, audit, log, clock } = deps;
  const sealer = new Sealer(deps.config.encryptionKeys);

  async function session(sessionId: string | undefined): Promise<AccountSession | undefined> {
    if (!sessionId || sessionId.length > 200) return undefined;
    const row = await store.account.session(sha256(sessionId), clock());
    if (!row) return undefined;
    if (await store.control.isBlocked(row.personId, row.login)) return undefined;
    return { personId: row.personId, login: row.login, csrf: csrfOf(sessionId), expiresAt: row.expiresAt };
  }

  return {
    async startSignIn() {
      const state = randomToken('', 24);
      const verifier = randomToken('', 32);
      const browser = randomToken('', 24);
      const stateHash = sha256(state);
      await store.account.insertLogin({ stateHash, browserHash: sha256(browser), verifierSealed: sealer.seal(verifier, stateHash), expiresAt: clock() + ACCOUNT_LOGIN_TTL_MS });
      await store.account.reap(clock());
      return { location: forge.authorizationUrl({ state, codeChallenge: pkceS256(verifier) }), browser };
    },

    async ownsState(state) {
      return !!state && (await store.account.hasLogin(sha256(state), clock()));
    },

    async finishSignIn(p, browser) {
      const login = p.state ? await store.account.takeLogin(sha256(p.state), clock()) : undefined;
      if (!login) throw new AccountError(400, 'This sign-in link was already used or has expired. Open your account page again.');
      if (!browser || sha256(browser) !== login.browserHash) throw new AccountError(403, 'This sign-in was started in another browser. Open your account page again here.');
      if (p.error !== undefined || !p.code) throw new AccountError(403, 'The forge did not sign you in.');
      try {
        const tokens = await forge.exchangeCode({ code: p.code, codeVerifier: sealer.open(login.verifierSealed, login.stateHash) });
        const who = await forge.identify(tokens.accessToken);
        if (await store.control.isBlocked(who.id, who.login)) {
          audit('signin.refused', { personId: who.id, login: who.login, reason: 'blocked by the operator', where: 'account' });
          throw new AccountError(403, `The forge account ${who.login} is blocked on this broker by its operator. Ask the broker's operator if you think this is wrong.`);
        }
        if (!(await forge.isAllowed(who, tokens.accessToken))) throw new AccountError(403, `The forge account ${who.login} is not allowed to use this broker.`);
        // The newest forge tokens serve all of the person's grants (upstream/forge-tokens.ts):
        // with refresh-token rotation on the forge, this sign-in just made the stored one stale.
        await forgeTokens.save(who, tokens);
        const sessionId = randomToken('fjmcp_as_', 32);
        const now = clock();
        await store.account.insertSession({ idHash: sha256(sessionId), personId: who.id, login: who.login, createdAt: now, expiresAt: now + ACCOUNT_SESSION_TTL_MS });
        audit('account.signed_in', { personId: who.id, login: who.login });
        return sessionId;
      } catch (err) {
        if (err instanceof AccountError) throw err;
        if (err instanceof ForgeUnavailableError) throw new AccountError(503, 'The forge is unavailable; try again shortly.');
        if (err instanceof ForgeClientRefusedError) throw new AccountError(503, 'The forge refused the broker\'s own settings; the operator must fix them.');
        if (err instanceof ForgeGrantEndedError) throw new AccountError(403, 'The forge refused the sign-in.');
        log.error({ err }, 'account sign-in failed');
        throw new AccountError(500, 'The sign-in failed; the operator can find details in the broker log.');
      }
    },

    session,

    async signOut(sessionId) {
      await store.account.deleteSession(sha256(sessionId));
    },

    async connections(personId) {
      const open = openByGrant(personId);
      const lastCalls = new Map((await store.toolCalls.lastByClient(personId)).map((c) => [c.clientId, { at: c.at, tool: c.tool }]));
      const byClient = new Map<string, Connection>();
      for (const g of await store.control.grants({ personId, activeOnly: true })) {
        if (g.clientId === PAT_CLIENT_ID) continue; // listed with the personal access tokens
        let m: { client_name?: string; redirect_uris?: string[] } = {};
        try {
          m = JSON.parse(g.clientMetadata) as typeof m;
        } catch {
          /* listed without a name */
        }
        const c = byClient.get(g.clientId) ?? {
          clientId: g.clientId,
          name: m.client_name ?? g.clientId,
          verified: g.clientSource === 'cimd',
          redirectHosts: [...new Set((m.redirect_uris ?? []).map((u) => { try { return new URL(u).host; } catch { return '?'; } }))],
          connectedAt: g.createdAt,
          lastUsedAt: null,
          lastToolCall: lastCalls.get(g.clientId) ?? null,
          openSessions: 0,
        };
        c.connectedAt = Math.min(c.connectedAt, g.createdAt);
        if (g.lastUsedAt && (!c.lastUsedAt || g.lastUsedAt > c.lastUsedAt)) c.lastUsedAt = g.lastUsedAt;
        c.openSessions += open.get(g.id) ?? 0;
        byClient.set(g.clientId, c);
      }
      return [...byClient.values()].sort((a, b) => b.connectedAt - a.connectedAt);
    },

    async revokeClient(personId, clientId) {
      const ids = (await store.control.grants({ personId, clientId, activeOnly: true })).map((g) => g.id);
      const done = await store.control.revokeGrants(ids, 'revoked by the person on the account page', clock());
      for (const grantId of done) audit('grant.revoked', { personId, grantId, clientId, reason: 'revoked on the account page' });
      await control.poll(); // close the open sessions now, not at the next tick
      return done.length;
    },

    async revokeAll(personId) {
      const done = await store.control.revokePerson(personId, 'every assistant disconnected by the person on the account page', clock());
      for (const grantId of done) audit('grant.revoked', { personId, grantId, reason: 'all revoked on the account page' });
      await control.poll();
      return done.length;
    },

    async personalTokens(personId) {
      const open = openByGrant(personId);
      const now = clock();
      return (await store.personalTokens.list(personId)).map((t) => ({
        id: t.id,
        name: t.name,
        createdAt: t.createdAt,
        expiresAt: t.expiresAt,
        lastUsedAt: t.lastUsedAt,
        status: t.revokedAt !== null ? 'revoked' : t.expiresAt <= now ? 'expired' : 'active',
        openSessions: open.get(t.id) ?? 0,
      }));
    },

    async createPersonalToken(s, rawName, expiryDays) {
      const name = rawName.trim();
      if (!name || name.length > PAT_NAME_MAX || /[\u0000-\u001f\u007f]/.test(name)) throw new AccountError(400, `Give the token a name of 1 to ${PAT_NAME_MAX} characters.`);
      if (!(PAT_EXPIRY_DAYS as readonly number[]).includes(expiryDays)) throw new AccountError(400, `Choose an expiry of ${PAT_EXPIRY_DAYS.join(', ')} days.`);
      const token = newPersonalToken();
      const id = newId('gr_');
      const now = clock();
      const expiresAt = now + expiryDays * 86_400_000;
      await store.personalTokens.create({
        grantId: id, personId: s.personId, login: s.login, name, tokenHash: sha256(token),
        scope: SCOPES_SUPPORTED.join(' '), resource: deps.config.mcpUrl, createdAt: now, expiresAt,
      });
      audit('token.issued', { personId: s.personId, login: s.login, grantId: id, clientId: PAT_CLIENT_ID, kind: 'personal', expiresAt });
      return { id, token, expiresAt };
    },

    async revokePersonalToken(personId, id) {
      const mine = (await store.personalTokens.list(personId)).some((t) => t.id === id);
      if (!mine) return false;
      const done = await store.control.revokeGrants([id], 'personal access token revoked on the account page', clock());
      for (const grantId of done) audit('grant.revoked', { personId, grantId, clientId: PAT_CLIENT_ID, reason: 'personal access token revoked on the account page' });
      await control.poll();
      return done.length === 1;
    },
  };

  function openByGrant(personId: string): Map<string, number> {
    const open = new Map<string, number>();
    for (const s of relay.sessions()) if (s.personId === personId) open.set(s.grantId, (open.get(s.grantId) ?? 0) + 1);
    return open;
  }
}
