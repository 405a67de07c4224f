/**
 * @module mcp/sse-writer
 * Every server-sent-events response the broker sends: the streams of 2025 sessions (POST replies,
 * the GET stream, resumed streams), the 2026-07-28 request and listen streams and the legacy
 * HTTP+SSE stream. One web stream per response, written by the broker:
 * - a `: stream open` comment is written at once (Cloudflare and Claude.ai's proxy wait for a
 *   first byte before they pass the response on);
 * - `event: message` per JSON-RPC message, with an `id:` line when the session keeps events for
 *   resumption, and a keepalive comment every {@link SSE_KEEPALIVE_MS};
 * - at most `maxBuffered` bytes may wait for a slow client (the socket's backpressure reaches the
 *   stream's queue); past that the stream is cut, so a client that stops reading cannot make the
 *   broker hold a child's output without bound;
 * - the end is reported exactly once, whoever ends it (client gone, the broker, overflow).
 * @see MCP 2025-11-25 basic/transports §streamable-http (SSE streams, event ids, resumability)
 * @see WHATWG HTML §server-sent-events (event stream format)
 */

import { toWire, type WireJson } from '../lib/raw-json.js';

/** Interval of SSE keepalive comments in ms (proxies cut idle streams after 100–300 s). */
export const SSE_KEEPALIVE_MS = 15_000;
/** Bytes of SSE that may wait for one slow client before its stream is cut, default 8 MiB. */
export const SSE_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/**
 * Messages longer than this (characters of JSON) are written as three chunks (head, text, tail)
 * instead of one concatenated frame, so a large result is not copied once more into a frame
 * string before it is encoded. Smaller frames go as one chunk: one socket write per message.
 */
const SPLIT_FRAME_CHARS = 64 * 1024;

const encoder = new TextEncoder();
const OPEN_COMMENT = encoder.encode(': stream open\n\n');
const KEEPALIVE = encoder.encode(': keepalive\n\n');
const TAIL = encoder.encode('\n\n');

export interface SseHooks {
  opened(): void;
  /** Called once when the stream ends; `byClient` when the client went away (or was cut) first. */
  closed(byClient: boolean): void;
}

export interface SseOptions {
  /** Extra response headers (e.g. `mcp-session-id`). */
  headers?: Record<string, string>;
  /** Bytes that may wait for the client before the stream is cut; default {@link SSE_MAX_BUFFERED_BYTES}. */
  maxBuffered?: number;
}

export class SseWriter {
  readonly response: Response;
  #ctrl!: ReadableStreamDefaultController<Uint8Array>;
  /** The broker ended the stream (end()) or it was reported closed. */
  #ended = false;
  #reported = false;
  readonly #keepalive: NodeJS.Timeout;
  readonly #maxBuffered: number;
  readonly #onAbort: () => void;

  /**
   * @param signal the request's abort signal (client disconnect).
   * @param hooks `opened` is called at once, `closed` once at the end.
   */
  constructor(private readonly signal: AbortSignal, private readonly hooks: SseHooks, options: SseOptions = {}) {
    this.#maxBuffered = options.maxBuffered ?? SSE_MAX_BUFFERED_BYTES;
    this.#onAbort = () => this.#finish(true, () => this.#ctrl.close());
    const body = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.#ctrl = c;
          c.enqueue(OPEN_COMMENT);
        },
        cancel: () => this.#finish(true),
      },
      { highWaterMark: this.#maxBuffered, size: (chunk) => chunk.byteLength },
    );
    this.#keepalive = setInterval(() => this.#enqueue(KEEPALIVE), SSE_KEEPALIVE_MS);
    this.#keepalive.unref();
    this.response = new Response(body, {
      headers: {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
        // Said explicitly so @hono/node-server sends the headers at once and streams from there.
        // Without it, node-server first tries to read the whole body without blocking (to send a
        // Content-Length) and, when the first chunk is there but the second is not, waits a timer
        // turn (>= 1 ms, more on a busy machine) on every SSE response before it writes anything.
        // HTTP/1.1 framing only; the broker's listener is HTTP/1.1.
        'transfer-encoding': 'chunked',
        ...options.headers,
      },
    });
    hooks.opened();
    // A client already gone is reported after construction, never during it: the owner registers
    // the writer first (its `closed` hook may look it up).
    if (signal.aborted) queueMicrotask(this.#onAbort);
    else signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** True once the stream ended, by either side. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Sends one JSON-RPC message as a `message` event. */
  send(msg: unknown, eventId?: string): void {
    this.message(toWire(msg), eventId);
  }

  /** Sends serialized JSON-RPC (one line: {@link toWire} output) as a `message` event. */
  message(json: WireJson, eventId?: string): void {
    if (this.#ended) return;
    const head = eventId === undefined ? 'event: message\ndata: ' : `event: message\nid: ${eventId}\ndata: `;
    if (typeof json === 'string' && json.length <= SPLIT_FRAME_CHARS) return this.#enqueue(encoder.encode(`${head}${json}\n\n`));
    if (!this.#room()) return;
    this.#ctrl.enqueue(encoder.encode(head));
    if (typeof json === 'string') this.#ctrl.enqueue(Buffer.from(json, 'utf8'));
    else for (const p of json.parts) this.#ctrl.enqueue(p);
    this.#ctrl.enqueue(TAIL);
  }

  /** An event with an id and no data (MCP 2025-11-25 §resumability: the priming event). */
  prime(eventId: string): void {
    this.#enqueue(encoder.encode(`id: ${eventId}\ndata: \n\n`));
  }

  /** An event of another type (the 2024-11-05 transport's `endpoint`); `data` holds no line break. */
  event(name: string, data: string): void {
    this.#enqueue(encoder.encode(`event: ${name}\ndata: ${data}\n\n`));
  }

  /** Ends the stream from the server side (after an optional last message); what was sent is still delivered. */
  end(last?: unknown): void {
    if (this.#ended) return;
    if (last !== undefined) this.send(last);
    this.#finish(false, () => this.#ctrl.close());
  }

  #enqueue(chunk: Uint8Array): void {
    if (this.#room()) this.#ctrl.enqueue(chunk);
  }

  /**
   * False when the stream is over, or is cut now: what already waits for the client is over the
   * bound (desiredSize = bound - queued bytes). Checked once per event, before its first chunk,
   * so one message larger than the bound (up to FJMCP_MAX_MESSAGE_BYTES) still goes through.
   */
  #room(): boolean {
    if (this.#ended) return false;
    if ((this.#ctrl.desiredSize ?? 0) >= 0) return true;
    this.#finish(true, () => this.#ctrl.error(new Error(`SSE client too slow: more than ${this.#maxBuffered} bytes waiting`)));
    return false;
  }

  #finish(byClient: boolean, stream?: () => void): void {
    if (this.#reported) return;
    this.#ended = this.#reported = true;
    clearInterval(this.#keepalive);
    this.signal.removeEventListener('abort', this.#onAbort);
    try {
      stream?.();
    } catch { /* closed or errored already */ }
    this.hooks.closed(byClient);
  }
}
