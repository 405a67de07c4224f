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
import type { Person } from './person.js';
import { ACCEPTED_HEADER_VERSIONS, type Id, type RpcMessage } from './protocol.js';
import { guardSse } from './sse-guard.js';

/** Interval of SSE keepalive comments in ms (proxies cut idle streams after 100–300 s). */
export const SSE_KEEPALIVE_MS = 15_000;

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

  constructor(
    readonly id: string,
    readonly person: Person,
    private readonly hooks: SessionHooks,
    private readonly log: Logger,
    maxBodyBytes: number,
  ) {
    this.#transport = new WebStandardStreamableHTTPServerTransport({
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
    if (isGet && this.#getStreams > 0) this.#transport.closeStandaloneSSEStream();
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
    this.hooks.onClosed(this);
  }
}
