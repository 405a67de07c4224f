/**
 * The child sandbox (src/child/sandbox.ts, issue #13): what a sandboxed child sees and may do,
 * the process-group stop ladder through bwrap, and the three modes: `required` refuses to start
 * children when bubblewrap cannot be set up and /healthz says so; `auto` falls back loudly.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChildProcess } from '../../src/child/child-process.js';
import { ChildSandbox, SandboxUnavailableError, type SandboxSettings } from '../../src/child/sandbox.js';
import { createLogger, silentLogger } from '../../src/ops/log.js';
import { createHealth } from '../../src/ops/health.js';
import { openSqliteStore } from '../../src/store/store.js';
import { lineSink } from '../support/broker.js';
import { processesWithEnv, until } from './relay-harness.js';

const SETTINGS: SandboxSettings = { mode: 'required', paths: [], memoryBytes: 1 << 30, maxProcesses: 64, maxOpenFiles: 256, tmpBytes: 1 << 24 };
const scratch = mkdtempSync(join(tmpdir(), 'fjmcp-sandbox-test-'));
const secretFile = join(scratch, 'client-secret');
writeFileSync(secretFile, 'top-secret-value', { mode: 0o600 });
writeFileSync(join(scratch, 'public.txt'), 'public-value');
// The operator adds the directory that holds the secret file: the file must stay masked.
const sandbox = new ChildSandbox({ settings: { ...SETTINGS, paths: [scratch] }, log: silentLogger, hidden: [secretFile] });
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs `script` with /bin/sh in the sandbox; resolves with what it printed (one JSON line). */
async function inSandbox(script: string, marker = `sbx-${randomBytes(6).toString('hex')}`, sb = sandbox): Promise<{ out: Record<string, string>; child: ChildProcess }> {
  const child = await ChildProcess.spawn({
    command: '/bin/sh', args: ['-c', script],
    env: (home) => ({ PATH: '/usr/bin:/bin', HOME: home, FJMCP_TEST_MARKER: marker }),
    maxMessageBytes: 1 << 20, stopGraceMs: 500, log: silentLogger, secrets: [marker], sandbox: sb,
  });
  const out = await new Promise<Record<string, string>>((resolve, reject) => {
    child.onMessage = (m) => resolve(m as Record<string, string>);
    void child.exited.then((e) => reject(new Error(`child exited before answering: ${JSON.stringify(e)} ${child.stderrTail()}`)));
  });
  return { out, child };
}

describe('a sandboxed child', () => {
  it('sees only its own PID namespace in /proc, has no capabilities, no new privileges, and its limits', async () => {
    const { out, child } = await inSandbox(`printf '{"pids":"%s","status":"%s","limits":"%s"}\\n' "$(ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' ')" "$(grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status | tr '\\t\\n' '  ')" "$(grep -E 'data size|processes|open files' /proc/self/limits | tr -s ' ' | tr '\\n' ';')"`);
    expect(child.sandboxed).toBe(true);
    expect(out.pids!.trim().split(' ').map(Number).every((p) => p < 10)).toBe(true); // bwrap's init, sh, its helpers
    expect(out.status).toMatch(/CapEff: 0000000000000000/);
    expect(out.status).toMatch(/CapBnd: 0000000000000000/);
    expect(out.status).toMatch(/NoNewPrivs: 1/);
    expect(out.limits).toContain(`Max data size ${1 << 30} ${1 << 30} bytes`);
    expect(out.limits).toContain('Max processes 64 64 processes');
    expect(out.limits).toContain('Max open files 256 256 files');
    await child.stop('test');
  });

  it('has a read-only filesystem except its HOME and /tmp, and no view of a secret file even inside an added path', async () => {
    const { out, child } = await inSandbox(`r() { if "$@" 2>/dev/null; then echo ok; else echo denied; fi; }; printf '{"root":"%s","usr":"%s","home":"%s","tmp":"%s","added":"%s","public":"%s","secret":"%s","etc":"%s"}\\n' "$(r touch /x)" "$(r touch /usr/x)" "$(r touch "$HOME/x")" "$(r touch /tmp/x)" "$(r touch ${scratch}/x)" "$(cat ${scratch}/public.txt)" "$(cat ${secretFile} 2>&1)" "$(ls /etc | tr '\\n' ' ')"`);
    expect(out).toMatchObject({ root: 'denied', usr: 'denied', home: 'ok', tmp: 'ok', added: 'denied', public: 'public-value' });
    expect(out.secret).not.toContain('top-secret-value');
    expect(out.etc).not.toMatch(/passwd|shadow/);
    await child.stop('test');
  });

  it('keeps the environment (the token) out of bwrap\'s argv and environ: only the child holds it', async () => {
    const marker = `sbx-env-${randomBytes(6).toString('hex')}`;
    // The shell answers, then waits on its stdin: no exec after the answer, whose moment of
    // replacing the process image makes /proc/<pid>/environ unreadable to the scan below.
    const { child } = await inSandbox('echo "{}"; read -r line', marker);
    expect(readFileSync(`/proc/${child.pid}/cmdline`, 'utf8')).not.toContain(marker);
    expect(readFileSync(`/proc/${child.pid}/environ`, 'utf8')).not.toContain(marker);
    expect(processesWithEnv(marker)).toHaveLength(1); // the sh inside, not bwrap nor its init
    await child.stop('test');
  });

  it('is stopped with its whole sandbox, TERM-ignoring grandchildren included, over 100 spawn/stop cycles', async () => {
    const marker = `sbx-cycle-${randomBytes(6).toString('hex')}`;
    for (let i = 0; i < 100; i += 10) {
      await Promise.all(Array.from({ length: 10 }, async (_, j) => {
        const script = (i + j) % 2 ? "trap '' TERM; sleep 60 & echo '{}'; sleep 60" : "sleep 60 & echo '{}'; sleep 60";
        const { child } = await inSandbox(script, marker);
        await child.stop('test', 50);
      }));
    }
    expect(await until(() => processesWithEnv(marker).length === 0, 5000)).toBe(true);
  }, 120_000);

  it('takes its grandchildren along when it exits by itself', async () => {
    const marker = `sbx-leader-${randomBytes(6).toString('hex')}`;
    const { child } = await inSandbox("sleep 60 & echo '{}'; read x; exit 3", marker);
    child.send({});
    const exit = await child.exited;
    expect(exit).toMatchObject({ code: 3, reason: 'exited' });
    expect(await until(() => processesWithEnv(marker).length === 0)).toBe(true);
  });
});

describe('FJMCP_CHILD_SANDBOX modes when bubblewrap cannot be set up', () => {
  const missing = '/nonexistent/bwrap'; // bubblewrap not installed: the usual real-world case

  it('required: refuses to start a child, and /healthz is unavailable naming the sandbox', async () => {
    const lines: string[] = [];
    const sb = new ChildSandbox({ settings: { ...SETTINGS, mode: 'required' }, log: createLogger('info', lineSink(lines)), hidden: [], bwrap: missing });
    await expect(inSandbox('echo "{}"', undefined, sb)).rejects.toThrow(SandboxUnavailableError);
    await expect(inSandbox('echo "{}"', undefined, sb)).rejects.toThrow(/cannot start.*FJMCP_CHILD_SANDBOX=required/);
    const store = await openSqliteStore(':memory:');
    const report = await createHealth({ store, forge: { health: async () => ({ ok: true }), credentials: () => ({ ok: true }) }, childSandbox: sb }).check();
    expect(report.ok).toBe(false);
    expect(report.childSandbox).toMatchObject({ ok: false, active: false, mode: 'required' });
    expect(report.childSandbox!.detail).toMatch(/no MCP child starts.*bwrap could not run/);
    expect(lines.some((l) => l.includes('"level":"error"') && l.includes('FJMCP_CHILD_SANDBOX=required'))).toBe(true);
    await store.close();
  });

  it('auto: starts the child unsandboxed, logs an error-level warning, and /healthz stays ok but says so', async () => {
    const lines: string[] = [];
    const sb = new ChildSandbox({ settings: { ...SETTINGS, mode: 'auto' }, log: createLogger('info', lineSink(lines)), hidden: [], bwrap: missing });
    const { child } = await inSandbox('echo "{}"; sleep 60', undefined, sb);
    expect(child.sandboxed).toBe(false);
    await child.stop('test');
    expect(lines.some((l) => l.includes('"level":"error"') && l.includes('UNSANDBOXED'))).toBe(true);
    const store = await openSqliteStore(':memory:');
    const report = await createHealth({ store, forge: { health: async () => ({ ok: true }), credentials: () => ({ ok: true }) }, childSandbox: sb }).check();
    expect(report.ok).toBe(true);
    expect(report.childSandbox).toMatchObject({ ok: true, active: false, mode: 'auto' });
    expect(report.childSandbox!.detail).toMatch(/^UNSANDBOXED/);
    await store.close();
  });

  it('off: never probes, runs unsandboxed, and warns at start', async () => {
    const lines: string[] = [];
    const sb = new ChildSandbox({ settings: { ...SETTINGS, mode: 'off' }, log: createLogger('info', lineSink(lines)), hidden: [] });
    const { child } = await inSandbox('echo "{}"; sleep 60', undefined, sb);
    expect(child.sandboxed).toBe(false);
    await child.stop('test');
    expect(sb.status()).toMatchObject({ ok: true, active: false, mode: 'off' });
    expect(lines.some((l) => l.includes('"level":"warn"') && l.includes('NOT sandboxed'))).toBe(true);
  });
});
