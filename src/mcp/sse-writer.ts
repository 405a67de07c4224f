/**
 * @module mcp/sse-writer
 * A server-sent-events response the broker writes itself (the 2026-07-28 paths have no SDK
 * transport): `event: message` per JSON-RPC message, a keepalive comment every 15 s, and the
 * {@link guardSse} wrapper (first byte at once, bounded buffer, one close report).
 * @see MCP 2026-07-28 basic/transports/streamable-http §receiving-messages (keep-alive comments)
 */
import type { RpcMessage } from './protocol.js';
import { SSE_KEEPALIVE_MS } from './session.js';
import { guardSse } from './sse-guard.js';

const encoder = new TextEncoder();
const KEEPALIVE = encoder.encode(': keepalive\n\n');

export interface SseHooks {
  opened(): void;
  /** Called once when the stream ends; `byClient` when the client went away first. */
  closed(byClient: boolean): void;
}

export class SseWriter {
  readonly response: Response;
  #ctrl!: ReadableStreamDefaultController<Uint8Array>;
  #ended = false;
  readonly #keepalive: NodeJS.Timeout;

  constructor(signal: AbortSignal, hooks: SseHooks) {
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (this.#ctrl = c) });
    this.#keepalive = setInterval(() => this.#enqueue(KEEPALIVE), SSE_KEEPALIVE_MS);
    this.#keepalive.unref();
    this.response = guardSse(new Response(body, { headers: { 'content-type': 'text/event-stream' } }), signal, hooks.opened, () => {
      clearInterval(this.#keepalive);
      const byClient = !this.#ended;
      this.#ended = true;
      hooks.closed(byClient);
    });
  }

  get ended(): boolean {
    return this.#ended;
  }

  send(msg: RpcMessage): void {
    this.#enqueue(encoder.encode(`event: message\ndata: ${JSON.stringify(msg)}\n\n`));
  }

  /** An event of another type (the 2024-11-05 transport's `endpoint`); `data` holds no line break. */
  event(name: string, data: string): void {
    this.#enqueue(encoder.encode(`event: ${name}\ndata: ${data}\n\n`));
  }

  /** Ends the stream from the server side (after an optional last message). */
  end(last?: RpcMessage): void {
    if (this.#ended) return;
    if (last) this.send(last);
    this.#ended = true;
    clearInterval(this.#keepalive);
    try {
      this.#ctrl.close();
    } catch { /* closed by the guard already */ }
  }

  #enqueue(chunk: Uint8Array): void {
    if (this.#ended) return;
    try {
      this.#ctrl.enqueue(chunk);
    } catch { /* the guard closed the stream */ }
  }
}
