/**
 * @module cli/admin
 * `fjmcp-broker admin …`: the operator's view of and control over the store of a running broker,
 * from the same settings (environment or env file) as `serve`. Lists are printed as aligned text,
 * or as JSON lines with `--json` (`audit` always prints JSON lines).
 *
 * How a change reaches the running broker: `revoke` and `block` write the store in one
 * transaction that also queues an event (store/control.ts). The broker's bearer check reads the
 * store at every request, so the revoked or blocked tokens are refused from the next request on;
 * and every running broker reads the queue each second (ops/control.ts) and closes the affected
 * open MCP sessions and streams, stopping a person's child when no grant of theirs remains.
 * Nothing is signalled and nothing needs a restart.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config, type Env } from '../config.js';
import { openConfiguredStore } from '../context.js';
import { SealError, Sealer } from '../lib/crypto.js';
import { LIVE_STATE, SESSION_ID_KEY_STATE, type LiveSnapshot } from '../ops/control.js';
import { silentLogger } from '../ops/log.js';
import type { GrantView } from '../store/control.js';
import type { Store } from '../store/store.js';
import type { ToolCallOutcome } from '../store/tool-calls.js';
import { createForgeClient } from '../upstream/forge-client.js';
import type { ForgeClient } from '../upstream/types.js';

export interface AdminIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export const ADMIN_USAGE = `Usage: fjmcp-broker admin COMMAND [options]   (settings from the environment, as for serve)

  people                       people with grants or forge tokens: login, clients, last activity, child running
  clients                      OAuth clients: name, verified, redirect hosts, grants, people, last used
  grants [--person LOGIN]      grants (connections), with client, created, last used, revoked
  sessions                     open MCP sessions of the running broker (its snapshot, at most 5 s old)
  revoke --grant ID | --client CLIENT_ID | --person LOGIN
                               revokes the grant(s) and their tokens; open sessions close within seconds
  block --person LOGIN [--reason TEXT]
                               the person cannot sign in or use any token from the next request on;
                               their open sessions close and their child stops within seconds
  unblock --person LOGIN
  audit [--person LOGIN] [--tool NAME] [--repo OWNER/NAME] [--outcome OUTCOME] [--server NAME] [--since ISO] [--until ISO]
                               tool calls (tool_calls) and grant/block records, as JSON lines
  check                        configuration, store, forge reachable, forge client credentials
                               (a harmless token request), and that the keys open every stored token
  rotate-keys                  re-seals every forge token and the session-id key with the first key of
                               FJMCP_ENCRYPTION_KEYS, so that older keys can be removed afterwards
  backup FILE                  online, consistent copy of the SQLite store into FILE (a new file)

Options: --json   JSON lines instead of text (lists)
Exit codes: 0 done, 1 failed (check: a problem found), 2 bad usage or configuration.
`;

const USAGE = 2;
const FAILED = 1;

/** Runs one admin command. Never throws; returns the exit code. */
export async function runAdmin(argv: string[], env: Env, io: AdminIo, opts: { forge?: ForgeClient } = {}): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h') {
    io.stdout.write(ADMIN_USAGE);
    return cmd ? 0 : USAGE;
  }
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(rest);
  } catch (err) {
    io.stderr.write(`fjmcp-broker admin: ${(err as Error).message}\n${ADMIN_USAGE}`);
    return USAGE;
  }
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr.write(`fjmcp-broker admin: ${err.message}\n`);
      return USAGE;
    }
    throw err;
  }
  let store: Store | undefined;
  try {
    store = await openConfiguredStore(config);
    const ctx: Cmd = { config, store, io, values: parsed.values, positionals: parsed.positionals, forge: opts.forge };
    const command = COMMANDS[cmd];
    if (!command) {
      io.stderr.write(`fjmcp-broker admin: unknown command ${JSON.stringify(cmd)}\n${ADMIN_USAGE}`);
      return USAGE;
    }
    return await command(ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`fjmcp-broker admin ${cmd}: ${err.message}\n`);
      return USAGE;
    }
    io.stderr.write(`fjmcp-broker admin ${cmd}: ${(err as Error).message}\n`);
    return FAILED;
  } finally {
    await store?.close().catch(() => {});
  }
}

class UsageError extends Error {}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean' },
      person: { type: 'string' },
      grant: { type: 'string' },
      client: { type: 'string' },
      reason: { type: 'string' },
      tool: { type: 'string' },
      repo: { type: 'string' },
      outcome: { type: 'string' },
      server: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
    },
  });
}

interface Cmd {
  config: Config;
  store: Store;
  io: AdminIo;
  values: ReturnType<typeof parse>['values'];
  positionals: string[];
  forge: ForgeClient | undefined;
}

const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z') : '');

/** Client name, verified (a CIMD document fetched from the client_id URL) and redirect hosts. */
export function describeClient(clientId: string, source: string, metadata: string): { name: string; verified: boolean; redirectHosts: string } {
  let m: { client_name?: string; redirect_uris?: string[] } = {};
  try {
    m = JSON.parse(metadata) as typeof m;
  } catch {
    /* shown without a name */
  }
  const hosts = [...new Set((m.redirect_uris ?? []).map((u) => { try { return new URL(u).host; } catch { return '?'; } }))];
  return { name: m.client_name ?? clientId, verified: source === 'cimd', redirectHosts: hosts.join(' ') };
}

/** Prints rows as aligned columns, or JSON lines with --json. */
function print(c: Cmd, rows: Record<string, unknown>[]): void {
  if (c.values.json) {
    for (const r of rows) c.io.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  if (rows.length === 0) {
    c.io.stdout.write('(none)\n');
    return;
  }
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  const width = cols.map((k) => Math.max(k.length, ...rows.map((r) => cell(r[k]).length)));
  const line = (vals: string[]) => `${vals.map((v, i) => v.padEnd(width[i]!)).join('  ').trimEnd()}\n`;
  c.io.stdout.write(line(cols));
  for (const r of rows) c.io.stdout.write(line(cols.map((k) => cell(r[k]))));
}

async function live(c: Cmd): Promise<LiveSnapshot | undefined> {
  const raw = await c.store.control.getState(LIVE_STATE);
  return raw ? (JSON.parse(raw) as LiveSnapshot) : undefined;
}

async function personByLogin(c: Cmd, login: string | undefined): Promise<{ personId: string; login: string }> {
  if (!login) throw new UsageError('--person LOGIN is required');
  const p = await c.store.control.findPerson(login);
  if (!p) throw new UsageError(`no person with the forge login ${JSON.stringify(login)} in the store`);
  return p;
}

const grantRow = (g: GrantView) => {
  const d = describeClient(g.clientId, g.clientSource, g.clientMetadata);
  return { grant: g.id, login: g.login, client: d.name, verified: d.verified ? 'yes' : 'no', created: iso(g.createdAt), lastUsed: iso(g.lastUsedAt), revoked: g.revokedAt ? `${iso(g.revokedAt)} (${g.revokedReason ?? ''})` : '' };
};

const COMMANDS: Record<string, (c: Cmd) => Promise<number>> = {
  async people(c) {
    const snap = await live(c);
    const blocked = new Set((await c.store.control.blocks()).flatMap((b) => [b.login, b.personId ?? '']));
    const rows = (await c.store.control.people()).map((p) => ({
      login: p.login,
      personId: p.personId,
      clients: p.clients,
      grants: p.activeGrants,
      lastActivity: iso(p.lastActivityAt),
      child: snap?.children.includes(p.personId) ? 'running' : '',
      forgeSignedIn: p.forgeSignedIn ? 'yes' : 'no',
      blocked: blocked.has(p.personId) || blocked.has(p.login.toLowerCase()) ? 'yes' : '',
    }));
    print(c, rows);
    return 0;
  },

  async clients(c) {
    const rows = (await c.store.control.clients()).map((k) => {
      const d = describeClient(k.clientId, k.source, k.metadata);
      return { clientId: k.clientId, name: d.name, verified: d.verified ? 'yes' : 'no', redirectHosts: d.redirectHosts, grants: k.activeGrants, people: k.people, created: iso(k.createdAt), lastUsed: iso(k.lastUsedAt) };
    });
    print(c, rows);
    return 0;
  },

  async grants(c) {
    const person = c.values.person ? await personByLogin(c, c.values.person) : undefined;
    print(c, (await c.store.control.grants(person ? { personId: person.personId } : {})).map(grantRow));
    return 0;
  },

  async sessions(c) {
    const snap = await live(c);
    if (!snap) {
      c.io.stderr.write('no running broker has written a snapshot to this store yet\n');
      print(c, []);
      return 0;
    }
    const grants = new Map((await c.store.control.grants()).map((g) => [g.id, g]));
    print(c, snap.sessions.map((s) => {
      const g = grants.get(s.grantId);
      return { session: `${s.id.slice(0, 8)}…`, login: s.login, client: g ? describeClient(g.clientId, g.clientSource, g.clientMetadata).name : s.clientId, grant: s.grantId, opened: iso(s.openedAt), lastActivity: iso(s.lastActivity), streams: s.openStreams };
    }));
    c.io.stderr.write(`snapshot of broker pid ${snap.pid} at ${iso(snap.at)}\n`);
    return 0;
  },

  async revoke(c) {
    const { grant, client, person } = c.values;
    if ([grant, client, person].filter(Boolean).length !== 1) throw new UsageError('give exactly one of --grant ID, --client CLIENT_ID, --person LOGIN');
    const now = Date.now();
    let ids: string[];
    if (grant) ids = await c.store.control.revokeGrants([grant], 'revoked by the operator', now);
    else if (client) {
      if (!(await c.store.clients.get(client))) throw new UsageError(`no client ${JSON.stringify(client)} in the store`);
      ids = await c.store.control.revokeClient(client, 'client revoked by the operator', now);
    } else ids = await c.store.control.revokePerson((await personByLogin(c, person)).personId, 'person revoked by the operator', now);
    c.io.stdout.write(`revoked ${ids.length} grant(s)${ids.length ? `: ${ids.join(' ')}` : ' (none was active)'}; open sessions close within seconds\n`);
    return 0;
  },

  async block(c) {
    const login = c.values.person;
    if (!login) throw new UsageError('--person LOGIN is required');
    const known = await c.store.control.findPerson(login);
    await c.store.control.block(login, known?.personId ?? null, c.values.reason ?? null, Date.now());
    c.io.stdout.write(`blocked ${login}${known ? '' : ' (not seen yet: refused at sign-in)'}; open sessions close and the child stops within seconds\n`);
    return 0;
  },

  async unblock(c) {
    const login = c.values.person;
    if (!login) throw new UsageError('--person LOGIN is required');
    const was = await c.store.control.unblock(login);
    c.io.stdout.write(was ? `unblocked ${login}\n` : `${login} was not blocked\n`);
    return 0;
  },

  async audit(c) {
    const since = c.values.since ? Date.parse(c.values.since) : -Infinity;
    const until = c.values.until ? Date.parse(c.values.until) : Infinity;
    if (Number.isNaN(since) || Number.isNaN(until)) throw new UsageError('--since and --until take ISO 8601 times, e.g. 2026-12-01T10:00:00Z');
    const person = c.values.person ? await personByLogin(c, c.values.person) : undefined;
    const records: { at: number; event: string; [k: string]: unknown }[] = [];
    const toolFilter = Boolean(c.values.tool || c.values.repo || c.values.outcome || c.values.server);
    // Tool calls come from the tool-call audit (`tool_calls`); --repo is matched here, the rest in SQL.
    const calls = await c.store.toolCalls.query({
      ...(Number.isFinite(since) ? { since } : {}),
      ...(Number.isFinite(until) ? { until: until + 1 } : {}),
      ...(person ? { person: person.personId } : {}),
      ...(c.values.tool ? { tool: c.values.tool } : {}),
      ...(c.values.outcome ? { outcome: c.values.outcome as ToolCallOutcome } : {}),
      ...(c.values.server ? { server: c.values.server } : {}),
      limit: 100_000,
    });
    for (const t of calls) {
      if (c.values.repo && t.repository?.toLowerCase() !== c.values.repo.toLowerCase()) continue;
      // Every call names its server (`default` = /mcp, as in the log's tool.call lines).
      records.push({ ...t, server: t.server ?? 'default', event: 'tool.call' });
    }
    if (!toolFilter) {
      for (const g of await c.store.control.grants(person ? { personId: person.personId } : {})) {
        const client = describeClient(g.clientId, g.clientSource, g.clientMetadata).name;
        records.push({ at: g.createdAt, event: 'grant.created', login: g.login, personId: g.personId, grantId: g.id, clientId: g.clientId, client });
        if (g.revokedAt) records.push({ at: g.revokedAt, event: 'grant.revoked', login: g.login, personId: g.personId, grantId: g.id, clientId: g.clientId, client, reason: g.revokedReason });
      }
      for (const b of await c.store.control.blocks()) {
        if (!person || b.personId === person.personId || b.login === person.login.toLowerCase()) records.push({ at: b.blockedAt, event: 'person.blocked', login: b.login, personId: b.personId, reason: b.reason });
      }
    }
    for (const r of records.filter((r) => r.at >= since && r.at <= until).sort((a, b) => a.at - b.at)) {
      c.io.stdout.write(`${JSON.stringify({ ...r, at: new Date(r.at).toISOString() })}\n`);
    }
    return 0;
  },

  async check(c) {
    let ok = true;
    const say = (good: boolean, what: string) => {
      ok &&= good;
      c.io.stdout.write(`${good ? 'ok  ' : 'FAIL'}  ${what}\n`);
    };
    say(true, 'configuration is valid');
    await c.store.ping();
    say(true, `store answers (${c.store.engine})`);
    const forge = c.forge ?? createForgeClient({ config: c.config, log: silentLogger });
    const h = await forge.health();
    say(h.ok, `forge reachable at ${c.config.forge.url.origin}${h.ok ? '' : `: ${h.detail ?? ''}`}`);
    if (h.ok) {
      try {
        const cred = await forge.verifyCredentials();
        say(cred.ok, cred.ok ? 'forge client credentials accepted (FJMCP_FORGE_CLIENT_ID / FJMCP_FORGE_CLIENT_SECRET)' : `forge client credentials: ${cred.detail ?? 'refused'}`);
      } catch (err) {
        say(false, `forge client credentials could not be checked: ${(err as Error).message}`);
      }
    }
    const sealer = new Sealer(c.config.encryptionKeys);
    let opened = 0;
    let stale = 0;
    const failed: string[] = [];
    for (const row of await c.store.control.forgeTokenRows()) {
      try {
        sealer.open(row.sealed, row.personId);
        opened++;
        if (sealer.isStale(row.sealed)) stale++;
      } catch (err) {
        if (!(err instanceof SealError)) throw err;
        failed.push(row.login);
      }
    }
    say(failed.length === 0, failed.length
      ? `encryption keys open ${opened} of ${opened + failed.length} stored forge tokens; not: ${failed.join(', ')} (was a key removed from FJMCP_ENCRYPTION_KEYS?)`
      : `encryption keys open all ${opened} stored forge tokens${stale ? ` (${stale} sealed with an older key: run rotate-keys before removing it)` : ''}`);
    const box = await c.store.control.getState(SESSION_ID_KEY_STATE);
    if (box) {
      let good = true;
      try {
        sealer.open(box, SESSION_ID_KEY_STATE);
      } catch {
        good = false;
      }
      say(good, good ? 'encryption keys open the MCP session-id key' : 'no encryption key opens the MCP session-id key (open sessions would have to initialize again)');
    }
    return ok ? 0 : FAILED;
  },

  async 'rotate-keys'(c) {
    const sealer = new Sealer(c.config.encryptionKeys);
    let resealed = 0;
    let current = 0;
    const failed: string[] = [];
    for (const row of await c.store.control.forgeTokenRows()) {
      let plain: string;
      try {
        plain = sealer.open(row.sealed, row.personId);
      } catch (err) {
        if (!(err instanceof SealError)) throw err;
        failed.push(row.login);
        continue;
      }
      if (!sealer.isStale(row.sealed)) {
        current++;
        continue;
      }
      // Compare-and-set on the row version: a refresh that wrote meanwhile sealed with the first key already.
      if (await c.store.forgeTokens.resealIfVersion(row.personId, row.version, sealer.seal(plain, row.personId))) resealed++;
      else current++;
    }
    const box = await c.store.control.getState(SESSION_ID_KEY_STATE);
    let sessionKey = 'not stored yet';
    if (box) {
      try {
        const key = sealer.open(box, SESSION_ID_KEY_STATE);
        if (sealer.isStale(box)) {
          await c.store.control.putState(SESSION_ID_KEY_STATE, sealer.seal(key, SESSION_ID_KEY_STATE), Date.now());
          sessionKey = 're-sealed';
        } else sessionKey = 'already sealed with the first key';
      } catch {
        sessionKey = 'opens with no configured key';
        failed.push('(MCP session-id key)');
      }
    }
    c.io.stdout.write(`forge tokens: ${resealed} re-sealed with the first key, ${current} already were; MCP session-id key: ${sessionKey}\n`);
    if (failed.length) {
      c.io.stderr.write(`not re-sealed, no configured key opens them: ${failed.join(', ')}; keep the key that sealed them\n`);
      return FAILED;
    }
    c.io.stdout.write('every sealed value opens with the first key: older keys can be removed from FJMCP_ENCRYPTION_KEYS (then restart the broker)\n');
    return 0;
  },

  async backup(c) {
    const file = c.positionals[0];
    if (!file) throw new UsageError('backup FILE: the file to write is required');
    const path = resolve(file);
    if (existsSync(path)) throw new UsageError(`${path} exists; give a new file`);
    await c.store.backup(path);
    c.io.stdout.write(`store copied to ${path} (online, consistent)\n`);
    return 0;
  },
};
