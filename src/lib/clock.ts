/**
 * @module lib/clock
 * The one clock of the broker: ms since the epoch. Every time-dependent part takes a `Clock`
 * (default {@link systemClock}) so tests can move time; nothing else calls `Date.now()` for
 * decisions about expiry.
 */

/** Returns the current time in ms since the epoch. */
export type Clock = () => number;

/** Wall-clock time (`Date.now`). */
export const systemClock: Clock = () => Date.now();
