/**
 * @module oauth/rate-limit
 * A fixed one-minute window counter per key (client IP), in memory. Generous by design: Claude
 * registers a client on every connection from a shared egress (docs/authorization.md §Policy choices), so the limit
 * guards against floods, not against normal use.
 */

/** Most distinct keys tracked; beyond it the oldest windows are dropped. */
const MAX_KEYS = 100_000;
const WINDOW_MS = 60_000;

export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();
  constructor(private readonly perMinute: number) {}

  /** Counts one hit; @returns seconds to wait when over the limit, else 0. */
  hit(key: string, now: number): number {
    let w = this.windows.get(key);
    if (!w || now - w.start >= WINDOW_MS) {
      this.windows.delete(key);
      w = { start: now, count: 0 };
      this.windows.set(key, w);
      if (this.windows.size > MAX_KEYS) this.windows.delete(this.windows.keys().next().value as string);
    }
    w.count += 1;
    return w.count > this.perMinute ? Math.ceil((w.start + WINDOW_MS - now) / 1000) : 0;
  }

  /** Drops windows that ended before `now`. */
  sweep(now: number): void {
    for (const [k, w] of this.windows) if (now - w.start >= WINDOW_MS) this.windows.delete(k);
  }
}
