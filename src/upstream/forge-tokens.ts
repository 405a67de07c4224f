/**
 * @module upstream/forge-tokens
 * The people's forge tokens: sealed at rest (AES-256-GCM, AAD = person id), one row per person,
 * refreshed before expiry single-flight per person, the allowlist re-checked at every refresh and
 * at each person's first request after a start (so an allowlist change takes effect at once).
 * Only a refusal of the person's grant ends it: a refusal of the broker's own credentials, a
 * forge outage or an allowlist check without an answer keep the person signed in and retry.
 *
 * One row per person, newest sign-in wins: Gitea keeps one grant per (user, application), and
 * with `INVALIDATE_REFRESH_TOKENS=true` (Forgejo's default) every token issuance bumps the grant's
 * counter, so a second sign-in kills the first one's refresh token (forge-facts §4). Sharing the
 * newest token set between all of a person's broker grants, and refreshing it once at a time,
 * is what keeps two sign-ins (or ten concurrent requests) of one person from locking them out.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { systemClock, type Clock } from '../lib/clock.js';
import { SealError, Sealer } from '../lib/crypto.js';
import type { Audit } from '../ops/audit.js';
import type { Logger } from '../ops/log.js';
import type { Metrics } from '../ops/metrics.js';
import type { ForgeTokenRow, ForgeTokenStore } from '../store/forge-tokens-store.js';
import { ForgeClientRefusedError, ForgeGrantEndedError, ForgeUnavailableError, type ForgeClient, type ForgeIdentity, type ForgeTokenSet, type ForgeTokens } from './types.js';

/** Upper bound of the refresh margin, ms: refresh at most this long before expiry. */
export const MAX_REFRESH_MARGIN_MS = 300_000;
/** After an allowlist check without an answer, the next check waits this long, ms. */
export const ALLOWLIST_RECHECK_MS = 30_000;
/** After the forge refused the broker's own credentials at a refresh, the next attempt waits this long, ms. */
export const CLIENT_REFUSED_RETRY_MS = 5_000;
/** Pauses between attempts of a refresh the forge could not answer (3 attempts in all), ms. */
export const REFRESH_RETRY_DELAYS_MS: readonly number[] = [200, 1000];
/**
 * How long one broker process may hold a person's refresh lease, ms: longer than the slowest
 * refresh (3 forge attempts of at most 10 s each, their pauses, and the allowlist check), so a
 * live holder never loses it; a crashed holder's lease ends after this.
 */
export const REFRESH_LEASE_MS = 90_000;
/** How often a process waiting for another one's refresh looks at the row again, ms. */
export const REFRESH_LEASE_POLL_MS = 50;
/** People whose last opened forge token box is kept in memory; beyond it the oldest goes. */
export const OPENED_MAX = 1024;

/**
 * How long before expiry a token is refreshed: min(300 s, lifetime / 4). A 3600 s Gitea token
 * refreshes 5 min early; a 60 s test token 15 s early.
 */
export function refreshMarginMs(issuedAt: number, expiresAt: number): number {
  return Math.min(MAX_REFRESH_MARGIN_MS, Math.max(0, expiresAt - issuedAt) / 4);
}

/** True when the token is inside its refresh margin (or expired) at `now`. */
export function needsRefresh(row: Pick<ForgeTokenRow, 'issuedAt' | 'expiresAt'>, now: number): boolean {
  return now >= row.expiresAt - refreshMarginMs(row.issuedAt, row.expiresAt);
}

export interface ForgeTokensDeps {
  config: Pick<Config, 'encryptionKeys' | 'allow'>;
  store: ForgeTokenStore;
  forge: ForgeClient;
  log: Logger;
  audit: Audit;
  /** Tests skip ahead. Default `systemClock`. */
  clock?: Clock;
  /** Pauses between refresh attempts, ms. Default {@link REFRESH_RETRY_DELAYS_MS}. */
  retryDelaysMs?: readonly number[];
  metrics?: Metrics;
}

/** The sealed plaintext: the token pair, nothing else. */
interface TokenPair {
  accessToken: string;
  refreshToken?: string;
}

type Current = { accessToken: string; expiresAt: number };

export function createForgeTokens(deps: ForgeTokensDeps): ForgeTokens {
  const { store, forge, log, audit } = deps;
  const clock = deps.clock ?? systemClock;
  const delays = deps.retryDelaysMs ?? REFRESH_RETRY_DELAYS_MS;
  const sealer = new Sealer(deps.config.encryptionKeys);
  const allowlistOn = deps.config.allow.users.length > 0 || deps.config.allow.orgs.length > 0;
  const listeners: ((personId: string) => unknown)[] = [];
  const inflight = new Map<string, Promise<Current>>();
  /** People the allowlist admitted in this process; the others are checked at their next request. */
  const admitted = new Set<string>();
  /** People whose allowlist check had no answer: not checked again before this time (ms). */
  const recheckAt = new Map<string, number>();
  /** People whose refresh the forge refused for the broker's fault: no new attempt before (ms). */
  const retryAt = new Map<string, number>();
  const allowlistDue = (personId: string) => allowlistOn && !admitted.has(personId) && clock() >= (recheckAt.get(personId) ?? 0);
  const refreshes = deps.metrics?.counter('fjmcp_forge_refreshes_total', 'Forge token refreshes by outcome', ['outcome']);

  const seal = (personId: string, t: TokenPair) => sealer.seal(JSON.stringify(t), personId);

  /**
   * The box last opened for each person, with what it holds (at most {@link OPENED_MAX} people,
   * oldest dropped first). Every call's bearer check reads the row from the store; only the
   * AES-GCM open of an unchanged box is saved (about 0.05 ms a call). A box is sealed with a fresh
   * IV each time, so a changed row (refresh, new sign-in, re-seal) is a miss and replaces the
   * entry: a person's superseded tokens do not stay in memory. Ending or forgetting a grant drops
   * the entry. Boxes under an older key are not kept (they are re-sealed).
   */
  const opened = new Map<string, { sealed: string; pair: Readonly<TokenPair> }>();

  /** Opens a row, re-sealing it under the newest key when an older key sealed it (rotation). */
  async function open(row: ForgeTokenRow): Promise<TokenPair> {
    const hit = opened.get(row.personId);
    if (hit?.sealed === row.sealed) return hit.pair;
    const pair = Object.freeze(JSON.parse(sealer.open(row.sealed, row.personId)) as TokenPair);
    opened.delete(row.personId);
    if (sealer.isStale(row.sealed)) {
      if (await store.resealIfVersion(row.personId, row.version, seal(row.personId, pair))) {
        log.info({ personId: row.personId }, 'forge tokens re-sealed with the newest encryption key');
      }
      return pair;
    }
    if (opened.size >= OPENED_MAX) opened.delete(opened.keys().next().value!);
    opened.set(row.personId, { sealed: row.sealed, pair });
    return pair;
  }

  /** Deletes the row (unless a newer sign-in replaced it), audits, and tells the listeners. */
  async function endGrant(row: ForgeTokenRow, reason: string): Promise<void> {
    if (!(await store.deleteIfVersion(row.personId, row.version))) return;
    opened.delete(row.personId);
    refreshes?.inc({ outcome: 'grant_ended' });
    audit('forge.grant_ended', { personId: row.personId, login: row.login, reason });
    log.info({ personId: row.personId, login: row.login, reason }, 'forge grant ended');
    for (const l of listeners) {
      try {
        await l(row.personId);
      } catch (err) {
        log.error({ err, personId: row.personId }, 'onGrantEnded listener failed');
      }
    }
  }

  /** Calls the forge up to 1 + delays.length times while it is unavailable. */
  async function withRetries<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        if (!(err instanceof ForgeUnavailableError) || attempt >= delays.length) throw err;
        log.warn({ attempt: attempt + 1, err: err.message }, 'forge unavailable; retrying');
        await new Promise((r) => setTimeout(r, delays[attempt]));
      }
    }
  }

  /**
   * Who the token belongs to and whether the allowlist still admits them. Only a definite answer
   * counts: `refused` for another forge user, a refused token, or a definite "not a member";
   * `undecided` when the forge could not answer (network, 5xx), which keeps the person signed in.
   */
  async function allowlistVerdict(personId: string, accessToken: string): Promise<{ refused?: string; undecided?: string }> {
    if (!allowlistOn) return {};
    let who: ForgeIdentity;
    try {
      who = await withRetries(() => forge.identify(accessToken));
    } catch (err) {
      if (err instanceof ForgeGrantEndedError) return { refused: `the forge refused the token: ${err.message}` };
      return { undecided: (err as Error).message };
    }
    if (who.id !== personId) return { refused: 'forge token belongs to another forge user' };
    try {
      return (await withRetries(() => forge.isAllowed(who, accessToken))) ? {} : { refused: 'no longer on the allowlist' };
    } catch (err) {
      if (err instanceof ForgeUnavailableError) return { undecided: err.message };
      throw err;
    }
  }

  /** Applies a verdict: remembers an admission, schedules a re-check, or ends the grant (throws). */
  async function applyVerdict(row: ForgeTokenRow, v: { refused?: string; undecided?: string }): Promise<void> {
    if (v.refused) {
      await endGrant(row, v.refused);
      throw new ForgeGrantEndedError(`forge access refused: ${v.refused}`);
    }
    if (v.undecided) {
      recheckAt.set(row.personId, clock() + ALLOWLIST_RECHECK_MS);
      log.warn({ personId: row.personId, login: row.login, err: v.undecided }, 'allowlist could not be checked; the person stays signed in and is checked again');
      return;
    }
    admitted.add(row.personId);
    recheckAt.delete(row.personId);
  }

  /** The allowlist check of a person not yet checked by this process (after a restart). */
  async function checkPerson(row: ForgeTokenRow): Promise<Current> {
    const current = await fromRow(row);
    await applyVerdict(row, await allowlistVerdict(row.personId, current.accessToken));
    return current;
  }

  /** Refresh if due, else the pending allowlist check; runs at most once at a time per person. */
  async function settle(personId: string): Promise<Current> {
    const row = await store.get(personId);
    if (!row) throw new ForgeGrantEndedError('no forge tokens for this person; sign in again');
    if (needsRefresh(row, clock()) && clock() >= (retryAt.get(personId) ?? 0)) return refreshUnderLease(row);
    if (allowlistDue(personId)) return checkPerson(row);
    return fromRow(row);
  }

  /**
   * Single flight across broker processes on one store (replicas): the refresh runs only while
   * this process holds the person's refresh lease in the store. Another process's refresh is
   * never repeated with the same refresh token — with Forgejo's default
   * INVALIDATE_REFRESH_TOKENS=true that second use would end the person's forge grant. While
   * another process holds the lease, a still-valid access token keeps serving; an expired one
   * waits for the holder's result.
   */
  async function refreshUnderLease(first: ForgeTokenRow): Promise<Current> {
    const personId = first.personId;
    const owner = randomBytes(12).toString('base64url');
    let row = first;
    while (!(await store.acquireRefreshLease(personId, owner, clock(), clock() + REFRESH_LEASE_MS))) {
      if (clock() < row.expiresAt) return fromRow(row); // the holder refreshes; this token still works
      await new Promise((r) => setTimeout(r, REFRESH_LEASE_POLL_MS));
      const now = await store.get(personId);
      if (!now) throw new ForgeGrantEndedError('no forge tokens for this person; sign in again');
      if (!needsRefresh(now, clock())) return fromRow(now); // the holder's refresh landed
      row = now;
    }
    try {
      // Another process may have refreshed between our read and taking the lease.
      const fresh = await store.get(personId);
      if (!fresh) throw new ForgeGrantEndedError('no forge tokens for this person; sign in again');
      if (!needsRefresh(fresh, clock())) return await fromRow(fresh);
      return await refreshPerson(fresh);
    } finally {
      await store.releaseRefreshLease(personId, owner).catch((err: unknown) => log.warn({ err, personId }, 'could not release the forge refresh lease; it ends by itself'));
    }
  }

  /** The refresh itself (see {@link settle}). */
  async function refreshPerson(row: ForgeTokenRow): Promise<Current> {
    const personId = row.personId;
    const pair = await openOrEnd(row);
    if (!pair.refreshToken) {
      if (clock() < row.expiresAt) return { accessToken: pair.accessToken, expiresAt: row.expiresAt };
      await endGrant(row, 'access token expired and the forge issued no refresh token');
      throw new ForgeGrantEndedError('forge access token expired and cannot be refreshed; sign in again');
    }
    let next: ForgeTokenSet;
    log.debug({ personId, login: row.login }, 'forge refresh started'); // replicas: at most one at a time per person (refreshUnderLease)
    try {
      next = await withRetries(() => forge.refresh(pair.refreshToken!));
    } catch (err) {
      const newer = await store.get(personId);
      if (newer && newer.version !== row.version) return fromRow(newer); // a sign-in replaced the tokens meanwhile
      if (err instanceof ForgeUnavailableError) {
        refreshes?.inc({ outcome: 'unavailable' });
        // Pomerium's rule: a transient forge failure keeps the tokens; the old one serves until it expires.
        if (clock() < row.expiresAt) return { accessToken: pair.accessToken, expiresAt: row.expiresAt };
        throw err;
      }
      if (err instanceof ForgeClientRefusedError) {
        // The broker's own mistake (a wrong client secret, a deleted forge application): never
        // the person's. Keep everything, say so, and try again after a pause.
        refreshes?.inc({ outcome: 'client_refused' });
        retryAt.set(personId, clock() + CLIENT_REFUSED_RETRY_MS);
        audit('forge.client_refused', { personId, login: row.login, kind: err.kind, reason: err.message });
        if (clock() < row.expiresAt) return { accessToken: pair.accessToken, expiresAt: row.expiresAt };
        throw new ForgeUnavailableError(`the forge refused the broker's ${err.kind === 'credentials' ? 'client credentials' : 'request'}; the sign-in is kept, retry shortly`, { cause: err });
      }
      if (err instanceof ForgeGrantEndedError) await endGrant(row, err.message);
      throw err;
    }
    retryAt.delete(personId);
    // RFC 6749 §6: without a new refresh token in the answer, the old one stays in use.
    const nextPair: TokenPair = { accessToken: next.accessToken, refreshToken: next.refreshToken ?? pair.refreshToken };
    const written = { personId, login: row.login, sealed: seal(personId, nextPair), issuedAt: clock(), expiresAt: next.expiresAt };
    const version = await store.replaceIfVersion(written, row.version, clock());
    if (version === undefined) {
      // A newer sign-in (or a forget) won while the forge answered: the newest tokens are theirs.
      const newer = await store.get(personId);
      if (!newer) throw new ForgeGrantEndedError('forge tokens were removed; sign in again');
      return fromRow(newer);
    }
    await applyVerdict({ ...row, ...written, version, updatedAt: clock() }, await allowlistVerdict(personId, next.accessToken));
    refreshes?.inc({ outcome: 'ok' });
    audit('forge.refreshed', { personId, login: row.login });
    // Re-read: what the store holds is what every caller gets, even if it moved on meanwhile.
    const saved = await store.get(personId);
    if (!saved) throw new ForgeGrantEndedError('forge tokens were removed; sign in again');
    return fromRow(saved);
  }

  /** Current token of a row as stored (no refresh). */
  async function fromRow(row: ForgeTokenRow): Promise<Current> {
    return { accessToken: (await openOrEnd(row)).accessToken, expiresAt: row.expiresAt };
  }

  /** {@link open}, ending the grant when no configured key opens the row (key removed from the ring). */
  async function openOrEnd(row: ForgeTokenRow): Promise<TokenPair> {
    try {
      return await open(row);
    } catch (err) {
      if (!(err instanceof SealError)) throw err;
      await endGrant(row, 'sealed tokens cannot be opened (encryption key removed?)');
      throw new ForgeGrantEndedError('stored forge tokens cannot be opened; sign in again', { cause: err });
    }
  }

  return {
    async save(identity, tokens) {
      const now = clock();
      // The caller (the sign-in) has just checked the allowlist.
      admitted.add(identity.id);
      recheckAt.delete(identity.id);
      retryAt.delete(identity.id);
      const pair: TokenPair = { accessToken: tokens.accessToken, ...(tokens.refreshToken ? { refreshToken: tokens.refreshToken } : {}) };
      await store.put({ personId: identity.id, login: identity.login, sealed: seal(identity.id, pair), issuedAt: now, expiresAt: tokens.expiresAt }, now);
    },

    async current(personId, stored) {
      const row = stored === undefined ? await store.get(personId) : stored ?? undefined;
      if (!row) throw new ForgeGrantEndedError('no forge tokens for this person; sign in again');
      const refreshDue = needsRefresh(row, clock()) && clock() >= (retryAt.get(personId) ?? 0);
      if (!refreshDue && !allowlistDue(personId)) return fromRow(row);
      // Single flight: concurrent callers for one person share one forge refresh or check.
      let p = inflight.get(personId);
      if (!p) {
        p = settle(personId).finally(() => inflight.delete(personId));
        inflight.set(personId, p);
      }
      return p;
    },

    async forget(personId) {
      await store.delete(personId);
      opened.delete(personId);
    },

    onGrantEnded(listener) {
      listeners.push(listener);
    },
  };
}
