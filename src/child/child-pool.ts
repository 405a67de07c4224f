/**
 * @module child/child-pool
 * Every MCP child process of the broker: spawns them with the child environment (`child-env.ts`),
 * holds the relay-wide cap `FJMCP_MAX_CHILDREN`, and records starts and exits (metrics, audit, the
 * stderr tail of a child that died by itself). It knows processes and their owners, not MCP.
 */
import type { Config } from '../config.js';
import type { Audit } from '../ops/audit.js';
import type { Logger } from '../ops/log.js';
import { Gauge, type Counter, type Registry } from 'prom-client';
import type { Metrics } from '../ops/metrics.js';
import { buildChildEnv } from './child-env.js';
import { ChildProcess } from './child-process.js';
import { createChildSandbox, type ChildSandbox } from './sandbox.js';

/** Whom a child runs for (the person whose forge token it holds). */
export interface ChildOwner {
  readonly personId: string;
  readonly login: string;
}

/** Live children of every pool, per metrics registry (for `fjmcp_relay_children_by_state`). */
const LIVE_BY_REGISTRY = new WeakMap<Registry, Set<Map<ChildProcess, { serving: boolean }>>>();

/** Thrown by {@link ChildPool.spawn} when `FJMCP_MAX_CHILDREN` children run already. */
export class ChildPoolFullError extends Error {}

export interface ChildPoolDeps {
  config: Config;
  log: Logger;
  audit: Audit;
  metrics: Metrics;
  /** The forge URL given to children; defaults to `config.forge.url`. */
  forgeUrl?: string;
  /** The sandbox every child runs in; default: one built from `config.child.sandbox`. */
  sandbox?: ChildSandbox;
}

export class ChildPool {
  #running = 0;
  /** Every live child, and whether it completed its MCP handshake (for the by-state gauge). */
  readonly #live = new Map<ChildProcess, { serving: boolean }>();
  readonly #deps: ChildPoolDeps;
  readonly #forgeUrl: string;
  readonly #sandbox: ChildSandbox;
  readonly #gChildren: Gauge<string>;
  readonly #cStarts: Counter<string>;
  readonly #cExits: Counter<string>;

  constructor(deps: ChildPoolDeps) {
    this.#deps = deps;
    this.#forgeUrl = deps.forgeUrl ?? deps.config.forge.url.href;
    this.#sandbox = deps.sandbox ?? createChildSandbox(deps.config, deps.log);
    this.#gChildren = deps.metrics.gauge('fjmcp_relay_children', 'MCP child processes running');
    this.#cStarts = deps.metrics.counter('fjmcp_relay_child_starts_total', 'MCP child processes started');
    this.#cExits = deps.metrics.counter('fjmcp_relay_child_exits_total', 'MCP child processes ended, by reason', ['reason']);
    const byState = 'fjmcp_relay_children_by_state';
    // One gauge per registry over every pool on it (one pool per MCP server).
    let pools = LIVE_BY_REGISTRY.get(deps.metrics.registry);
    if (!pools) LIVE_BY_REGISTRY.set(deps.metrics.registry, (pools = new Set()));
    pools.add(this.#live);
    if (!deps.metrics.registry.getSingleMetric(byState)) {
      const all = pools;
      new Gauge({
        name: byState,
        help: 'MCP child processes by state: starting (spawned, MCP handshake not done), serving, stopping (stop sent, not yet exited)',
        labelNames: ['state'],
        registers: [deps.metrics.registry],
        collect() {
          const n = { starting: 0, serving: 0, stopping: 0 };
          for (const live of all) for (const [proc, s] of live) n[proc.stopping ? 'stopping' : s.serving ? 'serving' : 'starting']++;
          for (const [state, v] of Object.entries(n)) this.set({ state }, v);
        },
      });
    }
  }

  /** Child processes alive (until their exit event), draining ones included. */
  get running(): number {
    return this.#running;
  }

  /**
   * Spawns a child holding `token` for `owner`. Its slot is released, and its exit recorded,
   * when the process exits (before any other handler of `exited` registered later runs).
   * @throws ChildPoolFullError at `FJMCP_MAX_CHILDREN`; Error when the executable cannot start.
   */
  async spawn(owner: ChildOwner, token: string): Promise<ChildProcess> {
    const { config, log } = this.#deps;
    if (this.#running >= config.child.maxChildren) {
      throw new ChildPoolFullError(`the broker is at capacity: ${config.child.maxChildren} MCP servers are running (FJMCP_MAX_CHILDREN); try again later`);
    }
    this.#count(+1);
    let proc: ChildProcess;
    try {
      proc = await ChildProcess.spawn({
        command: config.child.command,
        args: config.child.args,
        env: (home) => buildChildEnv(config.child, home, this.#forgeUrl, token),
        maxMessageBytes: config.child.maxMessageBytes,
        stopGraceMs: config.child.stopGraceMs,
        log: log.child({ person: owner.personId }),
        secrets: [token],
        sandbox: this.#sandbox,
      });
    } catch (err) {
      this.#count(-1);
      throw err;
    }
    this.#live.set(proc, { serving: false });
    void proc.exited.then((exit) => {
      this.#live.delete(proc);
      this.#count(-1);
      this.#cExits.inc({ reason: exit.reason });
      const fields = { personId: owner.personId, login: owner.login, pid: proc.pid, reason: exit.reason, code: exit.code ?? undefined, signal: exit.signal ?? undefined };
      this.#deps.audit('child.stopped', fields);
      if (exit.reason === 'exited') log.warn({ ...fields, stderr: proc.stderrTail().slice(-2000) }, 'MCP child exited by itself');
    });
    return proc;
  }

  /** Records a child that completed its MCP handshake and now serves its owner. */
  started(owner: ChildOwner, proc: ChildProcess): void {
    this.#cStarts.inc();
    const s = this.#live.get(proc);
    if (s) s.serving = true;
    this.#deps.audit('child.started', { personId: owner.personId, login: owner.login, pid: proc.pid });
  }

  #count(delta: number): void {
    this.#running += delta;
    this.#gChildren.set(this.#running);
  }
}
