/**
 * @module oauth/pending-authorizations
 * Bounds what `/authorize` may write. Every valid authorization request stores one transaction
 * (store/transactions.ts) until the person decides or it expires ({@link TRANSACTION_TTL_S});
 * without a bound, anyone could grow the database with unauthenticated GETs. Two caps:
 * - per client IP (`FJMCP_MAX_PENDING_AUTHORIZATIONS_PER_IP`): transactions this process created
 *   for that address and not yet expired, counted in memory (per replica);
 * - in total (`FJMCP_MAX_PENDING_AUTHORIZATIONS`): unexpired, unfinished transactions in the store,
 *   shared by every replica; at the cap, expired and finished rows are reaped first, then counted again.
 * Over a cap the request fails with `temporarily_unavailable` (RFC 6749 §4.1.2.1: "temporary
 * overloading"), which authorize.ts sends back to the client once its redirect URI is valid.
 */
import type { TransactionStore } from '../store/transactions.js';
import { OAuthError } from './errors.js';

/** Most client IPs tracked; beyond it the oldest address is forgotten. */
const MAX_IPS = 100_000;

export interface PendingAuthorizationsDeps {
  store: Pick<TransactionStore, 'countPending' | 'reap'>;
  /** Pending transactions one client IP may hold. */
  perIp: number;
  /** Pending transactions the store may hold. */
  total: number;
  /** Lifetime of a transaction, ms (its row expires then). */
  ttlMs: number;
  now: () => number;
}

export class PendingAuthorizations {
  /** Client IP → expiry times (ms) of the transactions created for it, oldest first. */
  readonly #byIp = new Map<string, number[]>();

  constructor(private readonly deps: PendingAuthorizationsDeps) {}

  /**
   * Admits one new transaction for `ip`, or throws. Call right before storing it.
   * @throws {OAuthError} `temporarily_unavailable`, status 429 with `Retry-After` (seconds) over
   *   the per-IP cap, 503 over the total cap.
   */
  async admit(ip: string): Promise<void> {
    const { perIp, total, ttlMs, store } = this.deps;
    const now = this.deps.now();
    const mine = this.#live(ip, now);
    if (mine.length >= perIp) {
      const retryAfterS = Math.max(1, Math.ceil((mine[0]! - now) / 1000));
      throw new OAuthError('temporarily_unavailable', `too many sign-ins in progress from this address (at most ${perIp}); retry in ${retryAfterS} s`, {
        status: 429,
        headers: { 'retry-after': String(retryAfterS) },
      });
    }
    if ((await store.countPending(now)) >= total) {
      await store.reap(now);
      if ((await store.countPending(now)) >= total) {
        throw new OAuthError('temporarily_unavailable', 'the broker holds the most sign-ins in progress it may; retry in a minute', {
          status: 503,
          headers: { 'retry-after': '60' },
        });
      }
    }
    mine.push(now + ttlMs);
    if (!this.#byIp.has(ip)) {
      if (this.#byIp.size >= MAX_IPS) this.#byIp.delete(this.#byIp.keys().next().value as string);
      this.#byIp.set(ip, mine);
    }
  }

  /** Forgets expired entries (the authorization server's reaper calls it). */
  sweep(now: number): void {
    for (const ip of [...this.#byIp.keys()]) this.#live(ip, now);
  }

  /** The unexpired expiry times of `ip` (dropping the key when none is left). */
  #live(ip: string, now: number): number[] {
    const list = this.#byIp.get(ip) ?? [];
    let i = 0;
    while (i < list.length && list[i]! <= now) i++;
    if (i) list.splice(0, i);
    if (!list.length) this.#byIp.delete(ip);
    return list;
  }
}
