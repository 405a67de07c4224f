/**
 * @module mcp/legacy-sse
 * The HTTP+SSE transport of MCP 2024-11-05, for clients that speak nothing newer, behind
 * `FJMCP_LEGACY_SSE` (off by default: deprecated since 2025-03-26, and more surface). One
 * registry per relay (per MCP server) of {@link LegacySession}s, each a session of the person who
 * opened it, on that person's one child, through {@link Person.receive}: the same tool gate,
 * audit and routing as `/mcp` sessions. The route (http/mcp-route.ts) has already applied the
 * Host and Origin checks, the bearer check and (POST) the person's rate limit.
 * - `GET <sse path>`: opens a session; its stream starts with the `endpoint` event naming
 *   `<messages path>?sessionId=<id>`. At most `FJMCP_LEGACY_SSE_MAX_PER_PERSON` streams per person:
 *   the oldest without a call in flight is closed for a new one; with none such, 429.
 * - `POST <messages path>?sessionId=<id>`: one JSON-RPC message or a batch, answered 202 Accepted;
 *   replies go out on the session's stream. A session id that is unknown, closed or another
 *   person's gets the same 404 (whether it exists is not revealed).
 * - The stream closing ends the session: its calls in flight are cancelled at the child
 *   (`notifications/cancelled`), as when a `/mcp` session closes.
 * @see MCP 2024-11-05 basic/transports §http-with-sse; MCP 2025-03-26 basic/transports
 *   §backwards-compatibility (servers keep the old endpoints beside the new one)
 */
import type { Config } from '../config.js';
import type { Principal } from '../lib/principal.js';
import type { Audit } from '../ops/audit.js';
import type { Logger } from '../ops/log.js';
import type { Metrics } from '../ops/metrics.js';
import { LegacySession } from './legacy-session.js';
import type { Person } from './person.js';
import { RPC, httpRpcError, isJsonContentType, isRpcMessage, readRpcBody } from './protocol.js';
import type { LiveSession } from './relay.js';

export interface LegacySseDeps {
  config: Config;
  log: Logger;
  audit: Audit;
  metrics: Metrics;
  /** The person of a request, from the relay's registry (records the request's forge token, as for `/mcp`). */
  personFor(principal: Principal): Person;
  /** A fresh session id bound to the person (mcp/session-id.ts). */
  mintId(personId: string): string;
  /** True once the relay is shutting down. */
  closing(): boolean;
  /** Stream accounting shared with `/mcp` (open-streams gauge, the person's idle clock). */
  streamOpened(person: Person): void;
  streamClosed(person: Person): void;
}

/** Why a session's calls are cancelled when its stream ends (`notifications/cancelled` reason). */
export const LEGACY_CLOSED_REASON = 'the client closed the legacy SSE stream';

export class LegacySse {
  readonly #sessions = new Map<string, LegacySession>();
  readonly #gauge;

  constructor(private readonly deps: LegacySseDeps) {
    this.#gauge = deps.metrics.gauge('fjmcp_relay_legacy_sse_sessions', 'Sessions of the legacy HTTP+SSE transport (MCP 2024-11-05) open in this process');
  }

  get size(): number {
    return this.#sessions.size;
  }

  /**
   * Serves `GET <sse path>` (opens a session) or `POST <messages path>` (a message for one).
   * @param messagesPath the path the `endpoint` event names, e.g. `/messages` or `/mcp/messages`.
   */
  async handle(req: Request, principal: Principal, messagesPath: string): Promise<Response> {
    if (this.deps.closing()) return httpRpcError(503, RPC.SERVER_UNAVAILABLE, 'the broker is shutting down', { 'retry-after': '5' });
    if (req.method === 'GET') return this.#open(req, principal, messagesPath);
    if (req.method === 'POST') return this.#post(req, principal);
    return httpRpcError(405, RPC.INVALID_REQUEST, 'Method not allowed', { allow: 'GET, POST' });
  }

  #open(req: Request, principal: Principal, messagesPath: string): Response {
    const { config, log } = this.deps;
    const person = this.deps.personFor(principal);
    const max = config.mcp.legacySse.maxPerPerson;
    if (person.legacy.size >= max) {
      const victim = [...person.legacy].filter((s) => !s.closed && person.inFlightOf(s) === 0).sort((a, b) => a.lastActivity - b.lastActivity)[0];
      if (!victim) return httpRpcError(429, RPC.SERVER_UNAVAILABLE, `too many open legacy SSE streams (${max}, FJMCP_LEGACY_SSE_MAX_PER_PERSON); close one first`);
      victim.close();
      person.legacy.delete(victim); // its close hook runs when the stream has ended; the slot is free now
    }
    const id = this.deps.mintId(person.personId);
    const endpoint = `${messagesPath}?sessionId=${encodeURIComponent(id)}`;
    const s = new LegacySession(id, person, principal.clientId, principal.grantId, endpoint, req.signal, {
      opened: () => this.deps.streamOpened(person),
      closed: (session) => {
        this.#sessions.delete(session.id);
        person.legacy.delete(session);
        this.#gauge.set(this.#sessions.size);
        person.release(session, LEGACY_CLOSED_REASON);
        this.deps.streamClosed(person);
        log.debug({ person: person.personId, session: session.id }, 'legacy SSE session closed');
      },
    });
    this.#sessions.set(id, s);
    person.legacy.add(s);
    this.#gauge.set(this.#sessions.size);
    log.debug({ person: person.personId, session: id }, 'legacy SSE session opened');
    return s.response;
  }

  async #post(req: Request, principal: Principal): Promise<Response> {
    const { config, audit } = this.deps;
    const id = new URL(req.url).searchParams.get('sessionId');
    if (!id) return httpRpcError(400, -32000, 'Bad Request: the sessionId query parameter is required (POST to the URL of the endpoint event)');
    const person = this.deps.personFor(principal);
    const s = this.#sessions.get(id);
    if (!s || s.closed || s.personId !== person.personId) {
      if (s && s.personId !== person.personId) audit('request.refused', { personId: person.personId, login: person.login, reason: 'legacy-sse-session-of-another-person' });
      return httpRpcError(404, RPC.SESSION_NOT_FOUND, 'Session not found');
    }
    if (!isJsonContentType(req.headers.get('content-type'))) return httpRpcError(415, RPC.INVALID_REQUEST, 'Unsupported Media Type: Content-Type must be application/json');
    const body = await readRpcBody(req, config.mcp.maxBodyBytes);
    if (body instanceof Response) return body;
    const parsed = body.parsed;
    // 2024-11-05 still has JSON-RPC batches; all of the batch is checked before any of it runs.
    const msgs = Array.isArray(parsed) ? parsed : [parsed];
    if (msgs.length === 0 || !msgs.every(isRpcMessage)) return httpRpcError(400, RPC.INVALID_REQUEST, 'Invalid Request: not a JSON-RPC 2.0 message');
    s.oauthClientId = principal.clientId;
    s.lastActivity = Date.now();
    for (const m of msgs) person.receive(s, m);
    return new Response(null, { status: 202 });
  }

  /** The open sessions, as operators and people see them. */
  live(): LiveSession[] {
    return [...this.#sessions.values()].map((s) => ({
      id: s.id, personId: s.personId, login: s.person.login, clientId: s.clientId, grantId: s.grantId,
      openedAt: s.openedAt, lastActivity: s.lastActivity, openStreams: s.closed ? 0 : 1, transport: 'legacy-sse' as const,
    }));
  }

  /** Closes the sessions of the person or of the grants named (revocation, block); @returns how many. */
  cut(match: { personId?: string; grantIds?: readonly string[] }): number {
    const grants = new Set(match.grantIds ?? []);
    const victims = [...this.#sessions.values()].filter((s) => s.personId === match.personId || grants.has(s.grantId));
    for (const s of victims) s.close();
    return victims.length;
  }

  /** Ends every stream (shutdown). */
  closeAll(): void {
    for (const s of this.#sessions.values()) s.close();
  }
}
