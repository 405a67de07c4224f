/**
 * @module mcp/person
 * One person's relay state: their sessions and their child, and what happens to each message a
 * client sends on one of those sessions ({@link Person.receive}). The child is started on first use
 * (single-flight), restarted with backoff after it dies, swapped when the person's forge token
 * changes (the new child takes new requests; the old one finishes its calls and is stopped), and
 * stopped when idle. Lifecycle rules: docs/relay.md §Lifecycle.
 */
import { ChildPoolFullError, type ChildPool } from '../child/child-pool.js';
import type { ChildExit, ChildProcess } from '../child/child-process.js';
import type { Logger } from '../ops/log.js';
import { ChildLink, type Downstream } from './child-link.js';
import { LegacySession } from './legacy-session.js';
import type { Listen } from './listen.js';
import type { ModernCall } from './modern-call.js';
import { RPC, isRequest, isResponse, negotiateVersion, rpcError, type RpcMessage } from './protocol.js';
import { Session } from './session.js';
import type { ToolGate } from './tool-gate.js';

/** Restart backoff after a crash: none for the first, then doubling from 500 ms up to 30 s. */
export const RESTART_BACKOFF_MIN_MS = 500;
export const RESTART_BACKOFF_MAX_MS = 30_000;
/** A child that ran this long without dying resets the backoff. */
export const HEALTHY_RUN_MS = 60_000;

/** The relay-wide services a person needs. */
export interface PersonEnv {
  log: Logger;
  /** Spawns children (environment, relay-wide cap, start/exit accounting). */
  pool: ChildPool;
  /** Tool policy and tool-call audit around every call (src/mcp/tool-gate.ts); none = plain relay. */
  tools?: ToolGate;
}

/** Where a client message comes from: a 2025 session, a legacy (2024-11-05 HTTP+SSE) session, or one 2026-07-28 request. */
export type Origin = Session | LegacySession | ModernCall;

/** A session in either framing: streamable HTTP ({@link Session}) or legacy HTTP+SSE ({@link LegacySession}). */
const isSession = (o: Origin): o is Session | LegacySession => o instanceof Session || o instanceof LegacySession;

export class Person {
  readonly sessions = new Set<Session>();
  /** Open sessions of the legacy HTTP+SSE transport (mcp/legacy-sse.ts), each one stream. */
  readonly legacy = new Set<LegacySession>();
  /** Open `subscriptions/listen` streams (2026-07-28). */
  readonly listens = new Set<Listen>();
  login: string;
  token = '';
  /** Expiry of {@link token}, ms since the epoch: a token that expires later is the newer one. */
  tokenExpiresAt = 0;
  link: ChildLink | undefined;
  readonly draining = new Set<ChildLink>();
  lastActivity = Date.now();
  openStreams = 0;
  logLevel: string | undefined;
  #starting: Promise<ChildLink> | undefined;
  #crashes = 0;
  #lastCrashAt = 0;

  constructor(readonly personId: string, login: string, private readonly env: PersonEnv) {
    this.login = login;
  }

  /** Requests in flight on all of this person's children. */
  get inFlight(): number {
    let n = this.link?.inFlight ?? 0;
    for (const l of this.draining) n += l.inFlight;
    return n;
  }

  get idle(): boolean {
    return this.inFlight === 0 && this.openStreams === 0;
  }

  /** Calls of `session` in flight on any of this person's children. */
  inFlightOf(session: Downstream): number {
    let n = 0;
    for (const l of this.#links()) n += l.inFlightFor(session);
    return n;
  }

  /**
   * Handles one client→server message of `session` (MCP lifecycle, basic/utilities): `initialize`
   * is answered from the child's cached InitializeResult with the version negotiated for this
   * session; `ping` locally; requests are called on the person's child and their response is
   * delivered on the request's stream; a client's answers and cancellations go to the child link
   * that owns the request. A 2026-07-28 request arrives here as a {@link ModernCall} after the
   * relay validated it and answered what the broker answers itself (discover, listen).
   * Never throws: failures reach the client as JSON-RPC errors.
   */
  receive(session: Origin, msg: RpcMessage): void {
    session.lastActivity = this.lastActivity = Date.now();
    if (isResponse(msg)) {
      for (const link of this.#links()) if (link.answer(session, msg)) return;
      return;
    }
    if (isRequest(msg)) {
      if (msg.method === 'initialize' && isSession(session)) return void this.#initialize(session, msg);
      if (msg.method === 'ping') return session.deliver({ jsonrpc: '2.0', id: msg.id!, result: {} }, msg.id!);
      return void this.#call(session, msg);
    }
    if (msg.method === 'notifications/initialized') return; // the broker did the child's handshake itself
    if (msg.method === 'notifications/cancelled') {
      for (const link of this.#links()) if (link.cancel(session, msg.params ?? {})) return;
      return;
    }
    if (this.link && this.link.proc.alive) this.link.proc.send(msg);
  }

  /** Answers every call in flight on this person's children with JSON-RPC error -32002 `reason`. */
  failCalls(reason: string): void {
    for (const link of this.#links()) link.failAll(reason);
  }

  /** `session` closed: its calls are cancelled and the children's requests to it answered with an error. */
  release(session: Downstream, reason?: string): void {
    for (const link of this.#links()) link.release(session, reason);
  }

  /**
   * Opens a `subscriptions/listen` stream: the resources it names are subscribed at the child
   * unless a session or another stream holds them already (ref-counted by holder).
   */
  listen(l: Listen): void {
    const fresh = [...l.subscriptions].filter((u) => !this.#holds(u));
    this.listens.add(l);
    if (fresh.length) void this.child().then((link) => { for (const uri of fresh) void link.request('resources/subscribe', { uri }); }, () => {});
  }

  /** Closes a listen stream: resources nobody holds any more are unsubscribed at the child. */
  unlisten(l: Listen): void {
    if (!this.listens.delete(l)) return;
    const link = this.link;
    if (!link || !link.proc.alive) return;
    for (const uri of l.subscriptions) if (!this.#holds(uri)) void link.request('resources/unsubscribe', { uri });
  }

  /** Whether a session or listen stream of this person is subscribed to `uri`. */
  #holds(uri: string, except?: Downstream): boolean {
    for (const s of this.sessions) if (s !== except && s.subscriptions.has(uri)) return true;
    for (const s of this.legacy) if (s !== except && s.subscriptions.has(uri)) return true;
    for (const l of this.listens) if (l !== except && l.subscriptions.has(uri)) return true;
    return false;
  }

  /** Everything that hears the child's unsolicited notifications: sessions and listen streams. */
  *#audience(): Iterable<Downstream> {
    yield* this.sessions;
    yield* this.legacy;
    yield* this.listens;
  }

  async #initialize(session: Session | LegacySession, msg: RpcMessage): Promise<void> {
    const params = msg.params ?? {};
    const version = session instanceof LegacySession ? session.negotiate(params.protocolVersion) : negotiateVersion(params.protocolVersion);
    session.protocolVersion = version;
    session.capabilities = (params.capabilities as Record<string, unknown>) ?? {};
    session.clientInfo = params.clientInfo;
    try {
      const link = await this.child();
      session.deliver({ jsonrpc: '2.0', id: msg.id!, result: { ...link.initResult, protocolVersion: version } }, msg.id!);
    } catch (err) {
      session.deliver(rpcError(msg.id, RPC.SERVER_UNAVAILABLE, (err as Error).message), msg.id!);
    }
  }

  async #call(session: Origin, msg: RpcMessage): Promise<void> {
    const id = msg.id!;
    const method = msg.method!;
    const uri = msg.params?.uri as string | undefined;
    if (isSession(session) && method === 'resources/unsubscribe' && uri) {
      session.subscriptions.delete(uri);
      // Another session or listen stream still wants updates: the child must stay subscribed.
      if (this.#holds(uri, session)) return session.deliver({ jsonrpc: '2.0', id, result: {} }, id);
    }
    let link: ChildLink;
    try {
      link = await this.child();
    } catch (err) {
      return session.deliver(rpcError(id, RPC.SERVER_UNAVAILABLE, (err as Error).message), id);
    }
    if (session.closed) return;
    if (isSession(session) && method === 'resources/subscribe' && uri) session.subscriptions.add(uri);
    if (method === 'logging/setLevel') this.logLevel = msg.params?.level as string;
    const res = this.env.tools ? await this.env.tools.call(this, session, link, msg) : await link.call(session, msg);
    if (res) session.deliver(res, id);
  }

  /** The current child and the draining ones. */
  *#links(): Iterable<ChildLink> {
    if (this.link) yield this.link;
    yield* this.draining;
  }

  /**
   * Records the token of the current request. A different token than the running child's starts
   * a swap: the running child drains (stopped once its in-flight calls end); the next request
   * starts a child with the new token.
   */
  useToken(token: string, expiresAt: number): void {
    if (token === this.token) return;
    // A client still holding an older token (its request raced a refresh) must not swap back.
    if (this.token && expiresAt < this.tokenExpiresAt) return;
    this.token = token;
    this.tokenExpiresAt = expiresAt;
    const old = this.link;
    if (old && old.token !== token) {
      this.link = undefined;
      this.#drain(old, 'token-refreshed');
    }
  }

  /**
   * The running, initialized child; starts one if needed (single-flight).
   * @throws Error when the child cannot be started or initialized, or the relay is at capacity.
   */
  async child(): Promise<ChildLink> {
    if (this.link && this.link.proc.alive) return this.link;
    this.#starting ??= this.#start().finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  async #start(): Promise<ChildLink> {
    for (;;) {
      const wait = this.#backoffMs();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const token = this.token;
      let proc: ChildProcess;
      try {
        proc = await this.env.pool.spawn(this, token);
      } catch (err) {
        if (!(err instanceof ChildPoolFullError)) this.#noteCrash();
        throw err;
      }
      const link = new ChildLink(proc, token, () => this.#audience(), this.env.log);
      void proc.exited.then((exit) => this.#exited(link, exit));
      try {
        await link.initialize();
      } catch (err) {
        void proc.stop('initialize-failed');
        throw err;
      }
      if (this.token !== token) {
        // The token changed while this child started: it serves nothing; start another.
        this.#drain(link, 'token-refreshed');
        continue;
      }
      this.link = link;
      this.env.pool.started(this, proc);
      await this.#replay(link);
      return link;
    }
  }

  /** Re-establishes what the person's sessions set up on the previous child. */
  async #replay(link: ChildLink): Promise<void> {
    if (this.logLevel) void link.request('logging/setLevel', { level: this.logLevel });
    const uris = new Set<string>();
    for (const s of this.#audience()) for (const u of s.subscriptions) uris.add(u);
    for (const uri of uris) void link.request('resources/subscribe', { uri });
  }

  #drain(link: ChildLink, reason: string): void {
    link.draining = true;
    this.draining.add(link);
    const stopIfDone = () => {
      if (link.inFlight === 0) void link.proc.stop(reason);
    };
    link.onIdle = stopIfDone;
    stopIfDone();
  }

  #exited(link: ChildLink, exit: ChildExit): void {
    this.draining.delete(link);
    if (this.link === link) this.link = undefined;
    const detail = exit.reason === 'exited' ? `MCP server process exited (code ${exit.code ?? 'none'}, signal ${exit.signal ?? 'none'}) before answering` : `MCP server process was stopped (${exit.reason})`;
    link.failAll(detail);
    if (Date.now() - link.startedAt > HEALTHY_RUN_MS) this.#crashes = 0;
    if (exit.reason === 'exited' || exit.reason === 'message-too-large' || exit.reason === 'stdin-backlog') this.#noteCrash();
  }

  #noteCrash(): void {
    this.#crashes++;
    this.#lastCrashAt = Date.now();
  }

  #backoffMs(): number {
    if (this.#crashes <= 1) return 0;
    const delay = Math.min(RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_MIN_MS * 2 ** (this.#crashes - 2));
    return Math.max(0, this.#lastCrashAt + delay - Date.now());
  }

  /** Stops every child of this person. */
  async stopChildren(reason: string, graceMs?: number): Promise<void> {
    const links = [...this.draining, ...(this.link ? [this.link] : [])];
    this.link = undefined;
    await Promise.all(links.map((l) => l.proc.stop(reason, graceMs)));
  }
}
