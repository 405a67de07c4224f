/**
 * @module bench/real-path.bench
 * `npm run bench` (second part; alone: `npm run bench:real-path`): a tool call on the path a
 * user's request really takes. The broker runs as a user runs it — `fjmcp-broker serve` in its own
 * process (the built entry dist/src/main.js when BENCH_BROKER_ENTRY=dist, else src/main.ts under
 * `node --import tsx`), SQLite store in a temporary data directory — and every call carries a real
 * access token issued by the broker's own token endpoint (authorization_code grant with PKCE). The
 * forge sign-in is seeded directly in the store (sealed forge tokens, the grant and its
 * authorization code), since no forge runs here; the output says so.
 *
 * The child is server-everything (`echo`). Interleaved call by call in the same run:
 * - direct stdio: JSON-RPC straight to a server-everything child of the bench process;
 * - HTTP floor: the same fetch client against a Node `http` server (own process) that answers at once
 *   (no child behind it, so what it adds is its whole round trip);
 * - broker 2025-11-25: a session (`Mcp-Session-Id`), SSE reply;
 * - broker 2026-07-28: one stateless request per call (`_meta` envelope, `Mcp-Method`/`Mcp-Name`);
 * - supergateway (devDependency, stateful Streamable HTTP) in front of the same child build.
 * First, on the fresh broker, a large result (a 10 MiB `echo` result: peak RSS increase of the
 * broker process, VmHWM after resetting it through /proc/<pid>/clear_refs, as a multiple of the
 * payload). Then: relay CPU per call (the broker process's utime+stime from /proc/<pid>/stat over a fixed
 * number of calls per path, and of the HTTP floor's process for scale), a saturation run (N people × M callers; for the broker N persons with
 * N tokens and N children, each caller its own session; for supergateway the same N×M callers on its
 * single session and child). A tail run: BENCH_TAIL_CALLERS (4) callers of one person (one child) against as many
 * people with one caller each and as many concurrent callers straight on one stdio child, p99 each.
 * Every figure that compares is a ratio of medians measured in the same run (the machine is shared).
 * Settings: BENCH_CALLS (2000), BENCH_CPU_CALLS (2000), BENCH_PEOPLE (20), BENCH_CALLERS (4),
 * BENCH_SAT_SECONDS (5), BENCH_SAT_ROUNDS (3), BENCH_LARGE_MIB (10), BENCH_LARGE_ONLY (1: only the
 * large result, which always runs first on a fresh broker), BENCH_CHILD_SANDBOX (off; the
 * broker's FJMCP_CHILD_SANDBOX), BENCH_BROKER_ENTRY (tsx|dist), BENCH_CPU_PROF (a directory: the
 * broker runs under `node --cpu-prof` and writes its profile there on exit), BENCH_CALL_TIMEOUT_MS
 * (30000: a call, handshake or start-up step that takes longer fails the bench, naming the path).
 * Progress goes to stderr, one line per phase (and every 500 calls), so a slow run can be told from
 * a hang. Last line on stdout: `real-path: key=value …` (ms, calls/s, ratios).
 */
import { spawn, type ChildProcess as NodeChild } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Env } from '../src/config.js';
import { pkceS256, sha256 } from '../src/lib/crypto.js';
import { createAudit } from '../src/ops/audit.js';
import { silentLogger } from '../src/ops/log.js';
import { newAuthorizationCode, newId } from '../src/oauth/tokens.js';
import { DB_FILE } from '../src/store/db.js';
import { openSqliteStore } from '../src/store/store.js';
import { createForgeTokens } from '../src/upstream/forge-tokens.js';
import type { ForgeClient } from '../src/upstream/types.js';
import { EVERYTHING, directChild, echo } from './direct-child.js';

const num = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const N = num('BENCH_CALLS', 2000);
const WARMUP = 200;
const CPU_CALLS = num('BENCH_CPU_CALLS', 2000);
const PEOPLE = num('BENCH_PEOPLE', 20);
const CALLERS = num('BENCH_CALLERS', 4);
const SAT_SECONDS = num('BENCH_SAT_SECONDS', 5);
const SAT_ROUNDS = num('BENCH_SAT_ROUNDS', 3);
const LARGE_BYTES = num('BENCH_LARGE_MIB', 10) * 1024 * 1024;
const TAIL_CALLERS = num('BENCH_TAIL_CALLERS', 4);
const LARGE_ONLY = process.env.BENCH_LARGE_ONLY === '1';
const SANDBOX = process.env.BENCH_CHILD_SANDBOX ?? 'off';
const ENTRY = process.env.BENCH_BROKER_ENTRY ?? 'tsx';
const CPU_PROF = process.env.BENCH_CPU_PROF;
const CALL_TIMEOUT_MS = num('BENCH_CALL_TIMEOUT_MS', 30_000);

const t0 = performance.now();
/** One progress line on stderr: seconds since start, the load average, what the bench does now. */
const progress = (what: string) => process.stderr.write(`[real-path ${((performance.now() - t0) / 1000).toFixed(1)} s, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}] ${what}\n`);

/**
 * `p`, or a loud failure after {@link CALL_TIMEOUT_MS}: a call that never settles must end the
 * run with its name, not hang it. Requests also carry the timeout as their abort signal.
 */
let timeoutMs = CALL_TIMEOUT_MS;
function deadline<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const ms = timeoutMs;
  const late = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`${what}: no answer within ${ms} ms (BENCH_CALL_TIMEOUT_MS${ms === CALL_TIMEOUT_MS ? '' : ' x 10 for the large result'})`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
/** A POST of `body` as JSON under the per-call deadline (the caller reads the body under its own). */
const post = (url: string, headers: Record<string, string>, body: unknown, what: string) =>
  deadline(fetch(url, { method: 'POST', headers, body: JSON.stringify(body) }), what);

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SUPERGATEWAY = join(ROOT, 'node_modules/supergateway/dist/index.js');
const SG_VERSION = (JSON.parse(readFileSync(join(ROOT, 'node_modules/supergateway/package.json'), 'utf8')) as { version: string }).version;
const V2025 = '2025-11-25';
const V2026 = '2026-07-28';
const CLK_TCK = 100; // USER_HZ on Linux (sysconf(_SC_CLK_TCK)); utime/stime in /proc/<pid>/stat count these

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const median = (xs: number[]) => pct(xs, 50);
const f = (x: number, d = 3) => x.toFixed(d);
const echoParams = (message: string) => ({ name: 'echo', arguments: { message } });
const INIT = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: V2025, capabilities: {}, clientInfo: { name: 'real-path-bench', version: '1' } } };
const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': V2026,
  'io.modelcontextprotocol/clientInfo': { name: 'real-path-bench', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

/** Polls `url` until it answers (any status). */
async function untilUp(url: string, proc: NodeChild, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode}`);
    try {
      await (await fetch(url, { signal: AbortSignal.timeout(2000) })).arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${what} did not answer at ${url}`);
}

/** Every process the bench started, stopped on failure too (else the bench would hang on them). */
const started = new Set<NodeChild>();
const track = (p: NodeChild) => (started.add(p), p);
process.on('exit', () => { for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM'); });

const stopProc = (p: NodeChild, signal: NodeJS.Signals = 'SIGTERM') =>
  new Promise<void>((res) => {
    if (p.exitCode !== null || p.signalCode !== null) return res();
    p.once('exit', () => res());
    p.kill(signal);
  });

/** utime + stime of a process, seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // fields 14 and 15
}
const statusKb = (pid: number, key: 'VmRSS' | 'VmHWM') => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

/** Reads the JSON-RPC messages of a JSON or SSE body; throws unless one is the result for `id`. */
async function expectResult(res: Response, id: number, what: string): Promise<string> {
  const text = await deadline(res.text(), `${what}: reading the ${res.headers.get('content-type') ?? 'untyped'} body`);
  if (res.status >= 300) throw new Error(`${what}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  if (!text.includes(`"id":${id}`) || !text.includes('"result"')) throw new Error(`${what}: no result for id ${id}: ${text.slice(0, 300)}`);
  return text;
}

/** Reads and drops the body; throws unless the status is `status`. */
async function expectStatus(res: Response, status: number, what: string): Promise<void> {
  const text = await deadline(res.text(), `${what}: body`);
  if (res.status !== status) throw new Error(`${what}: HTTP ${res.status} (expected ${status}): ${text.slice(0, 300)}`);
}

/** The HTTP floor: a Node `http` server in its own process that answers at once. */
async function floorServer() {
  const port = await freePort();
  const src = `const b=JSON.stringify({jsonrpc:'2.0',id:1,result:{content:[{type:'text',text:'Echo: bench'}]}});
require('node:http').createServer((q,s)=>{q.resume();q.on('end',()=>{s.writeHead(200,{'content-type':'application/json'});s.end(b);});}).listen(${port},'127.0.0.1');`;
  const proc = track(spawn(process.execPath, ['-e', src], { stdio: 'ignore' }));
  const url = `http://127.0.0.1:${port}/`;
  await untilUp(url, proc, 'HTTP floor');
  return {
    pid: proc.pid!,
    call: async (i: number) => void (await deadline((await post(url, { 'content-type': 'application/json' }, echo(i), `HTTP floor call ${i}`)).text(), `HTTP floor call ${i}: body`)),
    close: () => stopProc(proc),
  };
}

/** Supergateway (stateful Streamable HTTP) in front of a server-everything child; one session. */
async function supergateway() {
  const port = await freePort();
  const proc = track(spawn(process.execPath, [SUPERGATEWAY, '--stdio', `${process.execPath} ${EVERYTHING} stdio`, '--outputTransport', 'streamableHttp', '--stateful', '--port', String(port), '--logLevel', 'none'], { stdio: 'ignore' }));
  const url = `http://127.0.0.1:${port}/mcp`;
  await untilUp(url, proc, 'supergateway');
  const base = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
  const init = await post(url, base, INIT, 'supergateway initialize');
  await expectResult(init, 0, 'supergateway initialize');
  const headers = { ...base, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': V2025 };
  await expectStatus(await post(url, headers, { jsonrpc: '2.0', method: 'notifications/initialized' }, 'supergateway initialized'), 202, 'supergateway initialized');
  const call = async (i: number, message?: string) => void (await expectResult(await post(url, headers, echo(i, message), `supergateway call ${i}`), i, `supergateway call ${i}`));
  await call(1);
  return { pid: proc.pid!, call, close: () => stopProc(proc) };
}

/** A forge client for the bench's own seeding process; the broker never sees it. */
const noForge: ForgeClient = {
  authorizationUrl: () => { throw new Error('bench: no forge'); },
  exchangeCode: async () => { throw new Error('bench: no forge'); },
  refresh: async () => { throw new Error('bench: no forge'); },
  identify: async () => { throw new Error('bench: no forge'); },
  isAllowed: async () => true,
  health: async () => ({ ok: true }),
  memberships: async () => ({ orgs: [], teams: [] }),
  credentials: () => ({ ok: true }),
  verifyCredentials: async () => ({ ok: true }),
};

/** `fjmcp-broker serve` in its own process, and `people` persons with real access tokens. */
async function broker(people: number) {
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'fjmcp-bench-'));
  const env: Env = {
    FJMCP_PUBLIC_URL: publicUrl, FJMCP_LISTEN_HOST: '127.0.0.1', FJMCP_LISTEN_PORT: String(port), FJMCP_OPS_LISTEN: '127.0.0.1:0', FJMCP_DATA_DIR: dataDir,
    FJMCP_FORGE_URL: 'http://127.0.0.1:9', FJMCP_FORGE_CLIENT_ID: 'bench', FJMCP_FORGE_CLIENT_SECRET: 'bench',
    FJMCP_ENCRYPTION_KEYS: randomBytes(32).toString('base64'), FJMCP_LOG_LEVEL: 'warn',
    FJMCP_CHILD_PRESET: 'custom', FJMCP_CHILD_COMMAND: process.execPath, FJMCP_CHILD_ARGS: JSON.stringify([EVERYTHING, 'stdio']),
    FJMCP_CHILD_TOKEN_ENV: 'FORGE_TOKEN', FJMCP_CHILD_SANDBOX: SANDBOX, FJMCP_CHILD_SANDBOX_PATHS: join(ROOT, 'node_modules'),
    FJMCP_MAX_SESSIONS_PER_PERSON: String(Math.max(100, CALLERS * 4)),
    // The per-person rate limit stays on (its check is on the path a call takes) but set out of reach:
    // the bench sends far more than an assistant would.
    FJMCP_MCP_RATE_PER_MIN: '100000000', FJMCP_MCP_BURST: '100000000', FJMCP_OAUTH_RATE_PER_MIN: '100000000',
  };
  const config = loadConfig(env);
  const dist = join(ROOT, 'dist/src/main.js');
  if (ENTRY === 'dist' && !existsSync(dist)) throw new Error('BENCH_BROKER_ENTRY=dist: run `npm run build` first');
  const nodeArgs = [...(CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] : []), ...(ENTRY === 'dist' ? [dist] : ['--import', 'tsx', join(ROOT, 'src/main.ts')]), 'serve'];
  const proc = track(spawn(process.execPath, nodeArgs, { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'ignore', 'inherit'] }));
  await untilUp(`${publicUrl}/healthz`, proc, 'broker');

  // A public client registered at the broker's own registration endpoint (RFC 7591).
  const redirectUri = 'http://127.0.0.1:5555/cb';
  const reg = await fetch(`${publicUrl}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: [redirectUri], token_endpoint_auth_method: 'none', client_name: 'real-path bench' }) });
  if (reg.status !== 201) throw new Error(`registration: HTTP ${reg.status} ${await reg.text()}`);
  const { client_id: clientId } = (await reg.json()) as { client_id: string };

  // Seeded: what the forge sign-in and the consent page would have written (no forge runs here).
  const store = await openSqliteStore(join(dataDir, DB_FILE));
  const forgeTokens = createForgeTokens({ config, store: store.forgeTokens, forge: noForge, log: silentLogger, audit: createAudit(silentLogger) });
  const tokens: string[] = [];
  for (let p = 0; p < people; p++) {
    const now = Date.now();
    const personId = String(1000 + p);
    await forgeTokens.save({ id: personId, login: `bench${p}`, isAdmin: false }, { accessToken: `bench-forge-token-${p}`, refreshToken: `bench-forge-refresh-${p}`, expiresAt: now + 30 * 86_400_000 });
    const code = newAuthorizationCode();
    const verifier = randomBytes(32).toString('base64url');
    await store.grants.createWithCode(
      { id: newId('gr_'), personId, login: `bench${p}`, clientId, scope: 'mcp', resource: config.mcpUrl, createdAt: now },
      { hash: sha256(code), clientId, redirectUri, codeChallenge: pkceS256(verifier), resource: config.mcpUrl, scope: 'mcp', expiresAt: now + 60_000 },
    );
    // The access token itself comes from the broker's token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.6).
    const t = await fetch(`${publicUrl}/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: clientId, redirect_uri: redirectUri }).toString(),
    });
    if (t.status !== 200) throw new Error(`token: HTTP ${t.status} ${await t.text()}`);
    tokens.push(((await t.json()) as { access_token: string }).access_token);
  }
  await store.close();

  const url = config.mcpUrl;
  const base = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
  /** A 2025-11-25 session of person `p`. */
  const session = async (p: number) => {
    const auth = { authorization: `Bearer ${tokens[p]}` };
    const init = await post(url, { ...base, ...auth }, INIT, `broker initialize (person ${p})`);
    await expectResult(init, 0, `broker initialize (person ${p})`);
    const headers = { ...base, ...auth, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': V2025 };
    await expectStatus(await post(url, headers, { jsonrpc: '2.0', method: 'notifications/initialized' }, `broker initialized (person ${p})`), 202, `broker initialized (person ${p})`);
    const call = async (i: number, message?: string) => void (await expectResult(await post(url, headers, echo(i, message), `broker ${V2025} call ${i} (person ${p})`), i, `broker ${V2025} call ${i} (person ${p})`));
    await call(1);
    return call;
  };
  /** 2026-07-28 calls of person `p`: one stateless request each. */
  const modern = async (p: number) => {
    const headers = { ...base, authorization: `Bearer ${tokens[p]}`, 'mcp-protocol-version': V2026, 'mcp-method': 'tools/call', 'mcp-name': 'echo' };
    const call = async (i: number) => {
      const body = { jsonrpc: '2.0', id: i, method: 'tools/call', params: { ...echoParams('bench'), _meta: ENVELOPE } };
      await expectResult(await post(url, headers, body, `broker ${V2026} call ${i} (person ${p})`), i, `broker ${V2026} call ${i} (person ${p})`);
    };
    await call(1);
    return call;
  };
  return {
    pid: proc.pid!, session, modern,
    close: async () => {
      await stopProc(proc);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** `callers` loops calling for `seconds`; calls/s and latency percentiles. */
async function saturate(callers: ((i: number) => Promise<void>)[], seconds: number) {
  const lat: number[] = [];
  const end = performance.now() + seconds * 1000;
  let id = 10;
  await Promise.all(callers.map(async (call) => {
    while (performance.now() < end) {
      const t = performance.now();
      await call(id++);
      lat.push(performance.now() - t);
    }
  }));
  return { rate: lat.length / seconds, p50: pct(lat, 50), p99: pct(lat, 99) };
}

/** RSS of `pid` before `run` and its peak increase while `run` executes, bytes (VmHWM reset through clear_refs when allowed). */
async function peakRssIncrease(pid: number, run: () => Promise<void>): Promise<{ before: number; increase: number }> {
  const before = statusKb(pid, 'VmRSS');
  let peak = before;
  let reset = false;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    reset = true;
  } catch { /* not allowed: sample instead */ }
  const timer = setInterval(() => (peak = Math.max(peak, statusKb(pid, 'VmRSS'))), 2);
  try {
    await run();
  } finally {
    clearInterval(timer);
  }
  if (reset) peak = Math.max(peak, statusKb(pid, 'VmHWM'));
  return { before, increase: peak - before };
}

/**
 * Large result: one `echo` of LARGE_BYTES through the broker (2025-11-25 session), three times, each
 * beside the same call straight to the stdio child. Run first, on a fresh broker: a heap the other
 * phases grew has room for a large call without growing, which hides what the call holds.
 * Supergateway is left out: its express body parser refuses a request body over 100 KB (HTTP 413).
 * The message is LARGE_BYTES less 1 KiB: the child (server-everything on SDK 1.x) drops any stdio
 * line over 10 MiB (STDIO_DEFAULT_MAX_BUFFER_SIZE) and closes its transport without a word, so a
 * request of 10 MiB plus its JSON envelope never got an answer; that was the real-path bench's hang.
 * The child reads its stdin in O(n²) (Buffer.concat per chunk), so these calls take seconds.
 */
async function largeResult(direct: (i: number, message: string) => Promise<void>, b25: (i: number, message?: string) => Promise<void>, pid: number) {
  const big = 'x'.repeat(LARGE_BYTES - 1024);
  timeoutMs = CALL_TIMEOUT_MS * 10;
  const large: { direct: number; broker: number; rssB: number; rssBefore: number }[] = [];
  for (let r = 0; r < 3; r++) {
    progress(`large result: run ${r + 1} of 3`);
    let t = performance.now();
    await direct(900 + r, big);
    const directMs = performance.now() - t;
    let brokerMs = 0;
    const rss = await peakRssIncrease(pid, async () => { t = performance.now(); await b25(910 + r, big); brokerMs = performance.now() - t; });
    large.push({ direct: directMs, broker: brokerMs, rssB: rss.increase, rssBefore: rss.before });
  }
  timeoutMs = CALL_TIMEOUT_MS;
  return large;
}

async function main(): Promise<void> {
  progress(`start: ${N} calls per path, ${CPU_CALLS} CPU calls, saturation ${PEOPLE}x${CALLERS} ${SAT_ROUNDS}x${SAT_SECONDS} s, large ${LARGE_BYTES / 1048576} MiB`);
  const d = await directChild(64 << 20, deadline);
  progress('direct stdio child up');
  const h = await floorServer();
  progress('HTTP floor up');
  const b = await broker(PEOPLE);
  progress(`broker up (pid ${b.pid}), ${PEOPLE} access tokens issued`);
  const sg = await supergateway();
  progress(`supergateway up (pid ${sg.pid})`);
  const b25 = await b.session(0);
  const large = await largeResult(d.call, b25, b.pid);
  const largeRssX = median(large.map((l) => l.rssB / LARGE_BYTES));
  const largeTimeX = median(large.map((l) => l.broker / l.direct));
  const printLarge = () => {
    console.log(`large result (first, on a fresh broker): echo of ${LARGE_BYTES / 1048576} MiB less 1 KiB (request and result each carry it; the child drops stdio lines over 10 MiB), 3 runs:`);
    for (const l of large) console.log(`  direct ${f(l.direct, 1)} ms   broker ${f(l.broker, 1)} ms (peak RSS +${f(l.rssB / 1048576, 1)} MiB over ${f(l.rssBefore / 1048576, 1)} MiB before)`);
    console.log(`  (supergateway ${SG_VERSION} not measured: its body parser refuses a request over 100 KB with HTTP 413)`);
    console.log(`  median broker time / direct ${f(largeTimeX, 2)}x   broker peak RSS increase ${f(largeRssX, 2)}x the payload (target <= 3)`);
  };
  if (LARGE_ONLY) {
    progress('stopping');
    await Promise.all([d.close(), h.close(), b.close(), sg.close()]);
    printLarge();
    console.log(`real-path: large_rss_x=${f(largeRssX, 2)} large_time_x=${f(largeTimeX, 2)}`);
    return;
  }
  const b26 = await b.modern(0);
  progress('latency: interleaved calls');
  const names = ['direct stdio', 'HTTP floor', `broker ${V2025}`, `broker ${V2026}`, `supergateway ${SG_VERSION}`] as const;
  const paths: ((i: number) => Promise<void>)[] = [d.call, h.call, b25, b26, sg.call];
  const times: number[][] = paths.map(() => []);
  for (let i = 2; i <= N + WARMUP; i++) {
    for (let k = 0; k < paths.length; k++) {
      const j = (i + k) % paths.length; // rotate the order so no path always runs first
      const t = performance.now();
      await paths[j]!(i);
      if (i > WARMUP) times[j]!.push(performance.now() - t);
    }
    if (i % 500 === 0) progress(`latency: ${i} of ${N + WARMUP}`);
  }
  const p50 = times.map((t) => pct(t, 50));
  const p99 = times.map((t) => pct(t, 99));
  // What a path adds to a tool call: its time less direct stdio's, for the paths with the child
  // behind them. The HTTP floor has no child behind it, so what it adds is its whole round trip
  // (the plain HTTP cost any relay pays); until this stop the bench subtracted direct stdio from
  // it as well, which measures nothing (printed below as `floor_minus_direct`).
  const added50 = p50.map((x, j) => (j === 1 ? x : x - p50[0]!));
  const added99 = p99.map((x, j) => (j === 1 ? x : x - p99[0]!));

  // Relay CPU per call: broker process CPU time over a fixed number of calls of one path.
  const cpuPerCall = async (call: (i: number) => Promise<void>, pid: number) => {
    const c0 = cpuSeconds(pid);
    for (let i = 0; i < CPU_CALLS; i++) await call(100_000 + i);
    return ((cpuSeconds(pid) - c0) * 1000) / CPU_CALLS;
  };
  progress('CPU per call: broker 2025-11-25');
  const cpu25 = await cpuPerCall(b25, b.pid);
  progress('CPU per call: broker 2026-07-28');
  const cpu26 = await cpuPerCall(b26, b.pid);
  progress('CPU per call: supergateway');
  const cpuSg = await cpuPerCall(sg.call, sg.pid);
  progress('CPU per call: HTTP floor');
  const cpuFloor = await cpuPerCall(h.call, h.pid);
  progress(`saturation: opening ${PEOPLE * CALLERS} broker sessions`);

  // Saturation: N people × M callers, alternating broker and supergateway rounds.
  const brokerCallers: ((i: number) => Promise<void>)[] = [];
  for (let p = 0; p < PEOPLE; p++) for (let m = 0; m < CALLERS; m++) brokerCallers.push(await b.session(p));
  const sgCallers = brokerCallers.map(() => sg.call);
  const sat: { b: Awaited<ReturnType<typeof saturate>>; s: Awaited<ReturnType<typeof saturate>> }[] = [];
  progress('saturation: warming every child');
  await saturate(brokerCallers, 1); // warm every child
  for (let r = 0; r < SAT_ROUNDS; r++) {
    progress(`saturation: round ${r + 1} of ${SAT_ROUNDS}`);
    // Alternate which side runs first, so drift in background load hits both alike.
    const [x, s] = r % 2 === 0
      ? [await saturate(brokerCallers, SAT_SECONDS), await saturate(sgCallers, SAT_SECONDS)]
      : [await saturate(sgCallers, SAT_SECONDS), await saturate(brokerCallers, SAT_SECONDS)].reverse() as [Awaited<ReturnType<typeof saturate>>, Awaited<ReturnType<typeof saturate>>];
    sat.push({ b: x, s });
  }

  // The tail of callers sharing one child: TAIL_CALLERS callers of one person (one child), the
  // same number of people with one caller each (one child each), and as many concurrent callers
  // straight on one stdio child, no broker. Where one person's callers queue shows in which of the
  // three has the long tail.
  const tailN = Math.min(TAIL_CALLERS, PEOPLE);
  const tailPaths: { name: string; callers: ((i: number) => Promise<void>)[] }[] = [
    { name: `broker, 1 person x ${tailN} callers (one child)`, callers: [] },
    { name: `broker, ${tailN} people x 1 caller (${tailN} children)`, callers: [] },
    { name: `direct stdio, ${tailN} concurrent callers on one child`, callers: Array.from({ length: tailN }, () => d.call) },
  ];
  for (let m = 0; m < tailN; m++) tailPaths[0]!.callers.push(await b.session(0));
  for (let p = 0; p < tailN; p++) tailPaths[1]!.callers.push(await b.session(p));
  const tail: Awaited<ReturnType<typeof saturate>>[][] = tailPaths.map(() => []);
  for (let r = 0; r < SAT_ROUNDS; r++) {
    progress(`tail: round ${r + 1} of ${SAT_ROUNDS}`);
    for (let k = 0; k < tailPaths.length; k++) {
      const j = (r + k) % tailPaths.length; // rotate which runs first
      tail[j]!.push(await saturate(tailPaths[j]!.callers, SAT_SECONDS));
    }
  }

  progress('stopping');
  await Promise.all([d.close(), h.close(), b.close(), sg.close()]);

  // ---------------------------------------------------------------------------------------------
  const satRate = median(sat.map((s) => s.b.rate / s.s.rate));
  const satP99 = median(sat.map((s) => s.b.p99 / s.s.p99));
  const row = (j: number) => `  ${names[j]!.padEnd(24)} p50 ${f(p50[j]!)} ms  p99 ${f(p99[j]!)} ms   added p50 ${f(added50[j]!)} ms  p99 ${f(added99[j]!)} ms`;
  console.log(`\nreal path: fjmcp-broker serve (${ENTRY === 'dist' ? 'dist/src/main.js' : 'src/main.ts via tsx'}), SQLite store, child sandbox ${SANDBOX} (FJMCP_CHILD_SANDBOX), node ${process.version}`);
  console.log(`  access tokens issued by the broker's token endpoint (authorization_code + PKCE); the forge sign-in (sealed forge tokens, grant, code) was SEEDED in the store: no forge runs`);
  console.log(`tool call (server-everything echo), ${N} calls per path after ${WARMUP} warm-up, interleaved call by call:`);
  for (let j = 0; j < paths.length; j++) console.log(row(j));
  console.log(`  (the HTTP floor has no child behind it: what it adds is its whole round trip; floor p50 less direct p50 would be ${f(p50[1]! - p50[0]!)} ms)`);
  console.log(`  broker 2025-11-25 added p50 / floor added p50: ${f(added50[2]! / added50[1]!, 2)}x (target <= 1.5)   / supergateway added p50: ${f(added50[2]! / added50[4]!, 2)}x (target <= 0.33)`);
  console.log(`  broker 2026-07-28 added p50 / floor added p50: ${f(added50[3]! / added50[1]!, 2)}x   / supergateway added p50: ${f(added50[3]! / added50[4]!, 2)}x`);
  console.log(`CPU per call (process utime+stime / calls, ${CPU_CALLS} sequential calls each):`);
  console.log(`  broker 2025-11-25 ${f(cpu25)} ms   broker 2026-07-28 ${f(cpu26)} ms (target <= 0.25)   supergateway ${f(cpuSg)} ms`);
  console.log(`  HTTP floor ${f(cpuFloor)} ms (a bare node:http server answering at once: what one request costs any Node server here)`);
  console.log(`saturation: ${PEOPLE} people x ${CALLERS} callers, ${SAT_SECONDS} s per run (broker: ${PEOPLE} persons, ${PEOPLE} tokens, ${PEOPLE} children, a session per caller; supergateway: the same ${PEOPLE * CALLERS} callers on its single session and child):`);
  for (const [r, s] of sat.entries()) {
    console.log(`  round ${r + 1}: broker ${f(s.b.rate, 0)} calls/s p50 ${f(s.b.p50, 1)} ms p99 ${f(s.b.p99, 1)} ms   supergateway ${f(s.s.rate, 0)} calls/s p50 ${f(s.s.p50, 1)} ms p99 ${f(s.s.p99, 1)} ms`);
  }
  console.log(`  median ratios broker/supergateway: calls/s ${f(satRate, 2)}x   p99 ${f(satP99, 2)}x (target <= 1)`);
  console.log(`tail: ${tailN} callers, ${SAT_SECONDS} s per run, median of ${SAT_ROUNDS} rounds:`);
  tailPaths.forEach((t, j) => console.log(`  ${t.name.padEnd(52)} ${median(tail[j]!.map((x) => x.rate)).toFixed(0)} calls/s   p50 ${f(median(tail[j]!.map((x) => x.p50)))} ms   p99 ${f(median(tail[j]!.map((x) => x.p99)))} ms`));
  printLarge();
  console.log(
    `real-path: sandbox=${SANDBOX} direct_p50_ms=${f(p50[0]!)} floor_added_p50_ms=${f(added50[1]!)} floor_minus_direct_p50_ms=${f(p50[1]! - p50[0]!)} broker_added_p50_ms=${f(added50[2]!)} broker_added_p99_ms=${f(added99[2]!)}` +
    ` modern_added_p50_ms=${f(added50[3]!)} modern_added_p99_ms=${f(added99[3]!)} sg_added_p50_ms=${f(added50[4]!)} sg_added_p99_ms=${f(added99[4]!)}` +
    ` broker_vs_floor_added_p50=${f(added50[2]! / added50[1]!, 2)} broker_vs_sg_added_p50=${f(added50[2]! / added50[4]!, 2)}` +
    ` cpu_ms_per_call=${f(cpu25)} modern_cpu_ms_per_call=${f(cpu26)} sg_cpu_ms_per_call=${f(cpuSg)} floor_cpu_ms_per_call=${f(cpuFloor)}` +
    ` sat_people=${PEOPLE} sat_callers=${CALLERS} sat_rate_ratio=${f(satRate, 2)} sat_p99_ratio=${f(satP99, 2)}` +
    ` tail_one_child_p99_ms=${f(median(tail[0]!.map((x) => x.p99)))} tail_children_p99_ms=${f(median(tail[1]!.map((x) => x.p99)))} tail_direct_p99_ms=${f(median(tail[2]!.map((x) => x.p99)))}` +
    ` large_rss_x=${f(largeRssX, 2)} large_time_x=${f(largeTimeX, 2)}`,
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
