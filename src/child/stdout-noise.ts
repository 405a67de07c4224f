/**
 * @module child/stdout-noise
 * Counts the lines a child writes to stdout that are not JSON-RPC (debug output, whole user
 * objects with email addresses: data, never logged). Logs at most one line per
 * {@link NOISE_LOG_INTERVAL_MS} per child, giving only the count, and the remainder when the child
 * ends. The content of such a line never reaches the log.
 */
import type { Logger } from '../ops/log.js';

/** Least time between two noise log lines of one child, ms. */
export const NOISE_LOG_INTERVAL_MS = 60_000;

export class StdoutNoise {
  /** Lines counted since the last log line. */
  #unreported = 0;
  /** Lines counted over the child's life. */
  total = 0;
  #lastLogAt = -Infinity;

  constructor(private readonly log: Logger, private readonly pid: number, private readonly now: () => number = Date.now) {}

  /** One non-JSON line was seen (its content is not passed here on purpose). */
  count(): void {
    this.total++;
    this.#unreported++;
    const t = this.now();
    if (t - this.#lastLogAt >= NOISE_LOG_INTERVAL_MS) this.#report(t);
  }

  /** The child ended: report what is left. */
  flush(): void {
    if (this.#unreported > 0) this.#report(this.now());
  }

  #report(t: number): void {
    this.log.warn({ pid: this.pid, lines: this.#unreported, total: this.total }, 'MCP child wrote non-JSON lines to stdout; skipped, content not logged');
    this.#unreported = 0;
    this.#lastLogAt = t;
  }
}
