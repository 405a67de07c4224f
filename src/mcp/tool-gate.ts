/**
 * @module mcp/tool-gate
 * Where the tool policy, the per-person rate limit and the tool-call audit meet the relay:
 * - `tools/list` answers are filtered to the tools the person may call (docs/policy.md);
 * - a refused `tools/call` is answered by the broker with a tool result `isError: true` and a
 *   sentence (MCP 2025-06-18 server/tools §error-handling: tool errors are results, so the model
 *   sees them), and never reaches the child;
 * - every `tools/call` and every refusal becomes one audit record ({@link ToolAudit});
 * - `/mcp` POSTs beyond a person's rate are refused with 429 before any session sees them.
 * The relay calls {@link ToolGate.call} for every request it forwards; others pass straight on.
 */
import { createHash } from 'node:crypto';
import { jsonByteLength } from '../lib/json-size.js';
import { decodeLiteral, rawExtraBytes, rawLiteralOf } from '../lib/raw-json.js';
import type { Principal } from '../lib/principal.js';
import { readBodyText } from '../lib/request-body.js';
import type { ToolAudit } from '../ops/tool-audit.js';
import type { Counter } from 'prom-client';
import { rateLimitRefusals, type Metrics } from '../ops/metrics.js';
import type { PersonPolicy, ToolFacts } from '../policy/policy.js';
import type { PolicyService } from '../policy/policy-service.js';
import type { ToolCallOutcome, ToolCallRecord } from '../store/tool-calls.js';
import type { ChildLink, Downstream } from './child-link.js';
import type { Person } from './person.js';
import { RPC, httpRpcError, type RpcMessage } from './protocol.js';
import { LegacySession } from './legacy-session.js';
import { Session } from './session.js';

/** Where a call comes from: a session (2025 revisions) or one 2026-07-28 request. */
type CallOrigin = Downstream & { readonly clientInfo?: unknown; readonly oauthClientId?: string | undefined };

/** MCP SDK `ErrorCode.RequestTimeout`: the child or an SDK in between gave up on the call. */
const REQUEST_TIMEOUT = -32001;
/** Least time between two `tools/list` the broker asks itself of one child (unknown tool seen), ms. */
const FACTS_REFRESH_MS = 10_000;

export interface ToolGateDeps {
  policy: PolicyService;
  audit: ToolAudit;
  /** Sustained requests per person per minute on `/mcp`, and the burst on top. */
  rate: { perMin: number; burst: number };
  /** Largest body read when auditing a refused POST, bytes. */
  maxBodyBytes: number;
  clock?: () => number;
  /**
   * The MCP server this gate stands in front of (`default` for `/mcp`): selects the server's
   * policy (rules' `servers`, docs/policy.md) and names it in every audit record. Default `default`.
   */
  server?: string;
  /** Counts each 429 in `fjmcp_rate_limit_refusals_total{endpoint}` (`/mcp`, or `/mcp/<server>`). */
  metrics?: Metrics;
}

/** People tracked by the rate limiter before full buckets are dropped. */
const MAX_BUCKETS = 10_000;

interface Facts {
  at: number;
  tools: Promise<Map<string, ToolFacts>>;
}

export class ToolGate {
  readonly #facts = new WeakMap<ChildLink, Facts>();
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #now: () => number;
  readonly #refusals: Counter<string> | undefined;

  constructor(private readonly deps: ToolGateDeps) {
    this.#now = deps.clock ?? Date.now;
    this.#refusals = deps.metrics ? rateLimitRefusals(deps.metrics) : undefined;
  }

  /** Runs after every successful policy reload (the relay sends `notifications/tools/list_changed`). */
  onPolicyChange(listener: () => void): void {
    this.deps.policy.onChange(listener);
  }

  /**
   * Relays one client request through `link`, applying the policy to `tools/list` and
   * `tools/call` and auditing every `tools/call`. Resolves as {@link ChildLink.call} does.
   */
  async call(person: Person, session: CallOrigin, link: ChildLink, msg: RpcMessage): Promise<RpcMessage | undefined> {
    if (msg.method === 'tools/list') return this.#list(person, session, link, msg);
    if (msg.method !== 'tools/call') return link.call(session, msg);
    const started = this.#now();
    const t0 = performance.now();
    const name = typeof msg.params?.name === 'string' ? msg.params.name : '';
    const args = msg.params?.arguments;
    // Digested before the call, so a large argument's canonical JSON is garbage before the answer
    // (often as large) arrives, not beside it.
    const argsSha256 = digestArguments(args, msg);
    const pp = await this.#personPolicy(person);
    let repository: string | undefined;
    if (pp.unrestricted) repository = pp.repositoryOf(name, args);
    else {
      const facts = await this.#toolFacts(link, name);
      const d = pp.check(name, facts, args);
      repository = d.repository;
      if (!d.allowed) {
        const res = refusal(msg, d.message);
        this.#record(person, session, { at: started, tool: name, argsSha256, repository, outcome: 'refused', reason: d.reason, durationMs: performance.now() - t0, res });
        return res;
      }
    }
    const res = await link.call(session, msg);
    this.#record(person, session, { at: started, tool: name, argsSha256, repository, outcome: outcomeOf(res), reason: undefined, durationMs: performance.now() - t0, res });
    return res;
  }

  /**
   * Counts one `/mcp` POST of `principal` against their token bucket (capacity `burst`,
   * refilled at `perMin` per minute). Over it: the 429 to send, with `Retry-After` in seconds,
   * after auditing each `tools/call` in the body as `rate_limited`.
   */
  async admit(req: Request, principal: Principal): Promise<Response | undefined> {
    const { perMin, burst } = this.deps.rate;
    const now = this.#now();
    let b = this.#buckets.get(principal.personId);
    if (!b && this.#buckets.size >= MAX_BUCKETS) this.sweep();
    if (!b) this.#buckets.set(principal.personId, (b = { tokens: burst, at: now }));
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) * perMin) / 60_000);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return undefined;
    }
    const retryAfterS = Math.max(1, Math.ceil(((1 - b.tokens) * 60_000) / perMin / 1000));
    const server = this.deps.server ?? 'default';
    this.#refusals?.inc({ endpoint: server === 'default' ? '/mcp' : `/mcp/${server}` });
    await this.#auditRateLimited(req, principal, now);
    return httpRpcError(429, RPC.SERVER_UNAVAILABLE, `rate limit: at most ${perMin} MCP requests a minute per person (burst ${burst}); retry in ${retryAfterS} s`, { 'retry-after': String(retryAfterS) });
  }

  /** Drops buckets that are full again (nothing to remember). */
  sweep(): void {
    const now = this.#now();
    const { perMin, burst } = this.deps.rate;
    for (const [k, b] of this.#buckets) if (b.tokens + ((now - b.at) * perMin) / 60_000 >= burst) this.#buckets.delete(k);
  }

  async #auditRateLimited(req: Request, principal: Principal, at: number): Promise<void> {
    let msgs: unknown[] = [];
    try {
      const body = await readBodyText(req, this.deps.maxBodyBytes);
      if (!body.tooLarge) {
        const parsed: unknown = JSON.parse(body.text);
        msgs = Array.isArray(parsed) ? parsed : [parsed];
      }
    } catch {
      /* not JSON: nothing to attribute */
    }
    for (const m of msgs as RpcMessage[]) {
      if (!m || typeof m !== 'object' || m.method !== 'tools/call') continue;
      const name = typeof m.params?.name === 'string' ? m.params.name : '';
      this.deps.audit.record({
        at, personId: principal.personId, login: principal.login, clientId: principal.clientId, clientName: null,
        sessionId: req.headers.get('mcp-session-id') ?? new URL(req.url).searchParams.get('sessionId'), tool: name, repository: null, argsSha256: digestArguments(m.params?.arguments),
        outcome: 'rate_limited', reason: 'rate-limit', durationMs: 0, resultBytes: 0, server: principal.server ?? 'default',
      });
    }
  }

  async #list(person: Person, session: CallOrigin, link: ChildLink, msg: RpcMessage): Promise<RpcMessage | undefined> {
    const res = await link.call(session, msg);
    const tools = (res?.result as { tools?: unknown } | undefined)?.tools;
    if (!Array.isArray(tools)) return res;
    const pp = await this.#personPolicy(person);
    if (pp.unrestricted) return res;
    const visible = tools.filter((t: { name?: unknown; annotations?: ToolFacts }) => typeof t?.name === 'string' && pp.visible(t.name, t.annotations ?? {}));
    return { ...res!, result: { ...(res!.result as object), tools: visible } };
  }

  #personPolicy(person: Person): PersonPolicy | Promise<PersonPolicy> {
    return this.deps.policy.forPerson({ personId: person.personId, login: person.login, forgeAccessToken: person.token }, this.deps.server);
  }

  /**
   * What the child says about `name` (its annotations), from a `tools/list` the broker asks
   * itself once per child (all pages); asked again when an unknown tool is called.
   */
  async #toolFacts(link: ChildLink, name: string): Promise<ToolFacts> {
    let f = this.#facts.get(link);
    if (!f || (!(await f.tools).has(name) && this.#now() - f.at > FACTS_REFRESH_MS)) {
      f = { at: this.#now(), tools: listAll(link) };
      this.#facts.set(link, f);
    }
    return (await f.tools).get(name) ?? {};
  }

  #record(person: Person, session: CallOrigin, c: { at: number; tool: string; argsSha256: string; repository: string | undefined; outcome: ToolCallOutcome; reason: string | undefined; durationMs: number; res: RpcMessage | undefined }): void {
    const info = session.clientInfo as { name?: unknown } | undefined;
    const r: ToolCallRecord = {
      at: c.at,
      personId: person.personId,
      login: person.login,
      clientId: session.oauthClientId ?? null,
      clientName: typeof info?.name === 'string' ? info.name.slice(0, 200) : null,
      sessionId: session instanceof Session || session instanceof LegacySession ? session.id : null,
      tool: c.tool,
      repository: c.repository ?? null,
      argsSha256: c.argsSha256,
      outcome: c.outcome,
      reason: c.reason ?? null,
      durationMs: Math.round(c.durationMs * 1000) / 1000,
      // Large literals kept as bytes count at their real size (lib/raw-json: all sit in the result).
      resultBytes: c.res ? jsonByteLength(c.res.result ?? c.res.error ?? null) + rawExtraBytes(c.res) : 0,
      server: this.deps.server ?? 'default',
    };
    this.deps.audit.record(r);
  }
}

async function listAll(link: ChildLink): Promise<Map<string, ToolFacts>> {
  const out = new Map<string, ToolFacts>();
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const res = await link.request('tools/list', cursor ? { cursor } : {});
    const result = res.result as { tools?: { name?: unknown; annotations?: ToolFacts }[]; nextCursor?: unknown } | undefined;
    for (const t of result?.tools ?? []) if (typeof t.name === 'string') out.set(t.name, { readOnlyHint: t.annotations?.readOnlyHint === true });
    cursor = typeof result?.nextCursor === 'string' ? result.nextCursor : undefined;
    if (!cursor) break;
  }
  return out;
}

function refusal(msg: RpcMessage, sentence: string): RpcMessage {
  return { jsonrpc: '2.0', id: msg.id!, result: { content: [{ type: 'text', text: `Refused by the broker: ${sentence}.` }], isError: true } };
}

function outcomeOf(res: RpcMessage | undefined): ToolCallOutcome {
  if (!res) return 'cancelled';
  if (res.error) return res.error.code === REQUEST_TIMEOUT ? 'timed_out' : 'rpc_error';
  return (res.result as { isError?: unknown } | undefined)?.isError === true ? 'tool_error' : 'ok';
}

/**
 * Hex SHA-256 of the arguments as canonical JSON: object keys sorted by UTF-16 code units
 * (RFC 8785 §3.2.3 order), no whitespace; absent arguments digest as `{}`. The JSON is fed to the
 * hash in pieces (up to {@link DIGEST_CHUNK} characters at a time), never built whole: a 10 MiB
 * argument costs its own `JSON.stringify`, not a second copy of the document.
 */
export function digestArguments(args: unknown, msg?: RpcMessage): string {
  const hash = createHash('sha256');
  let pending = '';
  const flush = () => {
    if (pending) hash.update(pending);
    pending = '';
  };
  const put = (s: string | readonly Buffer[]) => {
    if (typeof s !== 'string') {
      flush();
      for (const b of s) hash.update(b);
      return;
    }
    if (pending.length + s.length <= DIGEST_CHUNK) {
      pending += s;
      return;
    }
    flush();
    if (s.length > DIGEST_CHUNK) hash.update(s);
    else pending = s;
  };
  canonicalJson(args ?? {}, put, msg);
  flush();
  return hash.digest('hex');
}

/** Characters of canonical JSON collected before they go to the hash. */
const DIGEST_CHUNK = 64 * 1024;

function canonicalJson(v: unknown, put: (s: string | readonly Buffer[]) => void, msg: RpcMessage | undefined): void {
  if (typeof v === 'string' && msg) {
    // A large string kept as the client's bytes (lib/raw-json): hashed as those bytes when they
    // are its canonical JSON, else decoded once.
    const raw = rawLiteralOf(msg, v);
    if (raw) return put(raw.canonical ? raw.bytes : JSON.stringify(decodeLiteral(raw.bytes)));
  }
  if (v === null || typeof v !== 'object') return put(JSON.stringify(v) ?? 'null');
  if (Array.isArray(v)) {
    put('[');
    v.forEach((x, i) => {
      if (i > 0) put(',');
      canonicalJson(x, put, msg);
    });
    return put(']');
  }
  put('{');
  let first = true;
  for (const k of Object.keys(v).sort()) {
    const x = (v as Record<string, unknown>)[k];
    if (x === undefined) continue;
    if (!first) put(',');
    first = false;
    put(JSON.stringify(k));
    put(':');
    canonicalJson(x, put, msg);
  }
  put('}');
}
