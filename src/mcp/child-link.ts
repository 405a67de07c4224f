/**
 * @module mcp/child-link
 * The broker as the one MCP client of one child, and the one owner of its routing state: the
 * child ids of calls in flight (and the client id and downstream each came from), the progress
 * tokens it rewrote, and the requests the child sent to a client. It does the child's handshake
 * itself and caches the InitializeResult, and routes what the child sends back (responses,
 * progress, logs, list_changed, child→client requests). Routing rules: docs/relay.md §Routing.
 */
import type { ChildProcess } from '../child/child-process.js';
import type { Logger } from '../ops/log.js';
import { CHILD_PROTOCOL_VERSION, RPC, capabilityFor, isRequest, isResponse, rpcError, type Id, type RpcMessage } from './protocol.js';
import { PACKAGE } from '../version.js';
import { materialize, releaseRawLiterals } from '../lib/raw-json.js';

/** How long the child may take to answer the broker's `initialize`, in ms. */
export const CHILD_INIT_TIMEOUT_MS = 30_000;

/** The capability set the broker declares to every child: everything it can route. */
export const BROKER_CLIENT_CAPABILITIES = { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } };

/** The client side of a call, as a child link sees it: an MCP session. */
export interface Downstream {
  readonly id: string;
  /** What the client declared in `initialize`; decides where child→client requests may go. */
  readonly capabilities: Record<string, unknown>;
  /** Resource URIs this client subscribed to. */
  readonly subscriptions: ReadonlySet<string>;
  /** Sends to the client: on the stream of `relatedRequestId`, else on the GET stream. */
  deliver(msg: RpcMessage, relatedRequestId?: Id): void;
  /** True while a 2025 session has a GET stream open (messages unrelated to a request go there). */
  readonly hasGetStream?: boolean;
  /** Last client activity, ms since the epoch. */
  readonly lastActivity?: number;
}

/** A request sent to the child and not answered yet. */
interface Pending {
  /** Where the call came from; none for the broker's own requests. */
  downstream?: Downstream;
  clientId?: Id;
  /** The broker's progress token that replaced the client's (`fjmcp-pN`). */
  proxyToken?: string;
  /** The client's own progress token, restored on the child's progress notifications. */
  clientToken?: unknown;
  /** Settles the call: the child's response (id restored), an error, or nothing (cancelled). */
  resolve(msg: RpcMessage | undefined): void;
}

/** A request from the child forwarded to a client, awaiting that client's answer. */
interface Asked {
  downstream: Downstream;
  childId: Id;
}

let askedSeq = 0;
let tokenSeq = 0;

export class ChildLink {
  initResult: Record<string, unknown> | undefined;
  draining = false;
  readonly startedAt = Date.now();
  /** Called when the last request in flight settles. */
  onIdle: () => void = () => {};
  #nextId = 1;
  /** Child id → the call it carries. */
  readonly #pending = new Map<number, Pending>();
  /** Per downstream: client id → child id (cancellation, release, idle checks). */
  readonly #calls = new Map<Downstream, Map<Id, number>>();
  /** Broker progress token → the call it belongs to. */
  readonly #progress = new Map<string, Pending>();
  /** Broker id of a child→client request (`fjmcp-sN`) → where it went and the child's id. */
  readonly #asked = new Map<Id, Asked>();
  /** Child id (as JSON) of a child→client request → its broker id. */
  readonly #askedByChildId = new Map<string, Id>();

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

  /** Calls of `downstream` the child has not answered yet. */
  inFlightFor(downstream: Downstream): number {
    return this.#calls.get(downstream)?.size ?? 0;
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
        this.#settle(id);
        resolve(rpcError(id, RPC.INTERNAL_ERROR, `MCP server did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.#pending.set(id, { resolve: (m) => { clearTimeout(timer); resolve(m!); } });
      this.proc.send({ jsonrpc: '2.0', id, method, params });
    });
  }

  /**
   * Forwards a client's request under a fresh child id (its progress token replaced by a broker
   * token) and resolves with the child's response under the client's id; with a JSON-RPC error
   * when the child is gone or dies; with `undefined` when the call was cancelled. Takes over `msg`:
   * its id is replaced and its params are dropped once written.
   */
  call(downstream: Downstream, msg: RpcMessage): Promise<RpcMessage | undefined> {
    const clientId = msg.id as Id;
    if (!this.proc.alive) return Promise.resolve(rpcError(clientId, RPC.SERVER_UNAVAILABLE, 'MCP server process has exited; retry'));
    return new Promise((resolve) => {
      const childId = this.#nextId++;
      const p: Pending = { downstream, clientId, resolve };
      const meta = msg.params?._meta;
      if (meta && meta.progressToken !== undefined) {
        p.proxyToken = `fjmcp-p${++tokenSeq}`;
        p.clientToken = meta.progressToken;
        this.#progress.set(p.proxyToken, p);
        msg.params = { ...msg.params, _meta: { ...meta, progressToken: p.proxyToken } };
      }
      this.#pending.set(childId, p);
      let calls = this.#calls.get(downstream);
      if (!calls) this.#calls.set(downstream, (calls = new Map()));
      calls.set(clientId, childId);
      msg.id = childId;
      this.proc.send(msg);
      // Nothing reads a request's params once they are written to the child; dropping them (and
      // the bytes of its large strings: lib/raw-json) lets a large argument go before the answer
      // (often as large) arrives, instead of lasting the call.
      delete msg.params;
      releaseRawLiterals(msg);
    });
  }

  /**
   * A client's `notifications/cancelled` (`params.requestId` in the client's ids): the call is
   * settled with nothing and the child is told under its own id.
   * @returns false when `downstream` has no such call on this child.
   */
  cancel(downstream: Downstream, params: Record<string, unknown>): boolean {
    const childId = this.#calls.get(downstream)?.get(params.requestId as Id);
    if (childId === undefined) return false;
    this.#settle(childId)?.resolve(undefined);
    this.proc.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { ...params, requestId: childId } });
    return true;
  }

  /**
   * A client's answer to a request this child sent it: goes back under the child's id.
   * @returns false when the child did not ask `downstream` under that id.
   */
  answer(downstream: Downstream, msg: RpcMessage): boolean {
    const asked = this.#asked.get(msg.id as Id);
    if (!asked || asked.downstream !== downstream) return false;
    this.#forgetAsked(msg.id as Id, asked);
    this.proc.send({ ...msg, id: asked.childId });
    return true;
  }

  /**
   * `downstream` is gone: its calls are cancelled at the child, and the child's requests to it are
   * answered with an error, so neither side waits for a client that left.
   */
  release(downstream: Downstream, reason = 'MCP session closed'): void {
    for (const clientId of [...(this.#calls.get(downstream)?.keys() ?? [])]) {
      this.cancel(downstream, { requestId: clientId, reason });
    }
    for (const [downId, asked] of [...this.#asked]) {
      if (asked.downstream !== downstream) continue;
      this.#forgetAsked(downId, asked);
      this.proc.send(rpcError(asked.childId, RPC.INTERNAL_ERROR, 'the MCP session that was asked has closed'));
    }
  }

  /** Fails every request in flight at once (the child died): JSON-RPC error, never a hang. */
  failAll(reason: string): void {
    for (const [childId, p] of [...this.#pending]) {
      this.#settle(childId);
      p.resolve(rpcError(p.downstream ? p.clientId : childId, RPC.SERVER_UNAVAILABLE, reason));
    }
    this.#asked.clear();
    this.#askedByChildId.clear();
  }

  #settle(childId: number): Pending | undefined {
    const p = this.#pending.get(childId);
    if (!p) return undefined;
    this.#pending.delete(childId);
    if (p.proxyToken) this.#progress.delete(p.proxyToken);
    if (p.downstream) {
      const calls = this.#calls.get(p.downstream)!;
      calls.delete(p.clientId!);
      if (calls.size === 0) this.#calls.delete(p.downstream);
    }
    if (this.#pending.size === 0) this.onIdle();
    return p;
  }

  #forgetAsked(downId: Id, asked: Asked): void {
    this.#asked.delete(downId);
    this.#askedByChildId.delete(JSON.stringify(asked.childId));
  }

  #fromChild(msg: RpcMessage): void {
    if (msg === null || typeof msg !== 'object') return;
    if (isResponse(msg)) {
      const p = typeof msg.id === 'number' ? this.#settle(msg.id) : undefined;
      if (!p) return; // answer to a cancelled or unknown request: dropped, as MCP cancellation allows
      if (!p.downstream) return p.resolve(materialize(msg)); // the broker's own: it reads the strings
      msg.id = p.clientId!;
      return p.resolve(msg); // large literals stay bytes: the response goes to one client as it is
    }
    // Notifications and requests are copied, broadcast or kept (routing state): ordinary strings.
    msg = materialize(msg);
    if (isRequest(msg)) return this.#childRequest(msg);
    if (typeof msg.method === 'string') this.#notification(msg);
  }

  #notification(msg: RpcMessage): void {
    const params = msg.params ?? {};
    switch (msg.method) {
      case 'notifications/progress': {
        const p = this.#progress.get(params.progressToken as string);
        if (!p) return;
        return p.downstream!.deliver({ ...msg, params: { ...params, progressToken: p.clientToken } as RpcMessage['params'] }, p.clientId);
      }
      case 'notifications/message': {
        // One call in flight: the log belongs to it; otherwise it cannot be attributed.
        const only = this.#single();
        if (only) return only.downstream!.deliver(msg, only.clientId);
        return this.#broadcast(msg);
      }
      case 'notifications/cancelled': {
        const key = JSON.stringify(params.requestId);
        const downId = this.#askedByChildId.get(key);
        if (downId === undefined) return;
        const asked = this.#asked.get(downId)!;
        this.#forgetAsked(downId, asked);
        return asked.downstream.deliver({ ...msg, params: { ...params, requestId: downId } });
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
      if (!p.downstream) continue;
      if (found) return undefined;
      found = p;
    }
    return found;
  }

  #broadcast(msg: RpcMessage): void {
    for (const s of this.sessions()) s.deliver(msg);
  }

  /**
   * Routes a child→client request to the newest call in flight of a session that declared the
   * capability, on that call's stream; with none in flight, to a capable session's GET stream;
   * anything unroutable gets an error, never silence.
   */
  #childRequest(msg: RpcMessage): void {
    const method = msg.method!;
    if (method === 'ping') return this.proc.send({ jsonrpc: '2.0', id: msg.id, result: {} });
    const cap = capabilityFor(method);
    let target: Pending | undefined;
    for (const p of this.#pending.values()) {
      if (p.downstream && (cap === undefined || p.downstream.capabilities[cap] !== undefined)) target = p;
    }
    if (target) return this.#ask(msg, target.downstream!, target.clientId);
    // Outside any call (e.g. `roots/list` when the child starts, or after roots/list_changed): the
    // most recently active session that declared the capability and has a GET stream to carry it.
    let idle: Downstream | undefined;
    for (const s of this.sessions()) {
      if (!s.hasGetStream || (cap !== undefined && s.capabilities[cap] === undefined)) continue;
      if (!idle || (s.lastActivity ?? 0) >= (idle.lastActivity ?? 0)) idle = s;
    }
    if (idle) return this.#ask(msg, idle);
    this.log.debug({ method }, 'child→client request without a capable session; answered with an error');
    return this.proc.send(rpcError(msg.id, RPC.METHOD_NOT_FOUND, `no connected MCP client can answer ${method} now (none in flight or listening declared ${cap ?? 'it'})`));
  }

  #ask(msg: RpcMessage, downstream: Downstream, relatedRequestId?: Id): void {
    const downId = `fjmcp-s${++askedSeq}`;
    this.#asked.set(downId, { downstream, childId: msg.id as Id });
    this.#askedByChildId.set(JSON.stringify(msg.id), downId);
    downstream.deliver({ ...msg, id: downId }, relatedRequestId);
  }
}
