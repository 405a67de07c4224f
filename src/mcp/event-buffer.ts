/**
 * @module mcp/event-buffer
 * One session's SSE replay buffer, so a 2025-era client
 * whose stream dropped reconnects with `GET` + `Last-Event-ID` and receives what it missed — the
 * result of a long call included — instead of losing it.
 *
 * Events are kept as the JSON that was written (serialised once, for the stream and the buffer
 * alike; a large message as its text and the bytes of its large literals: lib/raw-json). Bounded
 * by bytes (`FJMCP_SSE_REPLAY_BYTES` per session, UTF-8 bytes of the JSON): the oldest events go
 * first. A resume whose missed events were already dropped is refused with an error (never a
 * silent partial replay), so the client knows to re-issue the request.
 *
 * Event ids are `<streamId>.<n>.<epoch>`: `n` increases per buffer, `epoch` is random per buffer,
 * so the stream of an id is known without a lookup, and an id minted by another process (before a
 * restart, or on another replica) is recognised as unknown rather than mistaken for one of ours.
 * @see MCP 2025-11-25 basic/transports §resumability-and-redelivery (event ids unique per session,
 *   replay only the disconnected stream's messages)
 */
import { randomBytes } from 'node:crypto';
import { wireBytes, type WireJson } from '../lib/raw-json.js';

export type EventId = string;
export type StreamId = string;

/** Why a resume cannot be served whole: the id is not this buffer's, or its events were dropped. */
export type ResumeGap = { kind: 'unknown' | 'dropped'; message: string };

interface Stored {
  id: EventId;
  seq: number;
  streamId: StreamId;
  /** The event's data: a JSON-RPC message's JSON, or '' for a priming event. */
  data: WireJson;
  bytes: number;
}

/** How many streams' "events were dropped after n" marks are kept (oldest forgotten first). */
const LOST_MARKS_MAX = 1024;

export class EventBuffer {
  #seq = 0;
  #bytes = 0;
  readonly #epoch = randomBytes(6).toString('base64url');
  readonly #events: Stored[] = [];
  /** Per stream: the highest sequence number dropped for lack of room. */
  readonly #lost = new Map<StreamId, number>();

  /** @param maxBytes most bytes (serialized JSON) kept; 0 keeps nothing (resuming then always fails). */
  constructor(readonly maxBytes: number) {}

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Keeps one event of `streamId` (`data` '' for a priming event) and returns its id. */
  store(streamId: StreamId, data: WireJson): EventId {
    const seq = ++this.#seq;
    const id = `${streamId}.${seq}.${this.#epoch}`;
    const bytes = wireBytes(data);
    this.#events.push({ id, seq, streamId, data, bytes });
    this.#bytes += bytes;
    while (this.#bytes > this.maxBytes && this.#events.length > 0) {
      const old = this.#events.shift()!;
      this.#bytes -= old.bytes;
      this.#lost.delete(old.streamId);
      this.#lost.set(old.streamId, old.seq);
      if (this.#lost.size > LOST_MARKS_MAX) this.#lost.delete(this.#lost.keys().next().value!);
    }
    return id;
  }

  /** The stream an id of this buffer belongs to; undefined for any other id. */
  streamOf(eventId: EventId): StreamId | undefined {
    return this.#parse(eventId)?.streamId;
  }

  /** Why resuming after `lastEventId` cannot replay everything missed, or undefined when it can. */
  gap(lastEventId: EventId): ResumeGap | undefined {
    const last = this.#parse(lastEventId);
    if (!last) return { kind: 'unknown', message: `unknown Last-Event-ID ${JSON.stringify(lastEventId.slice(0, 100))}` };
    if ((this.#lost.get(last.streamId) ?? 0) > last.seq) {
      return { kind: 'dropped', message: 'the events after Last-Event-ID no longer fit the replay buffer (FJMCP_SSE_REPLAY_BYTES); re-issue the request' };
    }
    return undefined;
  }

  /**
   * The events of `lastEventId`'s stream sent after it, oldest first (priming events left out:
   * they carry only an id). Call {@link gap} first: this returns what is kept, whole or not.
   */
  after(lastEventId: EventId): { id: EventId; data: WireJson }[] {
    const last = this.#parse(lastEventId);
    if (!last) return [];
    return this.#events.filter((e) => e.streamId === last.streamId && e.seq > last.seq && e.data !== '').map(({ id, data }) => ({ id, data }));
  }

  /** Stream and sequence number of one of this buffer's ids; undefined for any other id. */
  #parse(eventId: EventId): { streamId: StreamId; seq: number } | undefined {
    const parts = eventId.split('.');
    if (parts.length < 3 || parts.pop() !== this.#epoch) return undefined;
    const seq = Number(parts.pop());
    if (!Number.isSafeInteger(seq) || seq <= 0 || seq > this.#seq) return undefined;
    return { streamId: parts.join('.'), seq };
  }
}
