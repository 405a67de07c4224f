/**
 * @module child/sandbox
 * The sandbox every MCP child runs in, set up by bubblewrap (`bwrap`, Debian package
 * `bubblewrap`) when the child is spawned, with limits set by util-linux `prlimit` inside it:
 *
 * - new user, PID, IPC, UTS and (when possible) cgroup namespaces: the child sees only its own
 *   processes, and `/proc` is a fresh procfs of its PID namespace (no other `/proc/<pid>/environ`);
 * - a mount view that is read-only and holds only `/usr` (with the merged-/usr symlinks), a few
 *   files of `/etc` (dynamic linker cache, CA certificates, resolver files), a minimal `/dev`, the
 *   child's executable and the paths named in its arguments or in `FJMCP_CHILD_SANDBOX_PATHS`,
 *   a private size-capped tmpfs `/tmp`, and the child's own writable HOME. The data directory,
 *   the secret files and the broker's temporary directory (other children's HOMEs) are masked even
 *   when an added path contains them;
 * - no capabilities, no new privileges (bwrap sets `PR_SET_NO_NEW_PRIVS`), no further user
 *   namespaces (`--disable-userns`), and killed with SIGKILL if the broker dies (`--die-with-parent`);
 * - per-child limits: RLIMIT_DATA (private writable memory), RLIMIT_NPROC (processes and threads,
 *   counted per user namespace since Linux 5.14, so per child: set inside the sandbox, after the
 *   namespace exists), RLIMIT_NOFILE.
 *
 * The network namespace is shared with the broker: the child must reach the forge at the URL the
 * operator configured, which may be any host. See docs/design.md §Security model for what this
 * guarantees and what it does not. The child's environment (which holds the person's token) is
 * handed to bwrap on a pipe (`--args 3` with `--clearenv --setenv …`), so it appears in neither
 * bwrap's argv nor its `/proc/<pid>/environ`: only the child process itself holds it.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, lstatSync, mkdtempSync, readlinkSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config.js';
import type { Logger } from '../ops/log.js';

export type SandboxMode = Config['child']['sandbox']['mode'];
export type SandboxSettings = Config['child']['sandbox'];

/** What `/healthz` and the logs say about the sandbox. */
export interface SandboxStatus {
  mode: SandboxMode;
  /** Children are started inside the sandbox. */
  active: boolean;
  /** false only when `required` and the sandbox cannot be set up (no child can start). */
  ok: boolean;
  detail: string;
}

/** The argv to spawn and the bytes to write to its fd 3 (bwrap's `--args 3`). */
export interface SpawnPlan {
  command: string;
  args: string[];
  /** NUL-separated bwrap arguments (the child's environment) for fd 3; absent when unsandboxed. */
  fd3?: Buffer;
  /** The environment of the spawned process itself (empty for bwrap). */
  env: Record<string, string>;
  sandboxed: boolean;
}

/** Thrown by {@link ChildSandbox.plan} when the sandbox is required and cannot be set up. */
export class SandboxUnavailableError extends Error {}

/** Top-level directories that are symlinks into /usr on merged-/usr systems, or real dirs elsewhere. */
const SYSTEM_TOP = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/** Files and directories of /etc a child needs: linker cache, CA certificates, name resolution, time zone. */
const ETC_PATHS = [
  '/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d', '/etc/alternatives',
  '/etc/ssl', '/etc/ca-certificates', '/etc/ca-certificates.conf', '/etc/pki', '/etc/crypto-policies',
  '/etc/resolv.conf', '/etc/hosts', '/etc/host.conf', '/etc/nsswitch.conf', '/etc/gai.conf',
  '/etc/services', '/etc/protocols', '/etc/localtime',
];
/** Said in the status (and logged) when the broker runs as root. */
export const ROOT_NPROC_CAVEAT = 'the processes limit is NOT enforced: the broker runs as root, and Linux exempts uid 0 from RLIMIT_NPROC; run the broker as an unprivileged user';
/** How long a failed probe is trusted before the next spawn probes again, ms. */
const REPROBE_AFTER_MS = 30_000;
/** Longest a probe may take, ms. */
const PROBE_TIMEOUT_MS = 10_000;

const under = (path: string, root: string) => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);

/** Resolves `command` like execvp on `pathVar`; the absolute path, or undefined when not found. */
export function resolveCommand(command: string, pathVar: string | undefined): string | undefined {
  const executable = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (command.includes('/')) return isAbsolute(command) && executable(command) ? command : undefined;
  for (const dir of (pathVar ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    if (dir && executable(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

/**
 * Host paths an argument names, to be bound read-only: an absolute path or `file:` URL that
 * exists. A path inside a `node_modules` tree gives the whole outermost `node_modules` directory,
 * so a script's dependencies resolve.
 */
export function argumentPaths(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const arg of args) {
    let p: string | undefined;
    if (arg.startsWith('file://')) {
      try {
        p = fileURLToPath(arg);
      } catch {
        continue;
      }
    } else if (arg.startsWith('/')) p = arg;
    if (!p || !existsSync(p)) continue;
    const real = realpathSync(p);
    const i = real.indexOf(`${sep}node_modules${sep}`);
    out.push(i >= 0 ? real.slice(0, i + `${sep}node_modules`.length) : real);
  }
  return out;
}

export interface ChildSandboxOptions {
  settings: SandboxSettings;
  log: Logger;
  /** Paths a child must never see: the data directory, secret files. */
  hidden: readonly string[];
  /** bwrap executable; default: `bwrap` on the broker's PATH. */
  bwrap?: string;
}

/**
 * Builds the sandboxed command line of each child and knows whether the sandbox works here.
 * Created once per broker; a probe (`bwrap … true`) runs at once and again, at most every 30 s,
 * when a spawn finds the last probe failed (so installing bubblewrap heals a running broker).
 */
export class ChildSandbox {
  readonly mode: SandboxMode;
  readonly #settings: SandboxSettings;
  readonly #log: Logger;
  readonly #hidden: string[];
  readonly #bwrap: string | undefined;
  readonly #prlimit: string | undefined;
  #status: SandboxStatus;
  #probe: Promise<SandboxStatus> | undefined;
  #probedAt = 0;

  constructor(opts: ChildSandboxOptions) {
    this.mode = opts.settings.mode;
    this.#settings = opts.settings;
    this.#log = opts.log;
    const realIfExists = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p));
    // The broker's temporary directory holds every child's HOME: masked so no child sees another's.
    this.#hidden = [...new Set([...opts.hidden, tmpdir()].map(realIfExists))];
    this.#bwrap = opts.bwrap ?? resolveCommand('bwrap', process.env.PATH);
    this.#prlimit = resolveCommand('prlimit', '/usr/bin:/bin');
    if (this.mode === 'off') {
      this.#status = { mode: 'off', active: false, ok: true, detail: 'off (FJMCP_CHILD_SANDBOX=off): children run unsandboxed as the broker\'s user and can read each other\'s tokens' };
      this.#log.warn({ childSandbox: this.#status.detail }, 'MCP children are NOT sandboxed (FJMCP_CHILD_SANDBOX=off)');
    } else {
      this.#status = { mode: this.mode, active: false, ok: this.mode === 'auto', detail: 'checking that the sandbox can be set up' };
      void this.ready();
    }
  }

  /** The current status (as of the last probe). */
  status(): SandboxStatus {
    return this.#status;
  }

  /** Resolves with the status once a probe has run (at once with `off`). Never rejects. */
  ready(): Promise<SandboxStatus> {
    if (this.mode === 'off') return Promise.resolve(this.#status);
    const failedLongAgo = !this.#status.active && this.#probedAt > 0 && Date.now() - this.#probedAt > REPROBE_AFTER_MS;
    if (!this.#probe || failedLongAgo) {
      this.#probe = this.#runProbe().then((status) => {
        this.#probedAt = Date.now();
        this.#report(status);
        return (this.#status = status);
      });
    }
    return this.#probe;
  }

  #report(next: SandboxStatus): void {
    const prev = this.#status;
    if (prev.active === next.active && prev.detail === next.detail) return;
    if (next.active && next.detail.includes(ROOT_NPROC_CAVEAT)) this.#log.warn({ childSandbox: next.detail }, 'MCP children run sandboxed, but without a processes limit: the broker runs as root');
    else if (next.active) this.#log.info({ childSandbox: next.detail }, 'MCP children run sandboxed');
    else if (next.mode === 'auto') this.#log.error({ childSandbox: next.detail }, 'MCP CHILDREN RUN UNSANDBOXED: the child sandbox cannot be set up and FJMCP_CHILD_SANDBOX=auto falls back; every child can read the others\' tokens. Fix it or set FJMCP_CHILD_SANDBOX=required');
    else this.#log.error({ childSandbox: next.detail }, 'no MCP child can start: the child sandbox cannot be set up and FJMCP_CHILD_SANDBOX=required');
  }

  async #runProbe(): Promise<SandboxStatus> {
    const fail = (why: string): SandboxStatus => ({
      mode: this.mode,
      active: false,
      ok: this.mode === 'auto',
      detail: this.mode === 'auto'
        ? `UNSANDBOXED (FJMCP_CHILD_SANDBOX=auto fell back): ${why}`
        : `the sandbox cannot be set up, so no MCP child starts (FJMCP_CHILD_SANDBOX=required): ${why}`,
    });
    if (!this.#bwrap) return fail('bwrap (Debian package bubblewrap) is not on the PATH');
    if (!this.#prlimit) return fail('prlimit (util-linux) is not in /usr/bin');
    const truePath = resolveCommand('true', '/usr/bin:/bin');
    if (!truePath) return fail('no /usr/bin/true to probe with');
    const home = mkdtempSync(join(tmpdir(), 'fjmcp-probe-'));
    try {
      const plan = this.#sandboxed(truePath, [], home, { HOME: home, PATH: '/usr/bin:/bin' });
      const { code, stderr } = await run(plan);
      if (code === 0) {
        // Linux does not apply RLIMIT_NPROC to processes of host uid 0 (kernel/fork.c copy_process:
        // `user != INIT_USER`), and a user namespace keeps the host uid: as root, no processes limit.
        const rootCaveat = process.getuid?.() === 0 ? `; ${ROOT_NPROC_CAVEAT}` : '';
        return { mode: this.mode, active: true, ok: true, detail: `bubblewrap (${this.#bwrap}); limits: memory ${this.#settings.memoryBytes} bytes, ${this.#settings.maxProcesses} processes, ${this.#settings.maxOpenFiles} open files, /tmp ${this.#settings.tmpBytes} bytes${rootCaveat}` };
      }
      return fail(`bwrap failed (exit ${code ?? 'none'}): ${stderr.trim().slice(0, 300) || 'no message'}`);
    } catch (err) {
      return fail(`bwrap could not run: ${(err as Error).message}`);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }

  /**
   * How to spawn `command args` with environment `env` and private HOME `home` (a host directory
   * under the temporary directory). Unsandboxed when the mode is `off`, or `auto` after a failed
   * probe.
   * @throws SandboxUnavailableError when `required` and the sandbox cannot be set up.
   * @throws Error when the command cannot be found on the child's PATH.
   */
  async plan(command: string, args: readonly string[], home: string, env: Record<string, string>): Promise<SpawnPlan> {
    const status = await this.ready();
    if (!status.active) {
      if (this.mode === 'required') throw new SandboxUnavailableError(`the MCP server cannot start: ${status.detail}`);
      return { command, args: [...args], env, sandboxed: false };
    }
    const resolved = resolveCommand(command, env.PATH);
    if (!resolved) throw new Error(`cannot start MCP server ${JSON.stringify(command)}: not found on the child's PATH (ENOENT)`);
    return this.#sandboxed(resolved, args, home, env);
  }

  /** The bwrap command line for an absolute `command`. */
  #sandboxed(command: string, args: readonly string[], home: string, env: Record<string, string>): SpawnPlan {
    const s = this.#settings;
    const a: string[] = [
      '--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
      '--disable-userns', '--die-with-parent', '--cap-drop', 'ALL', '--hostname', 'fjmcp-child',
      '--ro-bind', '/usr', '/usr',
    ];
    for (const top of SYSTEM_TOP) {
      const st = lstatSync(top, { throwIfNoEntry: false });
      if (st?.isSymbolicLink()) a.push('--symlink', readlinkSync(top), top);
      else if (st?.isDirectory()) a.push('--ro-bind', top, top);
    }
    for (const p of ETC_PATHS) a.push('--ro-bind-try', p, p);
    a.push('--proc', '/proc', '--dev', '/dev', '--size', String(s.tmpBytes), '--tmpfs', '/tmp');
    // The executable and what the arguments and the operator name: read-only, at their real paths.
    const extra = new Set<string>();
    const realCommand = realpathSync(command);
    // A script inside node_modules (e.g. gitea-mcp's bin) brings its node_modules tree, like an argument.
    for (const p of [...argumentPaths([realCommand, ...args]), ...s.paths.filter((p) => existsSync(p)).map((p) => realpathSync(p))]) {
      if (!under(p, '/usr')) extra.add(p);
    }
    for (const p of extra) a.push('--ro-bind', p, p);
    // Mask what must stay unseen wherever an added path contains it.
    for (const h of this.#hidden) {
      if (![...extra].some((p) => under(h, p))) continue;
      if (statSync(h, { throwIfNoEntry: false })?.isDirectory()) a.push('--tmpfs', h, '--remount-ro', h);
      else a.push('--ro-bind', '/dev/null', h);
    }
    a.push('--bind', home, home, '--chdir', home, '--remount-ro', '/');
    // The environment goes on fd 3, never in argv or bwrap's own environ.
    const envArgs = ['--clearenv'];
    for (const [k, v] of Object.entries(env)) envArgs.push('--setenv', k, v);
    a.push('--args', '3', '--', this.#prlimit!,
      `--data=${s.memoryBytes}`, `--nproc=${s.maxProcesses}`, `--nofile=${s.maxOpenFiles}`, '--', realCommand, ...args);
    return { command: this.#bwrap!, args: a, fd3: Buffer.from(envArgs.map((x) => `${x}\0`).join(''), 'utf8'), env: {}, sandboxed: true };
  }
}

/** Runs a probe plan to its end; exit code and stderr. */
function run(plan: SpawnPlan): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(plan.command, plan.args, { env: plan.env, stdio: ['ignore', 'ignore', 'pipe', 'pipe'], timeout: PROBE_TIMEOUT_MS });
    let stderr = '';
    p.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stderr }));
    const fd3 = p.stdio[3] as NodeJS.WritableStream | null;
    fd3?.on('error', () => {});
    fd3?.end(plan.fd3 ?? Buffer.alloc(0));
  });
}

/**
 * The sandbox of a broker: from `config.child.sandbox`, hiding the data directory and the secret
 * files from every child.
 */
export function createChildSandbox(config: Pick<Config, 'child' | 'dataDir' | 'secretFiles'>, log: Logger): ChildSandbox {
  return new ChildSandbox({ settings: config.child.sandbox, log, hidden: [config.dataDir, ...config.secretFiles] });
}
