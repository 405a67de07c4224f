/**
 * @module child/child-process
 * One stdio MCP child: spawned with execa without a shell in its own process group, fed
 * newline-delimited JSON-RPC with stdin backpressure, read through a capped {@link LineSplitter},
 * stopped with the ladder stdin EOF + SIGTERM to the group → grace → SIGKILL to the group.
 * Killing only the direct child leaks grandchildren (supercorp-ai/supergateway PR#124, #141),
 * so every signal goes to `-pid`. With a {@link ChildSandbox} the group leader is bwrap; the child
 * runs inside it (src/child/sandbox.ts) and the group signals reach it there too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Logger } from '../ops/log.js';
import { redactText } from '../ops/log.js';
import { LineSplitter } from './line-splitter.js';
import { parseJsonBytes, toWire } from '../lib/raw-json.js';
import type { ChildSandbox, SpawnPlan } from './sandbox.js';
import { StderrRing } from './stderr-ring.js';
import { StdoutNoise } from './stdout-noise.js';

export interface ChildSpawnOptions {
  command: string;
  args: readonly string[];
  /** Builds the complete environment given the private HOME (nothing is inherited). */
  env: (home: string) => Record<string, string>;
  maxMessageBytes: number;
  /** ms between SIGTERM and SIGKILL. */
  stopGraceMs: number;
  log: Logger;
  /** Values redacted from stderr before it is logged or kept (the person's token). */
  secrets: readonly string[];
  /** Runs the child inside this sandbox (per its mode); absent = unsandboxed. */
  sandbox?: ChildSandbox;
}

export interface ChildExit {
  code: number | null;
  signal: string | null;
  /** Why the broker ended it, or 'exited' when the child ended by itself. */
  reason: string;
}

/** Messages longer than this (UTF-16 units) are written without a copy for their newline. */
const LARGE_LINE = 64 * 1024;
const NEWLINE = '\n';

/** Process groups alive right now: killed synchronously if the broker exits (supergateway #155). */
const liveGroups = new Set<number>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
  });
}

function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone already
  }
}

export class ChildProcess {
  readonly pid: number;
  readonly exited: Promise<ChildExit>;
  onMessage: (msg: unknown) => void = () => {};
  #stopReason: string | undefined;
  #alive = true;
  #queue: (string | Buffer)[] = [];
  #queuedBytes = 0;
  #draining = false;
  readonly #stderr = new StderrRing();
  readonly #proc: ReturnType<typeof execa>;
  readonly #home: string;
  /** The child runs inside the sandbox (bwrap is the group leader, {@link pid}). */
  readonly sandboxed: boolean;

  /**
   * @throws Error when the executable cannot be started (ENOENT, EACCES).
   * @throws SandboxUnavailableError when the sandbox is required and cannot be set up.
   */
  static async spawn(opts: ChildSpawnOptions): Promise<ChildProcess> {
    const home = mkdtempSync(join(tmpdir(), 'fjmcp-home-'));
    const env = opts.env(home);
    let plan: SpawnPlan;
    try {
      plan = opts.sandbox ? await opts.sandbox.plan(opts.command, opts.args, home, env) : { command: opts.command, args: [...opts.args], env, sandboxed: false };
    } catch (err) {
      rmSync(home, { recursive: true, force: true });
      throw err;
    }
    const child = new ChildProcess(opts, home, plan);
    await child.#started();
    return child;
  }

  private constructor(private readonly opts: ChildSpawnOptions, home: string, plan: SpawnPlan) {
    installExitHook();
    this.#home = home;
    this.sandboxed = plan.sandboxed;
    this.#proc = execa(plan.command, plan.args, {
      env: plan.env,
      extendEnv: false,
      cwd: this.#home,
      shell: false,
      detached: true, // own process group, so the whole group can be signalled
      cleanup: false, // we stop the group ourselves; execa's hook would signal only the leader
      // fd 3 carries bwrap's --args (the child's environment) when sandboxed.
      stdio: plan.fd3 ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'],
      buffer: false,
      reject: false,
      encoding: 'buffer',
    });
    this.pid = this.#proc.pid ?? -1;
    if (this.pid > 0) liveGroups.add(this.pid);
    if (plan.fd3) {
      const fd3 = this.#proc.stdio[3] as NodeJS.WritableStream;
      fd3.on('error', () => {}); // bwrap gone before reading: the exit path reports it
      fd3.end(plan.fd3);
    }
    const log = opts.log;
    const noise = new StdoutNoise(log, this.pid);
    const parsed = (parse: () => unknown) => {
      let msg: unknown;
      try {
        msg = parse();
      } catch {
        noise.count(); // a child's stdout is data: counted, never logged
        return;
      }
      this.onMessage(msg);
    };
    const splitter = new LineSplitter(
      opts.maxMessageBytes,
      (line) => parsed(() => JSON.parse(line)),
      (err) => {
        log.error({ pid: this.pid, err: err.message }, 'child message too large; stopping the child');
        void this.stop('message-too-large');
      },
      (pieces) => parsed(() => parseJsonBytes(pieces)),
    );
    this.#proc.stdout!.on('data', (chunk: Buffer) => splitter.push(chunk));
    this.#proc.stderr!.on('data', (chunk: Buffer) => {
      const text = redactText(chunk.toString('utf8'), opts.secrets);
      this.#stderr.push(text);
      log.debug({ pid: this.pid, stderr: text.trimEnd() }, 'child stderr');
    });
    this.#proc.stdin!.on('error', () => {}); // EPIPE after death: the exit path reports it
    this.exited = new Promise<ChildExit>((resolve) => {
      const finish = (code: number | null, signal: string | null) => {
        if (!this.#alive) return;
        this.#alive = false;
        noise.flush();
        // Reap stragglers that the leader left in its group.
        signalGroup(this.pid, 'SIGKILL');
        liveGroups.delete(this.pid);
        rmSync(this.#home, { recursive: true, force: true });
        resolve({ code, signal, reason: this.#stopReason ?? 'exited' });
      };
      this.#proc.on('exit', (code, signal) => finish(code, signal));
      this.#proc.then(
        (r) => finish(r.exitCode ?? null, r.signal ?? null),
        () => finish(null, null),
      );
    });
  }

  async #started(): Promise<void> {
    if (this.pid > 0) return;
    const r = await this.#proc;
    throw new Error(`cannot start MCP server ${JSON.stringify(this.opts.command)}: ${r.shortMessage ?? r.message ?? 'spawn failed'}`);
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** True once {@link stop} was called on a child that has not exited yet. */
  get stopping(): boolean {
    return this.#alive && this.#stopReason !== undefined;
  }

  /** Redacted tail of stderr (at most 64 KiB). */
  stderrTail(): string {
    return this.#stderr.text();
  }

  /**
   * Writes one JSON-RPC message (large literals kept as bytes are written as those bytes:
   * lib/raw-json). Honours backpressure: while stdin wants a drain, messages wait in order instead
   * of piling into the stream's own buffer; more than 2 × `maxMessageBytes` waiting (UTF-16 units
   * of text, bytes of a large message's parts: roughly bytes) stops the child as `stdin-backlog`.
   */
  send(msg: object): void {
    if (!this.#alive) return;
    const json = toWire(msg);
    // A large message is written as its JSON and then the newline: appending the newline would
    // make one more copy of the whole text (the concatenation is flattened when written).
    const parts = typeof json !== 'string' ? [...json.parts, NEWLINE] : json.length > LARGE_LINE ? [json, NEWLINE] : [`${json}\n`];
    if (this.#draining) {
      for (const part of parts) {
        this.#queue.push(part);
        this.#queuedBytes += part.length;
      }
      // A child that stopped reading stdin must not make the broker buffer without bound.
      if (this.#queuedBytes > 2 * this.opts.maxMessageBytes) {
        this.opts.log.error({ pid: this.pid, queuedBytes: this.#queuedBytes }, 'child stopped reading stdin; stopping the child');
        void this.stop('stdin-backlog');
      }
      return;
    }
    let ok = true;
    for (const part of parts) ok = this.#proc.stdin!.write(part);
    if (!ok) this.#waitDrain();
  }

  #waitDrain(): void {
    this.#draining = true;
    this.#proc.stdin!.once('drain', () => {
      this.#draining = false;
      while (this.#queue.length && this.#alive) {
        const part = this.#queue.shift()!;
        this.#queuedBytes -= part.length;
        if (!this.#proc.stdin!.write(part)) return this.#waitDrain();
      }
    });
  }

  /**
   * Stops the child: stdin EOF and SIGTERM to the group, then SIGKILL to the group after
   * `stopGraceMs`. Resolves once the leader has exited.
   */
  async stop(reason: string, graceMs = this.opts.stopGraceMs): Promise<ChildExit> {
    if (this.#alive && this.#stopReason === undefined) {
      this.#stopReason = reason;
      this.#proc.stdin!.end();
      signalGroup(this.pid, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(this.pid, 'SIGKILL'), graceMs);
      timer.unref();
      void this.exited.then(() => clearTimeout(timer));
    }
    return this.exited;
  }
}
