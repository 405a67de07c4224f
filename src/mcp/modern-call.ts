/**
 * @module mcp/modern-call
 * One 2026-07-28 request as a downstream of the person's child: there is no session, the request
 * is its own stream. The answer is JSON when the child answers within {@link STREAM_AFTER_MS}
 * with nothing before it (404 for -32601, as streamable-http §protocol-version-header asks);
 * otherwise SSE, opened at the first progress or log notification or when that time passes, so
 * proxies get a first byte. Closing the stream (or leaving before the JSON answer) cancels the
 * call at the child (streamable-http §cancellation).
 */
import { toWire, wireBody } from '../lib/raw-json.js';
import type { Downstream } from './child-link.js';
import { logWanted, modernizeResult, type ModernRequest } from './modern.js';
import { RPC, isResponse, type Id, type RpcMessage } from './protocol.js';
import { SseWriter } from './sse-writer.js';

/** A call still silent after this many ms is answered as an SSE stream. */
export const STREAM_AFTER_MS = 1000;

export interface ModernCallHooks {
  /** The client went away before the answer: the call is to be cancelled at the child. */
  gone(call: ModernCall): void;
  streamOpened(): void;
  streamClosed(): void;
}

let seq = 0;

export class ModernCall implements Downstream {
  readonly id = `modern-${++seq}`;
  /** None: child→client requests (sampling, elicitation, roots) are never routed to a 2026-07-28 client. */
  readonly capabilities: Record<string, unknown> = {};
  readonly subscriptions: ReadonlySet<string> = new Set();
  closed = false;
  lastActivity = Date.now();
  /** The broker-side OAuth client id of the request's access token (tool-call audit). */
  oauthClientId: string | undefined;
  readonly response: Promise<Response>;
  #resolve!: (res: Response) => void;
  #sse: SseWriter | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly req: ModernRequest,
    private readonly signal: AbortSignal,
    private readonly hooks: ModernCallHooks,
  ) {
    this.response = new Promise((r) => (this.#resolve = r));
    this.#timer = setTimeout(() => this.#stream(), STREAM_AFTER_MS);
    this.#timer.unref();
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Request-related notifications (progress; logs at the requested level) and the final response. */
  deliver(msg: RpcMessage, _related?: Id): void {
    if (this.closed) return;
    if (isResponse(msg)) return this.#finish(msg);
    if (msg.method === 'notifications/message') {
      if (!logWanted(msg.params?.level, this.req.logLevel)) return;
    } else if (msg.method !== 'notifications/progress') {
      return;
    }
    this.#stream().send(msg);
  }

  #finish(msg: RpcMessage): void {
    this.closed = true;
    clearTimeout(this.#timer);
    this.signal.removeEventListener('abort', this.#onAbort);
    modernizeResult(this.req.msg.method, msg);
    if (this.#sse) return this.#sse.end(msg);
    const status = msg.error?.code === RPC.METHOD_NOT_FOUND ? 404 : 200;
    this.#resolve(new Response(wireBody(toWire(msg)), { status, headers: { 'content-type': 'application/json' } }));
  }

  #stream(): SseWriter {
    if (this.#sse || this.closed) return this.#sse!;
    this.signal.removeEventListener('abort', this.#onAbort);
    this.#sse = new SseWriter(this.signal, {
      opened: () => this.hooks.streamOpened(),
      closed: (byClient) => {
        this.hooks.streamClosed();
        if (byClient) this.#gone();
      },
    });
    this.#resolve(this.#sse.response);
    return this.#sse;
  }

  #gone(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.#timer);
    this.hooks.gone(this);
  }

  readonly #onAbort = (): void => this.#gone();
}
