/**
 * @module mcp/session
 * One downstream MCP session of the streamable HTTP transport (2025-03-26, 2025-06-18,
 * 2025-11-25), served by the broker itself: POST with SSE or JSON replies, the GET stream,
 * DELETE, the `Accept`, `Content-Type`, `Mcp-Session-Id` and `MCP-Protocol-Version` checks, event
 * ids and `Last-Event-ID` resumption, plus what the client declared. Every message the client
 * sends goes to {@link Person.receive}; routing to the child lives in the person's child links.
 *
 * Written here rather than taken from the SDK's `WebStandardStreamableHTTPServerTransport`
 * because that transport validated every message again with zod, copied each SSE stream through a
 * second web stream (the bounds and the first byte had to be added around it), serialised each
 * message once for its event store and once for the wire, and needed a synthetic `initialize` to
 * re-attach a session: a third of the 2025 path's CPU per call (docs/relay.md §Real path). The
 * status codes and JSON-RPC errors are the ones it answered; where the broker departs from it (a
 * second GET stream or a resume replaces the old connection instead of 409), the line says why.
 * @see MCP 2025-11-25 basic/transports §streamable-http
 */
import { randomUUID } from 'node:crypto';
import { toWire, wireBody } from '../lib/raw-json.js';
import type { Logger } from '../ops/log.js';
import type { Downstream } from './child-link.js';
import { EventBuffer, type StreamId } from './event-buffer.js';
import type { Person } from './person.js';
import {
  ACCEPTED_HEADER_VERSIONS, MAX_BATCH_MESSAGES, RPC, httpRpcError, isJsonContentType, isRequest, isResponse, isRpcMessage, unsupportedVersion,
  negotiateVersion, rpcError, type Id, type RpcMessage,
} from './protocol.js';
import { SseWriter } from './sse-writer.js';

export { SSE_KEEPALIVE_MS } from './sse-writer.js';

/** The stream id of the session's GET stream (events unrelated to a request). */
const GET_STREAM: StreamId = '_GET_stream';
/** The revision a request without `MCP-Protocol-Version` is taken to speak (2025-06-18 §protocol-version-header). */
const DEFAULT_HEADER_VERSION = '2025-03-26';

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

/** Priming events (an id, empty data) are understood from 2025-11-25 on (basic/transports §resumability). */
const primes = (version: unknown): boolean => typeof version === 'string' && ACCEPTED_HEADER_VERSIONS.includes(version) && version >= '2025-11-25';

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
  protocolVersion = DEFAULT_HEADER_VERSION;
  lastActivity = Date.now();
  openStreams = 0;
  closed = false;
  /** The client ended the session with DELETE: its id must not be re-attached (404 from now on). */
  terminatedByClient = false;
  readonly subscriptions = new Set<string>();
  /** An `initialize` was accepted on this session (or it was re-attached). */
  #initialized = false;
  /** The connection currently carrying each stream: a POST's reply stream, the GET stream, or a resumed one. */
  readonly #streams = new Map<StreamId, SseWriter>();
  /** Requests awaiting their response, by client id: the stream their response belongs to. */
  readonly #pending = new Map<Id, StreamId>();
  /** How many requests of each POST's stream still await a response (the stream ends after the last). */
  readonly #awaiting = new Map<StreamId, number>();
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
    replayBytes = 0,
  ) {
    // With a replay buffer every SSE event carries an id (and 2025-11-25 clients get a priming
    // event), so a client whose stream dropped resumes with GET + Last-Event-ID.
    this.#replay = replayBytes > 0 ? new EventBuffer(replayBytes) : undefined;
  }

  get hasGetStream(): boolean {
    return this.#streams.has(GET_STREAM);
  }

  get personId(): string {
    return this.person.personId;
  }

  /**
   * Serves one POST, GET or DELETE of this session. `parsedBody` is the POST's JSON (read and
   * size-checked by the relay). Errors are JSON-RPC error bodies with the transport's status codes:
   * 400 (not JSON-RPC, bad batch, missing session id, unsupported `MCP-Protocol-Version`, cannot
   * resume), 404 (session closed), 406 (`Accept`), 415 (`Content-Type`).
   */
  async handle(req: Request, parsedBody?: unknown): Promise<Response> {
    this.lastActivity = Date.now();
    if (this.closed) return httpRpcError(404, RPC.SESSION_NOT_FOUND, 'Session not found');
    if (req.method === 'POST') return this.#post(req, parsedBody);
    if (req.method === 'GET') return this.#get(req);
    const refused = this.#check(req);
    if (refused) return refused;
    this.terminatedByClient = true;
    await this.close();
    return new Response(null, { status: 200 });
  }

  #post(req: Request, body: unknown): Response | Promise<Response> {
    const json = this.#jsonAnswerable(req, body);
    if (json) return this.#answerAsJson(req, json);
    const accept = req.headers.get('accept');
    if (!accept?.includes('application/json') || !accept.includes('text/event-stream')) {
      return httpRpcError(406, -32000, 'Not Acceptable: Client must accept both application/json and text/event-stream');
    }
    if (!isJsonContentType(req.headers.get('content-type'))) return httpRpcError(415, -32000, 'Unsupported Media Type: Content-Type must be application/json');
    if (Array.isArray(body) && body.length > MAX_BATCH_MESSAGES) return httpRpcError(400, RPC.INVALID_REQUEST, `Invalid Request: Batch must not exceed ${MAX_BATCH_MESSAGES} messages`);
    const msgs: unknown[] = Array.isArray(body) ? body : [body];
    if (!msgs.every(isRpcMessage)) return httpRpcError(400, RPC.PARSE_ERROR, 'Parse error: Invalid JSON-RPC message');
    const init = (msgs as RpcMessage[]).find((m) => m.method === 'initialize' && isRequest(m));
    if (init) {
      if (this.#initialized) return httpRpcError(400, RPC.INVALID_REQUEST, 'Invalid Request: Server already initialized');
      if (msgs.length > 1) return httpRpcError(400, RPC.INVALID_REQUEST, 'Invalid Request: Only one initialization request is allowed');
      this.#initialized = true;
    } else {
      const refused = this.#check(req);
      if (refused) return refused;
    }
    const requests = (msgs as RpcMessage[]).filter(isRequest);
    if (requests.length === 0) {
      for (const m of msgs as RpcMessage[]) this.person.receive(this, m);
      return new Response(null, { status: 202 });
    }
    const streamId = randomUUID();
    const sse = this.#open(req.signal, streamId);
    for (const m of requests) this.#pending.set(m.id!, streamId);
    this.#awaiting.set(streamId, requests.length);
    const version = init ? init.params?.protocolVersion : req.headers.get('mcp-protocol-version') ?? DEFAULT_HEADER_VERSION;
    if (this.#replay && primes(version)) sse.prime(this.#replay.store(streamId, ''));
    for (const m of msgs as RpcMessage[]) this.person.receive(this, m);
    return sse.response;
  }

  #get(req: Request): Response {
    if (!req.headers.get('accept')?.includes('text/event-stream')) return httpRpcError(406, -32000, 'Not Acceptable: Client must accept text/event-stream');
    const refused = this.#check(req);
    if (refused) return refused;
    const lastEventId = req.headers.get('last-event-id');
    if (lastEventId !== null) {
      const gap = this.#replay ? this.#replay.gap(lastEventId) : { kind: 'unknown' as const, message: '' };
      if (gap?.kind === 'dropped') return httpRpcError(400, -32000, `Bad Request: cannot resume: ${gap.message}`);
      // An id this session never sent (minted before a restart, on another replica, or with
      // resuming off) falls through: nothing can be replayed, so the client gets a fresh GET
      // stream rather than an error and keeps its channel for notifications.
      if (!gap) return this.#resume(req, lastEventId);
    }
    // A new GET stream replaces the old one instead of the 409 the SDK answers, which makes some
    // clients drop the session (kaeawc/auto-mobile#1942): the old one is often a dead connection.
    this.#streams.get(GET_STREAM)?.end();
    return this.#open(req.signal, GET_STREAM).response;
  }

  /**
   * Replays the events of `lastEventId`'s stream sent after it on a new connection, which then
   * carries that stream: its request's remaining messages, or the GET stream's. A POST's stream
   * whose requests were all answered ends after the replay.
   */
  #resume(req: Request, lastEventId: string): Response {
    const streamId = this.#replay!.streamOf(lastEventId)!;
    // The old connection of that stream is replaced, as a second GET stream is (see #get).
    this.#streams.get(streamId)?.end();
    const sse = this.#open(req.signal, streamId);
    for (const e of this.#replay!.after(lastEventId)) sse.message(e.data, e.id);
    if (streamId !== GET_STREAM && !this.#awaiting.has(streamId)) this.#end(streamId);
    return sse.response;
  }

  /** A new SSE connection carrying `streamId`, counted while open. */
  #open(signal: AbortSignal, streamId: StreamId): SseWriter {
    const sse = new SseWriter(signal, {
      opened: () => {
        this.openStreams++;
        this.hooks.streamOpened(this);
      },
      closed: (byClient) => {
        // Which side ended a request's stream before its answers is what tells a client or
        // proxy that dropped the connection from a stream the broker ended (docs/relay.md).
        if (byClient && this.#awaiting.has(streamId)) this.log.debug({ session: this.id, unanswered: this.#awaiting.get(streamId) }, 'a request stream ended before its answers were sent: the client side closed it, or read too slowly and was cut');
        if (this.#streams.get(streamId) === sse) this.#streams.delete(streamId);
        this.openStreams--;
        this.hooks.streamClosed(this);
      },
    }, { headers: { 'mcp-session-id': this.id } });
    this.#streams.set(streamId, sse);
    return sse;
  }

  #end(streamId: StreamId): void {
    const sse = this.#streams.get(streamId);
    this.#streams.delete(streamId);
    sse?.end();
  }

  /** The checks on every request after `initialize`: initialized, `Mcp-Session-Id`, `MCP-Protocol-Version`. */
  #check(req: Request): Response | undefined {
    if (!this.#initialized) return httpRpcError(400, -32000, 'Bad Request: Server not initialized');
    const sid = req.headers.get('mcp-session-id');
    if (!sid) return httpRpcError(400, -32000, 'Bad Request: Mcp-Session-Id header is required');
    if (sid !== this.id) return httpRpcError(404, RPC.SESSION_NOT_FOUND, 'Session not found');
    return unsupportedVersion(req.headers.get('mcp-protocol-version'));
  }

  /** The request if it is one to answer with JSON: a single request of that kind, no progress token, JSON accepted. */
  #jsonAnswerable(req: Request, body: unknown): (RpcMessage & { id: Id; method: string }) | undefined {
    if (!this.#initialized || !body || typeof body !== 'object' || Array.isArray(body)) return undefined;
    const m = body as RpcMessage;
    if (m.jsonrpc !== '2.0' || typeof m.method !== 'string' || !JSON_ANSWERED_METHODS.has(m.method)) return undefined;
    if ((typeof m.id !== 'string' && typeof m.id !== 'number') || this.#jsonWaiting.has(m.id) || this.#pending.has(m.id)) return undefined;
    if (m.params?._meta?.progressToken !== undefined || !acceptsJson(req) || !isRpcMessage(m)) return undefined;
    if (this.#check(req)) return undefined; // answered with the error by the stream path
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
    return new Response(wireBody(toWire(answer)), { headers: { 'content-type': 'application/json', 'mcp-session-id': this.id } });
  }

  /**
   * Re-attaches a session id that this process does not know (minted before a restart, or by
   * another replica): the session counts as initialized with what the client declared originally
   * (`capabilities`, carried in the session id) and the version of its `MCP-Protocol-Version`
   * header (`null`: none sent, taken as 2025-03-26).
   */
  reattach(protocolVersion: string | null, capabilities: Record<string, unknown>): void {
    this.#initialized = true;
    this.protocolVersion = negotiateVersion(protocolVersion ?? DEFAULT_HEADER_VERSION);
    this.capabilities = capabilities;
  }

  /**
   * Sends to the client: a response on its request's stream (which ends after its last response),
   * anything else on the stream of `relatedRequestId`, or on the GET stream. Kept in the replay
   * buffer first, so a client whose connection dropped gets it when it resumes. Undeliverable
   * messages (their request already answered, no GET stream) are dropped with a debug log.
   */
  deliver(msg: RpcMessage, relatedRequestId?: Id): void {
    if (this.closed) return;
    const response = isResponse(msg);
    if (this.#jsonWaiting.size > 0) {
      const answered = response && msg.id !== undefined && msg.id !== null ? this.#jsonWaiting.get(msg.id) : undefined;
      if (answered) {
        this.#jsonWaiting.delete(msg.id!);
        return answered(msg);
      }
      // Sent alongside a request answered as JSON: it has no stream, so the GET stream takes it.
      if (relatedRequestId !== undefined && this.#jsonWaiting.has(relatedRequestId)) relatedRequestId = undefined;
    }
    const requestId = response ? msg.id ?? undefined : relatedRequestId;
    const streamId = requestId === undefined ? (response ? undefined : GET_STREAM) : this.#pending.get(requestId);
    if (streamId === undefined) {
      this.log.debug({ session: this.id, requestId }, 'undeliverable message dropped: its request is not open on this session');
      return;
    }
    const sse = this.#streams.get(streamId);
    // Serialised once for the wire and the replay buffer; not at all when neither takes it (a
    // stream whose connection dropped, with resuming off).
    if (sse || this.#replay) {
      const data = toWire(msg);
      const eventId = this.#replay?.store(streamId, data);
      sse?.message(data, eventId);
    }
    if (!response) return;
    this.#pending.delete(requestId!);
    const left = (this.#awaiting.get(streamId) ?? 1) - 1;
    if (left > 0) return void this.#awaiting.set(streamId, left);
    this.#awaiting.delete(streamId);
    this.#end(streamId);
  }

  /** Ends every stream of the session and drops it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const sse of [...this.#streams.values()]) sse.end();
    this.#streams.clear();
    this.#pending.clear();
    this.#awaiting.clear();
    this.#closed();
  }

  #closed(): void {
    for (const [id, answer] of this.#jsonWaiting) answer(rpcError(id, RPC.SESSION_NOT_FOUND, 'the MCP session was closed'));
    this.#jsonWaiting.clear();
    this.hooks.onClosed(this);
  }
}
