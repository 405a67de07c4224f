/**
 * @module mcp/session
 * One downstream MCP session: a v2 SDK `WebStandardStreamableHTTPServerTransport` (POST with SSE
 * replies, the GET stream, DELETE, `MCP-Protocol-Version` and `Accept`/`Content-Type` checks,
 * body cap, keepalive comments) plus what the client declared. Every message the client sends
 * goes to {@link Person.receive}; routing state lives in the person's child links, not here.
 */
import { WebStandardStreamableHTTPServerTransport, type JSONRPCMessage } from '@modelcontextprotocol/server';
import type { Logger } from '../ops/log.js';
import type { Downstream } from './child-link.js';
import { EventBuffer } from './event-buffer.js';
import type { Person } from './person.js';
import { ACCEPTED_HEADER_VERSIONS, RPC, httpRpcError, isResponse, rpcError, type Id, type RpcMessage } from './protocol.js';
import { guardSse } from './sse-guard.js';

/** Interval of SSE keepalive comments in ms (proxies cut idle streams after 100–300 s). */
export const SSE_KEEPALIVE_MS = 15_000;

/**
 * Requests answered with `application/json` instead of an SSE stream (MCP 2025-11-25
 * basic/transports §sending-messages-to-the-server: the server MAY return either). Decided per
 * request, not by a setting: one session mixes calls that need a stream (a `tools/call` may bring
 * progress, log messages or the child's sampling and elicitation requests, which only a stream
 * can carry) with requests that only ever get their one response. These methods are of the second
 * kind when they carry no progress token; anything the child still sends alongside goes to the
 * session's GET stream, so nothing is lost. A single JSON body is cheaper for the client and for
 * proxies than a stream opened for one event.
 */
export const JSON_ANSWERED_METHODS: ReadonlySet<string> = new Set([
  'ping', 'tools/list', 'resources/list', 'resources/templates/list', 'prompts/list',
  'completion/complete', 'logging/setLevel', 'resources/subscribe', 'resources/unsubscribe',
]);

/** True when the client accepts `application/json` (a missing Accept accepts anything). */
function acceptsJson(req: Request): boolean {
  const accept = req.headers.get('accept');
  return !accept || /(^|,)\s*(application\/json|application\/\*|\*\/\*)\s*(;|,|$)/i.test(accept);
}

/** What the session registry (the relay) learns from a session. */
export interface SessionHooks {
  onClosed(session: Session): void;
  streamOpened(session: Session): void;
  streamClosed(session: Session): void;
}

export class Session implements Downstream {
  capabilities: Record<string, unknown> = {};
  clientInfo: unknown;
  /** The broker-side OAuth client id of the access token that opened or last used the session (audit). */
  oauthClientId: string | undefined;
  protocolVersion = '2025-03-26';
  lastActivity = Date.now();
  openStreams = 0;
  /** True while a re-attached session's synthetic handshake runs (answered without the child). */
  reattaching = false;
  closed = false;
  /** The client ended the session with DELETE: its id must not be re-attached (404 from now on). */
  terminatedByClient = false;
  readonly subscriptions = new Set<string>();
  #getStreams = 0;
  readonly #transport: WebStandardStreamableHTTPServerTransport;
  /** What was sent on this session's SSE streams, for `Last-Event-ID` resumption; none when the bound is 0. */
  readonly #replay: EventBuffer | undefined;
  /** Requests answered as JSON ({@link JSON_ANSWERED_METHODS}) still waiting for their response, by client id. */
  readonly #jsonWaiting = new Map<Id, (msg: RpcMessage) => void>();

  /** @param replayBytes bound of the SSE replay buffer in bytes (FJMCP_SSE_REPLAY_BYTES); 0 = no resuming. */
  constructor(
    readonly id: string,
    readonly person: Person,
    private readonly hooks: SessionHooks,
    private readonly log: Logger,
    maxBodyBytes: number,
    replayBytes = 0,
  ) {
    this.#replay = replayBytes > 0 ? new EventBuffer(replayBytes) : undefined;
    this.#transport = new WebStandardStreamableHTTPServerTransport({
      // With an event store every SSE event carries an id (and 2025-11-25 clients get a priming
      // event), so a client whose stream dropped resumes with GET + Last-Event-ID.
      ...(this.#replay ? { eventStore: this.#replay } : {}),
      sessionIdGenerator: () => id,
      onsessionclosed: () => {
        this.terminatedByClient = true;
        this.#closed();
      },
      supportedProtocolVersions: ACCEPTED_HEADER_VERSIONS,
      keepAliveMs: SSE_KEEPALIVE_MS,
      maxRequestBodySize: maxBodyBytes,
    });
    this.#transport.onmessage = (m: JSONRPCMessage) => person.receive(this, m as unknown as RpcMessage);
    // The SDK reports benign 4xx (406, 409, 404) here; never fatal (supergateway #126).
    this.#transport.onerror = (err: Error) => log.debug({ session: id, err: err.message }, 'mcp transport');
  }

  get hasGetStream(): boolean {
    return this.#getStreams > 0;
  }

  get personId(): string {
    return this.person.personId;
  }

  /** Serves one HTTP request of this session; SSE bodies are guarded (first byte, bounds). */
  async handle(req: Request, parsedBody?: unknown): Promise<Response> {
    this.lastActivity = Date.now();
    const isGet = req.method === 'GET';
    // A new GET stream replaces the old one instead of the SDK's 409, which makes some clients
    // drop the session (kaeawc/auto-mobile#1942): the old one is often a dead connection.
    const lastEventId = isGet ? req.headers.get('last-event-id') : null;
    // Checked here, not left to the SDK, which answers any replay failure with a bare 500.
    const gap = lastEventId === null ? undefined : this.#replay ? this.#replay.gap(lastEventId) : { kind: 'unknown' as const, message: '' };
    if (gap?.kind === 'dropped') return httpRpcError(400, -32000, `Bad Request: cannot resume: ${gap.message}`);
    if (gap?.kind === 'unknown') {
      // An id this session never sent: minted before a restart, on another replica, or with
      // resuming off. Nothing can be replayed; the client gets a fresh GET stream rather than an
      // error, so it keeps its channel for notifications (what the broker did before it kept events).
      const headers = new Headers(req.headers);
      headers.delete('last-event-id');
      req = new Request(req, { headers });
    }
    if ((isGet && lastEventId === null) || gap?.kind === 'unknown') {
      if (this.#getStreams > 0) this.#transport.closeStandaloneSSEStream();
    }
    const json = this.#jsonAnswerable(req, parsedBody);
    if (json) return this.#answerAsJson(req, json);
    const res = await this.#transport.handleRequest(req, parsedBody === undefined ? undefined : { parsedBody });
    return guardSse(res, req.signal, () => {
      this.openStreams++;
      if (isGet) this.#getStreams++;
      this.hooks.streamOpened(this);
    }, () => {
      this.openStreams--;
      if (isGet) this.#getStreams--;
      this.hooks.streamClosed(this);
    });
  }

  /** The request if it is one to answer with JSON: a single request of that kind, no progress token, JSON accepted. */
  #jsonAnswerable(req: Request, body: unknown): (RpcMessage & { id: Id; method: string }) | undefined {
    if (req.method !== 'POST' || this.reattaching || !body || typeof body !== 'object' || Array.isArray(body)) return undefined;
    const m = body as RpcMessage;
    if (m.jsonrpc !== '2.0' || typeof m.method !== 'string' || !JSON_ANSWERED_METHODS.has(m.method)) return undefined;
    if ((typeof m.id !== 'string' && typeof m.id !== 'number') || this.#jsonWaiting.has(m.id)) return undefined;
    if (m.params?._meta?.progressToken !== undefined || !acceptsJson(req)) return undefined;
    // The checks the SDK transport makes on every request after initialize (see its validateSession).
    if (req.headers.get('mcp-session-id') !== this.id) return undefined;
    const version = req.headers.get('mcp-protocol-version');
    if (version !== null && !ACCEPTED_HEADER_VERSIONS.includes(version)) return undefined;
    return m as RpcMessage & { id: Id; method: string };
  }

  async #answerAsJson(req: Request, msg: RpcMessage & { id: Id }): Promise<Response> {
    const answer = await new Promise<RpcMessage | undefined>((resolve) => {
      const onAbort = () => {
        this.#jsonWaiting.delete(msg.id);
        resolve(undefined);
      };
      req.signal.addEventListener('abort', onAbort, { once: true });
      this.#jsonWaiting.set(msg.id, (m) => {
        req.signal.removeEventListener('abort', onAbort);
        resolve(m);
      });
      this.person.receive(this, msg);
    });
    if (!answer) return new Response(null, { status: 499 }); // the client is gone; nobody reads this
    return new Response(JSON.stringify(answer), { headers: { 'content-type': 'application/json', 'mcp-session-id': this.id } });
  }

  /**
   * Marks a session id that this process does not know (e.g. after a restart) as initialized, by
   * running a synthetic `initialize` through the transport: the SDK has no public "restore" API.
   * `capabilities` are what the client declared originally, as carried in the session id.
   */
  async reattach(protocolVersion: string, capabilities: Record<string, unknown>): Promise<void> {
    this.reattaching = true;
    this.protocolVersion = protocolVersion;
    this.capabilities = capabilities;
    const init = {
      jsonrpc: '2.0', id: 'fjmcp-reattach', method: 'initialize',
      params: { protocolVersion, capabilities: {}, clientInfo: { name: 'fjmcp-reattach', version: '0' } },
    };
    const req = new Request('http://127.0.0.1/mcp', {
      method: 'POST',
      headers: { accept: 'application/json, text/event-stream', 'content-type': 'application/json' },
    });
    const res = await this.#transport.handleRequest(req, { parsedBody: init });
    await res.body?.cancel().catch(() => {});
    this.reattaching = false;
  }

  /** Sends to the client; `.catch` on every send (supergateway PR#124: an unhandled rejection). */
  deliver(msg: RpcMessage, relatedRequestId?: Id): void {
    if (this.closed) return;
    if (this.#jsonWaiting.size > 0) {
      const answered = isResponse(msg) && msg.id !== undefined && msg.id !== null ? this.#jsonWaiting.get(msg.id) : undefined;
      if (answered) {
        this.#jsonWaiting.delete(msg.id!);
        return answered(msg);
      }
      // Sent alongside a request answered as JSON: it has no stream, so the GET stream takes it.
      if (relatedRequestId !== undefined && this.#jsonWaiting.has(relatedRequestId)) relatedRequestId = undefined;
    }
    this.#transport
      .send(msg as unknown as JSONRPCMessage, relatedRequestId === undefined ? undefined : { relatedRequestId })
      .catch((err: Error) => this.log.debug({ session: this.id, err: err.message }, 'undeliverable message dropped'));
  }

  /** Closes the transport (all its streams) and drops the session. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.#transport.close().catch(() => {});
    this.#closed();
  }

  #closed(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [id, answer] of this.#jsonWaiting) answer(rpcError(id, RPC.SESSION_NOT_FOUND, 'the MCP session was closed'));
    this.#jsonWaiting.clear();
    this.hooks.onClosed(this);
  }
}
