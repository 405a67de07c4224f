/**
 * @module mcp/legacy-session
 * One session of the HTTP+SSE transport of MCP 2024-11-05: the session *is* its one SSE stream.
 * The stream opens with an `endpoint` event naming the URL the client POSTs its messages to
 * (`<messages path>?sessionId=<id>`); everything the broker sends the client (responses,
 * notifications, requests from the child) goes out on it as `message` events. It is the second
 * framing of a person's session beside {@link Session} (streamable HTTP): the same
 * {@link Person.receive} handles what the client sends, the same child link routes what the child
 * sends. Closing the stream ends the session. Registry and HTTP handling: mcp/legacy-sse.ts.
 * @see MCP 2024-11-05 basic/transports §http-with-sse
 */
import type { Downstream } from './child-link.js';
import type { Person } from './person.js';
import { FRONT_PROTOCOL_VERSIONS, type Id, type RpcMessage } from './protocol.js';
import { SseWriter } from './sse-writer.js';

/** The revision this transport belongs to; negotiated when a client asks for it (see {@link LegacySession.negotiate}). */
export const LEGACY_PROTOCOL_VERSION = '2024-11-05';

export interface LegacySessionHooks {
  opened(session: LegacySession): void;
  /** The stream ended (client gone, or closed by the broker); called once. */
  closed(session: LegacySession): void;
}

export class LegacySession implements Downstream {
  capabilities: Record<string, unknown> = {};
  clientInfo: unknown;
  /** The broker-side OAuth client id of the access token that opened the stream or last POSTed (audit). */
  oauthClientId: string | undefined;
  protocolVersion = LEGACY_PROTOCOL_VERSION;
  /** Everything the broker sends goes on the one stream, so requests from the child may come here at any time. */
  readonly hasGetStream = true;
  readonly subscriptions = new Set<string>();
  readonly openedAt = Date.now();
  lastActivity = Date.now();
  closed = false;
  readonly #sse: SseWriter;

  /**
   * @param endpoint the POST URL announced in the `endpoint` event (a path with `sessionId`).
   * @param grantId the grant of the access token that opened the stream (revocation cuts it).
   */
  constructor(
    readonly id: string,
    readonly person: Person,
    readonly clientId: string,
    readonly grantId: string,
    endpoint: string,
    signal: AbortSignal,
    hooks: LegacySessionHooks,
  ) {
    this.oauthClientId = clientId;
    this.#sse = new SseWriter(signal, {
      opened: () => hooks.opened(this),
      closed: () => {
        this.closed = true;
        hooks.closed(this);
      },
    });
    this.#sse.event('endpoint', endpoint);
  }

  get personId(): string {
    return this.person.personId;
  }

  /** The `text/event-stream` response that carries the session. */
  get response(): Response {
    return this.#sse.response;
  }

  /**
   * The version answered to this session's `initialize`: 2024-11-05 when the client asks for it
   * (the revision of this transport; clients of that era accept nothing else), else as on `/mcp`.
   * The child speaks 2025-11-25: results are relayed as it sends them.
   */
  negotiate(requested: unknown): string {
    if (requested === LEGACY_PROTOCOL_VERSION) return LEGACY_PROTOCOL_VERSION;
    return typeof requested === 'string' && (FRONT_PROTOCOL_VERSIONS as readonly string[]).includes(requested) ? requested : FRONT_PROTOCOL_VERSIONS[0];
  }

  /** Sends on the stream as a `message` event (there is one stream, so `relatedRequestId` changes nothing). */
  deliver(msg: RpcMessage, _relatedRequestId?: Id): void {
    if (this.closed) return;
    this.#sse.send(msg);
  }

  /** Ends the stream, and with it the session. */
  close(): void {
    this.closed = true;
    this.#sse.end();
  }
}
