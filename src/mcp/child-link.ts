/**
 * @module mcp/child-link
 * The broker as the one MCP client of one child: it does the child's handshake itself and caches
 * the InitializeResult, rewrites request ids and progress tokens so the person's sessions cannot
 * collide, and routes what the child sends back (responses, progress, logs, list_changed,
 * server→client requests). Routing rules: docs/relay.md §Routing.
 */
import type { ChildProcess } from '../child/child-process.js';
import type { Logger } from '../ops/log.js';
import { CHILD_PROTOCOL_VERSION, RPC, capabilityFor, isRequest, isResponse, rpcError, type Id, type RpcMessage } from './protocol.js';
import { PACKAGE } from '../version.js';

/** How long the child may take to answer the broker's `initialize`, in ms. */
export const CHILD_INIT_TIMEOUT_MS = 30_000;

/** The capability set the broker declares to every child: everything it can route. */
export const BROKER_CLIENT_CAPABILITIES = { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } };

/** What a child link needs from a downstream session. */
export interface Downstream {
  readonly id: string;
  readonly capabilities: Record<string, unknown>;
  /** Sends to the client: on the stream of `relatedRequestId`, else on the GET stream. */
  deliver(msg: RpcMessage, relatedRequestId?: Id): void;
  /** Ids of requests the child sent through this session: downstream id → (link, child id). */
  readonly outgoing: Map<Id, { link: ChildLink; childId: Id }>;
  /** This session's requests in flight: client id → (link, child id). */
  readonly inflight: Map<Id, { link: ChildLink; childId: number }>;
  readonly subscriptions: Set<string>;
}

interface Pending {
  session?: Downstream;
  clientId?: Id;
  proxyToken?: string;
  internal?: { resolve: (m: RpcMessage) => void };
}

let downstreamSeq = 0;
let tokenSeq = 0;

export class ChildLink {
  initResult: Record<string, unknown> | undefined;
  draining = false;
  readonly startedAt = Date.now();
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #progress = new Map<string, { session: Downstream; clientToken: unknown; clientId: Id }>();
  /** Child request id (as JSON) → the session and id it was forwarded under. */
  readonly #childRequests = new Map<string, { session: Downstream; downId: Id }>();
  onIdle: () => void = () => {};

  constructor(
    readonly proc: ChildProcess,
    readonly token: string,
    private readonly sessions: () => Iterable<Downstream>,
    private readonly log: Logger,
  ) {
    proc.onMessage = (m) => this.#fromChild(m as RpcMessage);
  }

  /** Client requests (and broker requests) the child has not answered yet. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /**
   * Performs the child's handshake once (MCP lifecycle §initialization).
   * @throws Error when the child exits, answers with an error, or stays silent for 30 s.
   */
  async initialize(): Promise<void> {
    const res = await this.request('initialize', {
      protocolVersion: CHILD_PROTOCOL_VERSION,
      capabilities: BROKER_CLIENT_CAPABILITIES,
      clientInfo: { name: 'fjmcp-broker', version: PACKAGE.version },
    }, CHILD_INIT_TIMEOUT_MS);
    if (res.error || !res.result) throw new Error(`MCP server refused initialize: ${res.error?.message ?? 'no result'}`);
    this.initResult = res.result as Record<string, unknown>;
    this.proc.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  }

  /** A request of the broker's own (handshake, subscription replay). Resolves with the response. */
  request(method: string, params: Record<string, unknown>, timeoutMs = CHILD_INIT_TIMEOUT_MS): Promise<RpcMessage> {
    const id = this.#nextId++;
    if (!this.proc.alive) return Promise.resolve(rpcError(id, RPC.SERVER_UNAVAILABLE, 'MCP server process has exited'));
    return new Promise<RpcMessage>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve(rpcError(id, RPC.INTERNAL_ERROR, `MCP server did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.#pending.set(id, { internal: { resolve: (m) => { clearTimeout(timer); resolve(m); } } });
      this.proc.send({ jsonrpc: '2.0', id, method, params });
    });
  }

  /** Forwards a client request under a fresh child id; maps its progress token. */
  forward(session: Downstream, msg: RpcMessage): void {
    const clientId = msg.id as Id;
    if (!this.proc.alive) return session.deliver(rpcError(clientId, RPC.SERVER_UNAVAILABLE, 'MCP server process has exited; retry'), clientId);
    const childId = this.#nextId++;
    const p: Pending = { session, clientId };
    const meta = msg.params?._meta;
    if (meta && meta.progressToken !== undefined) {
      const proxy = `fjmcp-p${++tokenSeq}`;
      this.#progress.set(proxy, { session, clientToken: meta.progressToken, clientId });
      p.proxyToken = proxy;
      msg.params = { ...msg.params, _meta: { ...meta, progressToken: proxy } };
    }
    this.#pending.set(childId, p);
    session.inflight.set(clientId, { link: this, childId });
    msg.id = childId;
    this.proc.send(msg);
  }

  /** Relays `notifications/cancelled` for a client request with its rewritten id. */
  cancel(session: Downstream, params: Record<string, unknown>): void {
    const entry = session.inflight.get(params.requestId as Id);
    if (!entry) return;
    this.#settle(entry.childId);
    this.proc.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { ...params, requestId: entry.childId } });
  }

  /** Sends a client's answer to a server→client request back under the child's id. */
  answer(childId: Id, msg: RpcMessage): void {
    this.#childRequests.delete(JSON.stringify(childId));
    this.proc.send({ ...msg, id: childId });
  }

  /** Fails every request in flight at once (the child died): JSON-RPC error, never a hang. */
  failAll(reason: string): void {
    for (const [childId, p] of [...this.#pending]) {
      this.#settle(childId);
      if (p.internal) p.internal.resolve(rpcError(childId, RPC.SERVER_UNAVAILABLE, reason));
      else p.session!.deliver(rpcError(p.clientId!, RPC.SERVER_UNAVAILABLE, reason), p.clientId);
    }
    for (const { session, downId } of this.#childRequests.values()) session.outgoing.delete(downId);
    this.#childRequests.clear();
  }

  #settle(childId: number): Pending | undefined {
    const p = this.#pending.get(childId);
    if (!p) return undefined;
    this.#pending.delete(childId);
    if (p.proxyToken) this.#progress.delete(p.proxyToken);
    if (p.session) p.session.inflight.delete(p.clientId!);
    if (this.#pending.size === 0) this.onIdle();
    return p;
  }

  #fromChild(msg: RpcMessage): void {
    if (msg === null || typeof msg !== 'object') return;
    if (isResponse(msg)) {
      const p = typeof msg.id === 'number' ? this.#settle(msg.id) : undefined;
      if (!p) return; // answer to a cancelled or unknown request: dropped, as MCP cancellation allows
      if (p.internal) return p.internal.resolve(msg);
      msg.id = p.clientId!;
      return p.session!.deliver(msg, p.clientId);
    }
    if (isRequest(msg)) return this.#childRequest(msg);
    if (typeof msg.method === 'string') this.#notification(msg);
  }

  #notification(msg: RpcMessage): void {
    const params = msg.params ?? {};
    switch (msg.method) {
      case 'notifications/progress': {
        const m = this.#progress.get(params.progressToken as string);
        if (!m) return;
        return m.session.deliver({ ...msg, params: { ...params, progressToken: m.clientToken } as RpcMessage['params'] }, m.clientId);
      }
      case 'notifications/message': {
        // One request in flight: the log belongs to it; otherwise it cannot be attributed.
        const only = this.#single();
        if (only) return only.session!.deliver(msg, only.clientId);
        return this.#broadcast(msg);
      }
      case 'notifications/cancelled': {
        const key = JSON.stringify(params.requestId);
        const r = this.#childRequests.get(key);
        if (!r) return;
        this.#childRequests.delete(key);
        r.session.outgoing.delete(r.downId);
        return r.session.deliver({ ...msg, params: { ...params, requestId: r.downId } });
      }
      case 'notifications/resources/updated': {
        const uri = params.uri as string;
        const subscribed = [...this.sessions()].filter((s) => s.subscriptions.has(uri));
        if (subscribed.length) for (const s of subscribed) s.deliver(msg);
        else this.#broadcast(msg);
        return;
      }
      default:
        return this.#broadcast(msg); // */list_changed and anything else: every session of the person
    }
  }

  #single(): Pending | undefined {
    let found: Pending | undefined;
    for (const p of this.#pending.values()) {
      if (p.internal) continue;
      if (found) return undefined;
      found = p;
    }
    return found;
  }

  #broadcast(msg: RpcMessage): void {
    for (const s of this.sessions()) s.deliver(msg);
  }

  /**
   * Routes a server→client request to the newest in-flight request of a session that declared
   * the capability, on that request's stream; anything unroutable gets an error, never silence.
   */
  #childRequest(msg: RpcMessage): void {
    const method = msg.method!;
    if (method === 'ping') return this.proc.send({ jsonrpc: '2.0', id: msg.id, result: {} });
    const cap = capabilityFor(method);
    let target: Pending | undefined;
    for (const p of this.#pending.values()) {
      if (p.session && (cap === undefined || p.session.capabilities[cap] !== undefined)) target = p;
    }
    if (!target) {
      this.log.debug({ method }, 'server→client request without a capable session in flight; answered with an error');
      return this.proc.send(rpcError(msg.id, RPC.METHOD_NOT_FOUND, `no connected MCP client can answer ${method} now (none in flight declared ${cap ?? 'it'})`));
    }
    const downId = `fjmcp-s${++downstreamSeq}`;
    this.#childRequests.set(JSON.stringify(msg.id), { session: target.session!, downId });
    target.session!.outgoing.set(downId, { link: this, childId: msg.id as Id });
    target.session!.deliver({ ...msg, id: downId }, target.clientId);
  }
}
