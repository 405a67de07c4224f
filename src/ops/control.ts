/**
 * @module ops/control
 * How revocations and blocks reach a running broker, whichever process wrote them (the admin
 * CLI, the account page, a forge grant that ended): every such write queues an event in the
 * store (store/control.ts) in the same transaction, and each running broker reads the queue every
 * {@link CONTROL_POLL_MS}. For each event it closes the open MCP sessions and streams of the
 * revoked grants or the person, and stops the person's child when no grant of theirs remains
 * (or at once when blocked). The bearer check reads the store at every request, so a revoked
 * token or a blocked person is refused from the next request on; the queue only adds the closing
 * of what is already open. The same loop writes a snapshot of this process's open sessions and
 * running children to the store for `fjmcp-broker admin sessions|people`.
 * Also owns the stable key of MCP session ids ({@link loadSessionIdKey}).
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../lib/clock.js';
import { SealError, type Sealer } from '../lib/crypto.js';
import type { LiveSession, Relay } from '../mcp/relay.js';
import { sessionIdKeyFrom } from '../mcp/session-id.js';
import type { Store } from '../store/store.js';
import type { Logger } from './log.js';

/** How often a running broker reads the revocation queue, ms: the bound on "at once". */
export const CONTROL_POLL_MS = 1_000;
/** How often the live snapshot is written for the admin CLI, ms. */
export const LIVE_SNAPSHOT_MS = 5_000;
/** Queue entries are kept this long (every broker has long read them), ms. */
const EVENT_KEEP_MS = 24 * 3600_000;
/** broker_state names. */
export const SESSION_ID_KEY_STATE = 'mcp-session-id-key';
export const LIVE_STATE = 'live';

/** What `admin sessions` and `admin people` read: one running broker's open sessions and children. */
export interface LiveSnapshot {
  /** When written, ms since the epoch. */
  at: number;
  pid: number;
  sessions: LiveSession[];
  /** Person ids whose child runs. */
  children: string[];
}

/**
 * The HMAC key of MCP session ids, sealed in the store so that it survives rotations of the
 * encryption keys (`admin rotate-keys` re-seals it). Its first value is the key earlier brokers
 * derived from the first encryption key, so session ids minted before stay valid.
 * A box no configured key opens (a key removed without `rotate-keys`) is replaced by a new
 * random key: sessions then re-initialize, nobody is signed out.
 */
export async function loadSessionIdKey(store: Store, sealer: Sealer, firstKey: Buffer, clock: Clock, log: Logger): Promise<Buffer> {
  const seal = (key: Buffer) => sealer.seal(key.toString('base64'), SESSION_ID_KEY_STATE);
  const box = await store.control.initState(SESSION_ID_KEY_STATE, seal(sessionIdKeyFrom(firstKey)), clock());
  try {
    const key = Buffer.from(sealer.open(box, SESSION_ID_KEY_STATE), 'base64');
    if (sealer.isStale(box)) await store.control.putState(SESSION_ID_KEY_STATE, seal(key), clock());
    return key;
  } catch (err) {
    if (!(err instanceof SealError)) throw err;
    log.error('the MCP session-id key in the store opens with no configured encryption key (removed without `fjmcp-broker admin rotate-keys`?); a new one is made: open MCP sessions must initialize again');
    const key = randomBytes(32);
    await store.control.putState(SESSION_ID_KEY_STATE, seal(key), clock());
    return key;
  }
}

export interface ControlLoop {
  /** Reads the queue once now (tests, and after a local revocation). */
  poll(): Promise<void>;
  stop(): void;
}

/** Starts the loop; the first read skips events queued before this start (nothing was open then). */
export async function startControlLoop(deps: { store: Store; relay: Relay; log: Logger; clock: Clock; pollMs?: number }): Promise<ControlLoop> {
  const { store, relay, log, clock } = deps;
  let last = await store.control.lastEventId();
  let lastSnapshot = 0;
  let running: Promise<void> | undefined;

  async function once(): Promise<void> {
    const events = await store.control.eventsAfter(last);
    for (const e of events) {
      last = e.id;
      if (e.kind === 'block' || e.kind === 'person') {
        if (e.personId) await relay.cut({ personId: e.personId }, e.kind === 'block' ? 'person blocked' : 'every grant of the person revoked', true);
      } else {
        await relay.cut({ grantIds: e.grantIds }, 'grant revoked');
      }
    }
    if (events.length) {
      // The child stops when no grant of the person remains.
      for (const personId of relay.childrenOf()) {
        if (!(await store.control.hasActiveGrant(personId))) await relay.cut({ personId }, 'no grant remains', true);
      }
    }
    const now = clock();
    if (now - lastSnapshot >= LIVE_SNAPSHOT_MS) {
      lastSnapshot = now;
      const snap: LiveSnapshot = { at: now, pid: process.pid, sessions: relay.sessions(), children: relay.childrenOf() };
      await store.control.putState(LIVE_STATE, JSON.stringify(snap), now);
      await store.control.reapEvents(now - EVENT_KEEP_MS);
    }
  }

  const poll = () =>
    (running ??= once()
      .catch((err: unknown) => log.error({ err }, 'applying revocations to open sessions failed; retrying'))
      .finally(() => (running = undefined)));
  const timer = setInterval(() => void poll(), deps.pollMs ?? CONTROL_POLL_MS);
  timer.unref();
  return { poll, stop: () => clearInterval(timer) };
}
