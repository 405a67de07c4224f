/**
 * The child process layer: process-group stop ladder (SIGTERM, grace, SIGKILL to the group) with
 * no orphan left after 1,000 spawn/stop cycles (checked through /proc), no token in argv, and
 * stderr redacted.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ChildProcess } from '../../src/child/child-process.js';
import { silentLogger } from '../../src/ops/log.js';
import { processesWithEnv, until } from './relay-harness.js';

function spawnShell(script: string, marker: string, graceMs = 1000) {
  return ChildProcess.spawn({
    command: '/bin/sh',
    args: ['-c', script],
    env: (home) => ({ PATH: '/usr/bin:/bin', HOME: home, FJMCP_TEST_MARKER: marker }),
    maxMessageBytes: 1 << 20,
    stopGraceMs: graceMs,
    log: silentLogger,
    secrets: [marker],
  });
}

describe('child process group', () => {
  it('leaves no orphan after 1,000 spawn/stop cycles, grandchildren and TERM-ignoring children included (/proc)', async () => {
    const marker = `cycle-${randomBytes(6).toString('hex')}`;
    const batch = 25;
    for (let i = 0; i < 1000; i += batch) {
      await Promise.all(Array.from({ length: batch }, async (_, j) => {
        // Every other child ignores SIGTERM (inherited by its sleeps): only SIGKILL to the group ends it.
        const script = (i + j) % 2 ? "trap '' TERM; sleep 60 & sleep 60" : 'sleep 60 & sleep 60';
        const c = await spawnShell(script, marker, 30);
        await c.stop('test');
      }));
    }
    expect(await until(() => processesWithEnv(marker).length === 0, 5000)).toBe(true);
  }, 120_000);

  it('kills the whole group when the leader dies by itself', async () => {
    const marker = `leader-${randomBytes(6).toString('hex')}`;
    const c = await spawnShell('sleep 60 & exit 3', marker);
    const exit = await c.exited;
    expect(exit).toMatchObject({ code: 3, reason: 'exited' });
    expect(await until(() => processesWithEnv(marker).length === 0)).toBe(true);
  });

  it('keeps the token out of argv and redacts it from the stderr it keeps', async () => {
    const marker = `secret-${randomBytes(6).toString('hex')}`;
    const c = await spawnShell('echo "child says: $FJMCP_TEST_MARKER" >&2; sleep 60', marker);
    expect(await until(() => c.stderrTail().includes('child says'))).toBe(true);
    expect(c.stderrTail()).toContain('[redacted]');
    expect(c.stderrTail()).not.toContain(marker);
    expect(readFileSync(`/proc/${c.pid}/cmdline`, 'utf8')).not.toContain(marker);
    await c.stop('test');
  });

  it('queues writes while stdin wants a drain and stops a child that stopped reading (stdin backlog)', async () => {
    const marker = `stdin-${randomBytes(6).toString('hex')}`;
    const c = await ChildProcess.spawn({
      command: '/bin/sh', args: ['-c', 'sleep 60'], env: (home) => ({ PATH: '/usr/bin:/bin', HOME: home, FJMCP_TEST_MARKER: marker }),
      maxMessageBytes: 64 * 1024, stopGraceMs: 100, log: silentLogger, secrets: [],
    });
    const filler = 'z'.repeat(10 * 1024);
    for (let i = 0; i < 40 && c.alive; i++) c.send({ jsonrpc: '2.0', method: 'notifications/message', params: { data: filler } });
    const exit = await c.exited;
    expect(exit.reason).toBe('stdin-backlog');
    expect(await until(() => processesWithEnv(marker).length === 0)).toBe(true);
  });

  it('fails to spawn a missing executable with a clear error', async () => {
    await expect(ChildProcess.spawn({
      command: '/nonexistent/mcp-server', args: [], env: (home) => ({ HOME: home }),
      maxMessageBytes: 1024, stopGraceMs: 100, log: silentLogger, secrets: [],
    })).rejects.toThrow(/cannot start MCP server/);
  });
});
