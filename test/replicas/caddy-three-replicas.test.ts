/**
 * Three broker processes on one PostgreSQL behind Debian's Caddy running the shipped
 * deploy/caddy/Caddyfile.replicas, changed only to a plain-HTTP loopback site, a free admin port,
 * the replicas' ports and debug logging (which upstream each request went to, and how its round
 * trip ended, for failure messages) (adaptReplicasForLoopback). alice and bob call tools in a loop; one
 * replica is killed with SIGKILL under that load. The other two keep serving both people: the
 * clients carry on with the same tokens and session ids (no new sign-in); after the kill only the
 * first request Caddy sends to the dead replica fails (a 502; the shipped file does not retry, see
 * its comment on caddyserver/caddy#7546), no healthy replica is taken out of the set, and the
 * refresh tokens still work (no token or grant lost).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { signInManually, tokenRequest } from '../support/broker-consent.js';
import { freePort } from '../support/ports.js';
import { createDatabase } from '../support/postgres.js';
import { startReplicas, type Front, type ReplicaSet } from '../support/replicas.js';
import { sharedTestbed, type Testbed } from '../support/testbed.js';
import { CADDY, caddyEnv } from '../deploy/caddy-support.js';

const REPLICAS_CADDYFILE = resolve(import.meta.dirname, '../../deploy/caddy/Caddyfile.replicas');
const SHIPPED_UPSTREAMS = 'reverse_proxy 127.0.0.1:8787 127.0.0.1:8788 127.0.0.1:8789 {';

/** The shipped replicas Caddyfile on loopback: plain HTTP site, admin on a free port, the replicas' ports. */
function adaptReplicasForLoopback(text: string, o: { port: number; adminPort: number; upstreams: number[] }): string {
  if (!text.includes('mcp.example.org {') || !text.includes(SHIPPED_UPSTREAMS) || !/^\{$/m.test(text)) {
    throw new Error('shipped Caddyfile.replicas changed shape: update adaptReplicasForLoopback');
  }
  return text
    .replace(/^\{$/m, `{\n\tdebug\n\tadmin 127.0.0.1:${o.adminPort}\n\tauto_https off\n`)
    .replace('mcp.example.org {', `http://127.0.0.1:${o.port} {\n\tbind 127.0.0.1`)
    .replace(SHIPPED_UPSTREAMS, `reverse_proxy ${o.upstreams.map((p) => `127.0.0.1:${p}`).join(' ')} {`);
}

/** What Caddy printed (its JSON log: proxy errors, health changes, the access log), for failure messages. */
const caddyLog: string[] = [];
/** Caddy's admin API (its `/reverse_proxy/upstreams` lists each upstream's passive-check failures). */
let caddyAdmin = '';

async function caddyFront(upstreams: number[]): Promise<Front> {
  const port = await freePort();
  const adminPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'caddy-replicas-'));
  const file = join(dir, 'Caddyfile');
  writeFileSync(file, adaptReplicasForLoopback(readFileSync(REPLICAS_CADDYFILE, 'utf8'), { port, adminPort, upstreams }));
  const proc: ResultPromise = execa(CADDY, ['run', '--adapter', 'caddyfile', '--config', file], { env: caddyEnv(dir), extendEnv: false, reject: false, all: true, forceKillAfterDelay: 3000 });
  // Whole lines, however the pipe cuts its chunks (a JSON line split in two would not parse).
  createInterface({ input: proc.all! }).on('line', (l) => l && caddyLog.push(l));
  caddyAdmin = `http://127.0.0.1:${adminPort}`;
  const deadline = Date.now() + 20_000;
  while (!(await fetch(`http://127.0.0.1:${adminPort}/config/`).then((r) => r.ok, () => false))) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`caddy did not start:\n${caddyLog.join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      proc.kill('SIGTERM');
      await proc;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One JSON log line (the broker's or Caddy's) in one short line: time, level, message, the rest cut. */
function brief(line: string): string {
  try {
    const { time, ts, level, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const at = typeof ts === 'number' ? new Date(ts * 1000).toISOString() : String(time);
    // What tells one call or event from another first; the rest (ids, hashes) after, cut.
    const { login, outcome, reason, durationMs, pid, err, error, upstream, dial, status, duration, ...more } = rest;
    const key = JSON.stringify({ login, outcome, reason, durationMs, pid, err, error, upstream, dial, status, duration });
    return `${at.slice(11, 23)} ${String(level)} ${String(msg)} ${key} ${JSON.stringify(more).slice(0, 120)}`;
  } catch {
    return line.slice(0, 250);
  }
}

type Call = { start: number; ok: boolean; detail: string };

let tb: Testbed;
let set: ReplicaSet;

beforeAll(async () => {
  tb = sharedTestbed();
  const databaseUrl = await createDatabase(inject('postgres').url, 'caddy3');
  // The loops call as fast as the replicas answer, far beyond an assistant's pace: the per-person
  // rate limit (per replica; tested in test/e2e/tool-policy.test.ts) is set out of their reach.
  set = await startReplicas({ testbed: tb, count: 3, databaseUrl, front: caddyFront, env: { FJMCP_MCP_RATE_PER_MIN: '1000000', FJMCP_MCP_BURST: '1000000' } });
});
afterAll(async () => {
  await set?.stop();
});

async function rpc(token: string, body: Record<string, unknown>, sid?: string): Promise<{ status: number; sid: string | null; text: string }> {
  const res = await fetch(set.mcpUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}`,
      'mcp-protocol-version': '2025-06-18', ...(sid ? { 'mcp-session-id': sid } : {}),
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, sid: res.headers.get('mcp-session-id'), text: await res.text() };
}

describe('three replicas behind Caddy (Caddyfile.replicas) on one PostgreSQL', () => {
  it('keeps serving alice and bob when one replica is killed -9 under load: same tokens and sessions, no call lost after the kill, refresh still works', async () => {
    const people = await Promise.all((['alice', 'bob'] as const).map(async (login) => {
      const { client, tokens } = await signInManually(tb, set.publicUrl, login, 'http://127.0.0.1:53999/cb');
      const init = await rpc(tokens.access_token, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: `caddy3-${login}`, version: '0' } } });
      expect(init.status).toBe(200);
      await rpc(tokens.access_token, { jsonrpc: '2.0', method: 'notifications/initialized' }, init.sid!);
      return { login, client, tokens, sid: init.sid!, calls: [] as Call[] };
    }));

    let running = true;
    const loops = people.map(async (p) => {
      for (let id = 10; running; id++) {
        const start = Date.now();
        try {
          const r = await rpc(p.tokens.access_token, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'user__get_my_userinfo', arguments: {} } }, p.sid);
          p.calls.push({ start, ok: r.status === 200 && r.text.includes(p.login) && !r.text.includes('"isError":true'), detail: `${r.status} ${r.text.slice(0, 200)}` });
        } catch (err) {
          p.calls.push({ start, ok: false, detail: String(err) });
        }
      }
    });
    const until = async (cond: () => boolean, ms: number) => {
      const end = Date.now() + ms;
      while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      expect(cond()).toBe(true);
    };
    await until(() => people.every((p) => p.calls.filter((c) => c.ok).length >= 5), 60_000);

    // Person affinity: each person's calls met one replica, so one child each.
    const startedFor = (login: string) => set.replicas.filter((r) => r.logLines.some((l) => l.includes('"event":"child.started"') && l.includes(`"login":"${login}"`)));
    expect(startedFor('alice')).toHaveLength(1);
    expect(startedFor('bob')).toHaveLength(1);
    const home = new Map(people.map((p) => [p.login, startedFor(p.login)[0]!]));
    // Kill the replica running alice's child (bob's may be the same one: the hash decides).
    const victim = home.get('alice')!;
    // "After the kill" starts once the process is gone: a call Caddy forwarded while the killed
    // process was still being torn down is the call in flight at the kill, which may fail.
    const killSentAt = Date.now();
    victim.proc.kill('SIGKILL');
    await victim.exited;
    const killedAt = Date.now();
    const okBefore = people.map((p) => p.calls.filter((c) => c.ok).length);
    await until(() => people.every((p, i) => p.calls.filter((c) => c.ok).length >= okBefore[i]! + 10), 60_000);
    running = false;
    await Promise.all(loops);
    // No healthy replica was counted failed (a count lasts fail_duration, 30 s, longer than this
    // test): Caddy's own record, which a retried request would have raised (caddyserver/caddy#7546).
    const upstreams = await (await fetch(`${caddyAdmin}/reverse_proxy/upstreams`)).json() as { address: string; fails: number }[];
    expect(upstreams.filter((u) => u.address !== `127.0.0.1:${victim.port}`).map((u) => u.fails), JSON.stringify(upstreams)).toEqual([0, 0]);
    // Checked before the refresh below (a new access token is a new affinity key, which may pick
    // another replica): the people of the dead replica went on on one survivor each (one new
    // child), and no one else moved. A healthy replica counted failed by Caddy (a retried request,
    // caddyserver/caddy#7546) would leave the set for 30 s and move its people to another one.
    for (const p of people) {
      const moved = startedFor(p.login).filter((r) => r !== home.get(p.login));
      expect(moved.map((r) => r.name), `${p.login} (home ${home.get(p.login)!.name}, killed ${victim.name})`).toHaveLength(home.get(p.login) === victim ? 1 : 0);
    }

    // On failure the message carries what every replica and Caddy logged around each failed call,
    // so a CI run that fails here can be traced (no secrets: the broker redacts them, and Caddy's
    // log redacts Authorization).
    const near = (ms: number, t: number) => Math.abs(ms - t) < 3_000;
    // Caddy's errors come first (CI keeps the start and the end of a long message): a stream that
    // ends early shows there as "aborting with incomplete response" with the upstream's error.
    const caddyAt = (l: string) => Number(/"ts":([0-9.]+)/.exec(l)?.[1] ?? 0) * 1000;
    const caddyNear = (t: number) => caddyLog.filter((l) => (l.includes('"level":"warn"') || l.includes('"level":"error"')) && near(caddyAt(l), t)).slice(-10).map(brief).join('\n');
    // Caddy's debug lines of this person's session from just before the call: the upstream it was
    // sent to and how the round trip ended.
    const caddyRoute = (t: number, sid: string) => caddyLog.filter((l) => l.includes('"level":"debug"') && l.includes(sid) && caddyAt(l) >= t - 20 && caddyAt(l) < t + 3_000).slice(0, 3).map(brief).join('\n');
    const around = (t: number, login: string, sid: string) => `caddy (warnings and errors):\n${caddyNear(t)}\ncaddy (this session, from the call on):\n${caddyRoute(t, sid)}\n` + set.replicas.map((r) => {
      // The lines just before the call and while it ran (a call takes well under 500 ms here).
      const lines = r.logLines.filter((l) => Math.abs(Date.parse(/"time":"([^"]+)"/.exec(l)?.[1] ?? '') - (t - 750)) < 1_250);
      const theirs = lines.filter((l) => l.includes(`"login":"${login}"`) || !l.includes('"event":"tool.call"'));
      return `${r.name} (port ${r.port}${r === victim ? ', killed' : `, exit code ${r.proc.exitCode}`}):\n${theirs.slice(-8).map(brief).join('\n')}`;
    }).join('\n');
    // One failed call: when it started (ms from `t0`, the signal or the exit), what it got, and the lines around it.
    const explain = (c: Call, t0: number, login: string, sid: string) => `${login}: call at kill${c.start - t0 < 0 ? '' : '+'}${c.start - t0} ms answered ${JSON.stringify(c.detail.slice(0, 160))}\n${around(c.start, login, sid)}`;
    for (const p of people) {
      const after = p.calls.filter((c) => c.start > killedAt);
      expect(after.length).toBeGreaterThanOrEqual(10);
      // Only the first call after the exit may fail, only for a person of the dead replica, and
      // only with Caddy's own 502 (no body): the request Caddy sent there before marking it down.
      const mayFail = home.get(p.login) === victim && !after[0]!.ok && after[0]!.detail === '502 ' ? 1 : 0;
      const failedAfter = after.slice(mayFail).filter((c) => !c.ok);
      expect(failedAfter.map((c) => c.detail), `first call after the exit: ${JSON.stringify(after[0]!.detail.slice(0, 40))}\n${failedAfter.map((c) => explain(c, killedAt, p.login, p.sid)).join('\n\n')}`).toEqual([]);
      // Each person's loop is sequential, so at most one call was in flight when the signal was
      // sent. Calls started while the process was being torn down (signal sent, not yet exited)
      // may meet its still-open socket and fail.
      const failedBeforeSignal = p.calls.filter((c) => !c.ok && c.start < killSentAt);
      expect(failedBeforeSignal.length, failedBeforeSignal.map((c) => explain(c, killSentAt, p.login, p.sid)).join('\n\n')).toBeLessThanOrEqual(1); // at most the call in flight at the kill
      // No token or grant lost: the refresh token rotates and its successor is accepted.
      const refreshed = await tokenRequest(set.publicUrl, { grant_type: 'refresh_token', refresh_token: p.tokens.refresh_token, client_id: p.client.clientId });
      expect(refreshed.status).toBe(200);
      const again = await rpc(refreshed.body.access_token as string, { jsonrpc: '2.0', id: 99, method: 'tools/call', params: { name: 'user__get_my_userinfo', arguments: {} } }, p.sid);
      expect(again.status).toBe(200);
      expect(again.text).toContain(p.login);
    }
    const survivors = set.replicas.filter((r) => r !== victim);
    expect(survivors.every((r) => r.proc.exitCode === null)).toBe(true);
  });
});
