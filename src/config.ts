/**
 * @module config
 * Reads the broker's settings from the environment once at start and turns them into a frozen
 * {@link Config}. Every problem is collected and reported together, each naming its variable,
 * before anything listens. A secret may come from `NAME` or from a file named by `NAME_FILE`
 * (podman secrets); never from argv.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import { CHILD_PRESETS, type ChildPresetName } from './child/presets.js';

/** Thrown by {@link loadConfig} with one line per bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** One documented setting; {@link SETTINGS} drives `--help`, the example env file and parsing. */
export interface Setting {
  name: string;
  help: string;
  default?: string;
  secret?: boolean;
  required?: boolean;
}

export const SETTINGS: readonly Setting[] = [
  { name: 'FJMCP_PUBLIC_URL', required: true, help: 'Public base URL of the broker, e.g. https://mcp.example.org (the OAuth issuer; the MCP URL is this plus /mcp). http is accepted only on loopback.' },
  { name: 'FJMCP_LISTEN_HOST', default: '127.0.0.1', help: 'Address the HTTP server binds to.' },
  { name: 'FJMCP_LISTEN_PORT', default: '8787', help: 'TCP port the HTTP server binds to (0 = any free port).' },
  { name: 'FJMCP_OPS_LISTEN', default: '127.0.0.1:9787', help: 'host:port of the operator listener, which serves /metrics and the detailed /healthz (the public /healthz says only ok or unavailable). Loopback by default; keep it on the operator host, never behind the public proxy (port 0 = any free port).' },
  { name: 'FJMCP_DATA_DIR', default: './data', help: 'Directory for the SQLite database (broker.sqlite with its -wal and -shm files).' },
  { name: 'FJMCP_DATABASE_URL', default: '', secret: true, help: 'PostgreSQL connection URL (postgres://user:password@host:5432/db); set it to run several replicas on one database. Empty = SQLite in FJMCP_DATA_DIR (or FJMCP_DATABASE_URL_FILE).' },
  { name: 'FJMCP_FORGE_URL', required: true, help: 'Base URL of the Forgejo or Gitea instance, e.g. https://forge.example.org.' },
  { name: 'FJMCP_FORGE_CLIENT_ID', required: true, help: 'Client ID of the broker\'s confidential OAuth2 application on the forge.' },
  { name: 'FJMCP_FORGE_CLIENT_SECRET', required: true, secret: true, help: 'Client secret of that application (or FJMCP_FORGE_CLIENT_SECRET_FILE).' },
  { name: 'FJMCP_FORGE_SCOPES', default: '', help: 'Space-separated scopes requested from the forge (Gitea >= 1.23 restricts tokens to valid PAT scopes such as "read:repository read:user"; empty = the account\'s full power).' },
  { name: 'FJMCP_ENCRYPTION_KEYS', required: true, secret: true, help: 'Comma-separated base64 keys of 32 bytes each that seal forge tokens at rest (AES-256-GCM). The first seals; all open, so a new key goes first to rotate (or FJMCP_ENCRYPTION_KEYS_FILE).' },
  { name: 'FJMCP_ALLOWED_USERS', default: '', help: 'Comma-separated forge logins allowed to sign in. With FJMCP_ALLOWED_ORGS empty too, every forge user may sign in.' },
  { name: 'FJMCP_ALLOWED_ORGS', default: '', help: 'Comma-separated forge organisations whose members may sign in (checked at sign-in and at every forge refresh; fails closed).' },
  { name: 'FJMCP_ACCESS_TOKEN_TTL_S', default: '3600', help: 'Lifetime of the access tokens the broker issues to MCP clients, in seconds.' },
  { name: 'FJMCP_REFRESH_TOKEN_TTL_S', default: '2592000', help: 'Lifetime of a refresh-token family without use, in seconds (default 30 days).' },
  { name: 'FJMCP_REFRESH_GRACE_S', default: '60', help: 'Seconds in which a retried refresh with the same refresh token returns the same successor instead of revoking the family.' },
  { name: 'FJMCP_CHILD_PRESET', default: 'gitea-mcp', help: `MCP server run per person: ${Object.keys(CHILD_PRESETS).join(', ')}, or "custom" with FJMCP_CHILD_COMMAND.` },
  { name: 'FJMCP_CHILD_COMMAND', default: '', help: 'Executable of the MCP child (overrides the preset\'s; absolute path or a name on PATH).' },
  { name: 'FJMCP_CHILD_ARGS', default: '', help: 'JSON array of arguments for the child (overrides the preset\'s). Never put a token here.' },
  { name: 'FJMCP_CHILD_TOKEN_ENV', default: '', help: 'Name of the environment variable that carries the person\'s forge token to the child (overrides the preset\'s).' },
  { name: 'FJMCP_CHILD_URL_ENV', default: '', help: 'Name of the environment variable that carries the forge URL to the child (overrides the preset\'s).' },
  { name: 'FJMCP_CHILD_ENV', default: '', help: 'JSON object of extra, non-secret environment variables for the child.' },
  { name: 'FJMCP_CHILD_IDLE_S', default: '600', help: 'Seconds without requests or open streams after which a person\'s child is stopped.' },
  { name: 'FJMCP_CHILD_STOP_GRACE_MS', default: '3000', help: 'Milliseconds between SIGTERM and SIGKILL when stopping a child\'s process group.' },
  { name: 'FJMCP_CHILD_SANDBOX', default: 'required', help: 'Sandbox of every MCP child (bubblewrap: own PID namespace and /proc, read-only view of only what it needs, resource limits): required (no sandbox, no child; /healthz says why), auto (falls back to unsandboxed children with a loud warning), or off.' },
  { name: 'FJMCP_CHILD_SANDBOX_PATHS', default: '', help: 'Colon-separated extra host paths the sandboxed child may read (e.g. the directory of a script interpreter it needs). The command and absolute paths in its arguments are added on their own.' },
  // 2 GiB, not 1: RLIMIT_DATA counts reserved address space, and Node >= 24 reserves ~512 MiB of
  // read-write-execute code range per V8 isolate (main thread and each worker) as soon as it starts,
  // so a Node 24 child with one worker thread (e.g. a module loader hook) needs > 1 GiB to start.
  { name: 'FJMCP_CHILD_MEMORY_BYTES', default: '2147483648', help: 'Most private writable memory one sandboxed child may use (RLIMIT_DATA, which counts reserved address space: Node >= 24 reserves ~512 MiB per thread running JavaScript), in bytes (default 2 GiB).' },
  { name: 'FJMCP_CHILD_MAX_PROCESSES', default: '256', help: 'Most processes and threads one sandboxed child may run at once (RLIMIT_NPROC in its own user namespace).' },
  { name: 'FJMCP_CHILD_MAX_OPEN_FILES', default: '1024', help: 'Most open files and sockets per process of a sandboxed child (RLIMIT_NOFILE).' },
  { name: 'FJMCP_CHILD_TMP_BYTES', default: '67108864', help: 'Size of the private /tmp (tmpfs) of a sandboxed child, in bytes (default 64 MiB).' },
  { name: 'FJMCP_MAX_CHILDREN', default: '200', help: 'Most MCP children running at once.' },
  { name: 'FJMCP_MAX_SESSIONS_PER_PERSON', default: '64', help: 'Most MCP sessions one person may hold open; the oldest idle one is closed first.' },
  { name: 'FJMCP_MAX_MESSAGE_BYTES', default: '33554432', help: 'Largest JSON-RPC message accepted from a child\'s stdout, in bytes (default 32 MiB).' },
  { name: 'FJMCP_MAX_BODY_BYTES', default: '33554432', help: 'Largest HTTP request body accepted on /mcp, in bytes (default 32 MiB).' },
  { name: 'FJMCP_SSE_REPLAY_BYTES', default: '4194304', help: 'SSE events kept per MCP session for clients that resume a dropped stream with Last-Event-ID, in bytes (default 4 MiB; 0 turns resuming off).' },
  { name: 'FJMCP_LEGACY_SSE', default: 'false', help: 'true serves the HTTP+SSE transport of MCP 2024-11-05 for clients that speak nothing newer: GET /sse opens a stream whose endpoint event names POST /messages?sessionId=..., for every server also at <its MCP path>/sse and /messages. Off by default: the transport is deprecated since MCP 2025-03-26, and every endpoint is more surface. Same bearer check, policy, audit and rate limit as /mcp.' },
  { name: 'FJMCP_LEGACY_SSE_MAX_PER_PERSON', default: '8', help: 'Most legacy SSE streams (FJMCP_LEGACY_SSE) one person may hold open per MCP server; beyond it the oldest without a call in flight is closed, and with none such the new stream is refused (429).' },
  { name: 'FJMCP_ALLOWED_ORIGINS', default: '', help: 'Comma-separated extra browser origins allowed to call /mcp (the public URL\'s origin always is).' },
  { name: 'FJMCP_TRUST_PROXY', default: 'false', help: 'true when a reverse proxy on loopback sets X-Forwarded-For (used for per-IP rate limits).' },
  { name: 'FJMCP_REGISTRATION_RATE_PER_MIN', default: '120', help: 'Dynamic client registrations accepted per client IP per minute.' },
  { name: 'FJMCP_OAUTH_RATE_PER_MIN', default: '300', help: 'Requests per client IP per minute to each of /authorize, /consent, /token, /register and /oauth/callback; beyond it 429 with Retry-After. Generous, because many people may share one address (an office NAT, a client vendor\'s servers refreshing tokens).' },
  { name: 'FJMCP_MAX_PENDING_AUTHORIZATIONS', default: '10000', help: 'Most sign-ins in progress (authorization requests awaiting consent or the forge, 10 minutes at most each) held in the store; beyond it /authorize answers temporarily_unavailable.' },
  { name: 'FJMCP_MAX_PENDING_AUTHORIZATIONS_PER_IP', default: '100', help: 'Most sign-ins in progress from one client IP (counted per broker process); beyond it /authorize answers temporarily_unavailable with Retry-After.' },
  { name: 'FJMCP_MAX_CLIENTS', default: '10000', help: 'Most dynamically registered clients kept; unused ones are reaped first.' },
  { name: 'FJMCP_POLICY_FILE', default: '', help: 'YAML or JSON tool policy (docs/policy.md): read-only people, tool allow/deny globs, repository globs; also further MCP servers at /mcp/<name> (its servers section, read at start). Rules are reloaded on SIGHUP; empty = every tool allowed to everyone, one server at /mcp.' },
  { name: 'FJMCP_MCP_RATE_PER_MIN', default: '120', help: 'MCP requests (POSTs to /mcp) per person per minute, sustained; beyond it 429 with Retry-After.' },
  { name: 'FJMCP_MCP_BURST', default: '60', help: 'MCP requests one person may send at once before FJMCP_MCP_RATE_PER_MIN applies.' },
  { name: 'FJMCP_AUDIT_RETENTION_DAYS', default: '90', help: 'Days the tool-call audit records are kept in the store.' },
  { name: 'FJMCP_LOG_LEVEL', default: 'info', help: 'Log level: fatal, error, warn, info, debug or trace (JSON lines on stdout).' },
  { name: 'FJMCP_INSECURE_FORGE_HTTP', default: 'false', help: 'true to allow a plain-http forge URL outside loopback (never in production).' },
];

const DURATION = z.coerce.number().int().positive();

/** The parsed, frozen settings. Durations in seconds unless the name says ms; sizes in bytes. */
export interface Config {
  publicUrl: URL;
  /** Issuer identifier, byte-identical in RFC 8414 metadata and RFC 9207 `iss` (no trailing slash). */
  issuer: string;
  /** The protected resource (RFC 8707/RFC 9728): `${issuer}/mcp`. */
  mcpUrl: string;
  listen: { host: string; port: number };
  /** The operator listener (`/metrics`, detailed `/healthz`); `FJMCP_OPS_LISTEN`. */
  opsListen: { host: string; port: number };
  dataDir: string;
  /** PostgreSQL URL (`postgres://…`), or undefined for SQLite in {@link Config.dataDir}. */
  databaseUrl: string | undefined;
  forge: { url: URL; clientId: string; clientSecret: string; scopes: string[]; allowInsecureHttp: boolean };
  encryptionKeys: Buffer[];
  allow: { users: string[]; orgs: string[] };
  tokens: { accessTtlS: number; refreshTtlS: number; refreshGraceS: number };
  child: {
    preset: ChildPresetName | 'custom';
    command: string;
    args: string[];
    tokenEnv: string;
    urlEnv: string | undefined;
    extraEnv: Record<string, string>;
    idleS: number;
    stopGraceMs: number;
    maxChildren: number;
    maxMessageBytes: number;
    /** The child sandbox (src/child/sandbox.ts); limits apply only while it is in use. */
    sandbox: {
      mode: 'required' | 'auto' | 'off';
      /** Extra read-only host paths, absolute. */
      paths: string[];
      memoryBytes: number;
      maxProcesses: number;
      maxOpenFiles: number;
      tmpBytes: number;
    };
  };
  /** Files the secrets were read from (`NAME_FILE`): never visible to a sandboxed child. */
  secretFiles: string[];
  mcp: {
    maxSessionsPerPerson: number;
    maxBodyBytes: number;
    allowedOrigins: string[];
    sseReplayBytes: number;
    /** The legacy HTTP+SSE transport (MCP 2024-11-05, mcp/legacy-sse.ts): off unless `FJMCP_LEGACY_SSE=true`; streams per person per server. */
    legacySse: { enabled: boolean; maxPerPerson: number };
  };
  registration: { ratePerMin: number; maxClients: number };
  /**
   * Per client IP: `ratePerMin` requests a minute to each OAuth endpoint; at most `maxPendingPerIp`
   * pending authorizations, and `maxPending` in the store.
   */
  oauthLimits: { ratePerMin: number; maxPending: number; maxPendingPerIp: number };
  trustProxy: boolean;
  policy: { file: string | undefined };
  /** Per-person token bucket on `/mcp` POSTs: `mcpPerMin` sustained, `mcpBurst` at once. */
  rateLimits: { mcpPerMin: number; mcpBurst: number };
  audit: { retentionDays: number };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
}

export type Env = Record<string, string | undefined>;

/** Reads `NAME`, or the trimmed contents of the file named by `NAME_FILE`; both set is an error. */
function readValue(env: Env, s: Setting, problems: string[], files: string[] = []): string | undefined {
  const direct = env[s.name];
  const file = env[`${s.name}_FILE`];
  if (direct !== undefined && direct !== '' && file) {
    problems.push(`${s.name} and ${s.name}_FILE are both set; set one`);
    return undefined;
  }
  if (file) {
    files.push(file);
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (err) {
      problems.push(`${s.name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      return undefined;
    }
  }
  if (direct !== undefined && direct !== '') return direct;
  return s.default;
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** Parses `host:port` or `[v6]:port` (port 0-65535); undefined when malformed. */
function hostPort(v: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s\[\]]+)):(\d{1,5})$/.exec(v.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  return port <= 65535 ? { host: m[1] ?? m[2]!, port } : undefined;
}

const list = (v: string | undefined) => (v ?? '').split(',').map((x) => x.trim()).filter(Boolean);

/**
 * Parses and validates the environment.
 * @throws {ConfigError} listing every invalid or missing variable.
 */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const raw: Record<string, string | undefined> = {};
  const secretFiles: string[] = [];
  for (const s of SETTINGS) {
    const before = problems.length;
    raw[s.name] = readValue(env, s, problems, s.secret ? secretFiles : []);
    if (s.required && !raw[s.name] && problems.length === before) problems.push(`${s.name} is required: ${s.help}`);
  }
  const num = (name: string, schema: z.ZodType<number> = DURATION): number => {
    const r = schema.safeParse(raw[name]);
    if (!r.success) {
      problems.push(`${name} must be a positive whole number, got ${JSON.stringify(raw[name])}`);
      return 0;
    }
    return r.data;
  };
  const url = (name: string): URL | undefined => {
    const v = raw[name];
    if (!v) return undefined;
    try {
      const u = new URL(v);
      if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('scheme');
      if (u.username || u.password || u.search || u.hash) throw new Error('extras');
      return u;
    } catch {
      problems.push(`${name} must be an absolute http(s) URL without credentials, query or fragment, got ${JSON.stringify(v)}`);
      return undefined;
    }
  };
  const json = <T>(name: string, schema: z.ZodType<T>, fallback: T): T => {
    const v = raw[name];
    if (!v) return fallback;
    try {
      const r = schema.safeParse(JSON.parse(v));
      if (r.success) return r.data;
    } catch {
      /* reported below */
    }
    problems.push(`${name} is not valid JSON of the expected shape`);
    return fallback;
  };

  const publicUrl = url('FJMCP_PUBLIC_URL');
  if (publicUrl && publicUrl.protocol === 'http:' && !isLoopbackHost(publicUrl.hostname)) {
    problems.push('FJMCP_PUBLIC_URL must be https unless its host is loopback (OAuth 2.1 §1.5)');
  }
  const forgeUrl = url('FJMCP_FORGE_URL');
  const insecureForge = raw.FJMCP_INSECURE_FORGE_HTTP === 'true';
  if (forgeUrl && forgeUrl.protocol === 'http:' && !isLoopbackHost(forgeUrl.hostname) && !insecureForge) {
    problems.push('FJMCP_FORGE_URL must be https unless its host is loopback or FJMCP_INSECURE_FORGE_HTTP=true');
  }

  const keys: Buffer[] = [];
  for (const k of list(raw.FJMCP_ENCRYPTION_KEYS)) {
    const b = Buffer.from(k, 'base64');
    if (b.length !== 32) problems.push('FJMCP_ENCRYPTION_KEYS: every key must be 32 bytes in base64 (openssl rand -base64 32)');
    else keys.push(b);
  }

  const presetName = raw.FJMCP_CHILD_PRESET ?? 'gitea-mcp';
  const preset = presetName === 'custom' ? undefined : CHILD_PRESETS[presetName as ChildPresetName];
  if (presetName !== 'custom' && !preset) {
    problems.push(`FJMCP_CHILD_PRESET must be one of ${Object.keys(CHILD_PRESETS).join(', ')} or custom, got ${JSON.stringify(presetName)}`);
  }
  const command = raw.FJMCP_CHILD_COMMAND || preset?.command || '';
  if (!command) problems.push('FJMCP_CHILD_COMMAND is required with FJMCP_CHILD_PRESET=custom');
  const tokenEnv = raw.FJMCP_CHILD_TOKEN_ENV || preset?.tokenEnv || '';
  if (!tokenEnv) problems.push('FJMCP_CHILD_TOKEN_ENV is required with FJMCP_CHILD_PRESET=custom');
  const args = json('FJMCP_CHILD_ARGS', z.array(z.string()), preset?.args ?? []);
  const extraEnv = json('FJMCP_CHILD_ENV', z.record(z.string(), z.string()), {});
  const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).safeParse(raw.FJMCP_LOG_LEVEL);
  if (!logLevel.success) problems.push('FJMCP_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace');
  const port = num('FJMCP_LISTEN_PORT', z.coerce.number().int().min(0).max(65535));
  const opsListen = hostPort(raw.FJMCP_OPS_LISTEN ?? '127.0.0.1:9787');
  if (!opsListen) problems.push(`FJMCP_OPS_LISTEN must be host:port (e.g. 127.0.0.1:9787 or [::1]:9787), got ${JSON.stringify(raw.FJMCP_OPS_LISTEN)}`);
  const databaseUrl = raw.FJMCP_DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('FJMCP_DATABASE_URL must be a postgres:// or postgresql:// URL (empty = SQLite in FJMCP_DATA_DIR)'); // the value may hold a password: not echoed
  }
  if (raw.FJMCP_LEGACY_SSE !== 'true' && raw.FJMCP_LEGACY_SSE !== 'false') problems.push(`FJMCP_LEGACY_SSE must be true or false, got ${JSON.stringify(raw.FJMCP_LEGACY_SSE)}`);
  const sandboxMode = z.enum(['required', 'auto', 'off']).safeParse(raw.FJMCP_CHILD_SANDBOX);
  if (!sandboxMode.success) problems.push(`FJMCP_CHILD_SANDBOX must be one of required, auto, off, got ${JSON.stringify(raw.FJMCP_CHILD_SANDBOX)}`);
  const sandboxPaths = (raw.FJMCP_CHILD_SANDBOX_PATHS ?? '').split(':').map((x) => x.trim()).filter(Boolean);
  for (const p of sandboxPaths) if (!p.startsWith('/')) problems.push(`FJMCP_CHILD_SANDBOX_PATHS: ${JSON.stringify(p)} is not an absolute path`);

  const config = {
    publicUrl: publicUrl ?? new URL('http://invalid'),
    issuer: publicUrl ? publicUrl.href.replace(/\/+$/, '') : '',
    mcpUrl: publicUrl ? `${publicUrl.href.replace(/\/+$/, '')}/mcp` : '',
    listen: { host: raw.FJMCP_LISTEN_HOST ?? '127.0.0.1', port },
    opsListen: opsListen ?? { host: '127.0.0.1', port: 0 },
    dataDir: raw.FJMCP_DATA_DIR ?? './data',
    databaseUrl,
    forge: {
      url: forgeUrl ?? new URL('http://invalid'),
      clientId: raw.FJMCP_FORGE_CLIENT_ID ?? '',
      clientSecret: raw.FJMCP_FORGE_CLIENT_SECRET ?? '',
      scopes: (raw.FJMCP_FORGE_SCOPES ?? '').split(/\s+/).filter(Boolean),
      allowInsecureHttp: insecureForge,
    },
    encryptionKeys: keys,
    allow: { users: list(raw.FJMCP_ALLOWED_USERS), orgs: list(raw.FJMCP_ALLOWED_ORGS) },
    tokens: {
      accessTtlS: num('FJMCP_ACCESS_TOKEN_TTL_S'),
      refreshTtlS: num('FJMCP_REFRESH_TOKEN_TTL_S'),
      refreshGraceS: num('FJMCP_REFRESH_GRACE_S', z.coerce.number().int().min(0)),
    },
    child: {
      preset: (preset ? presetName : 'custom') as ChildPresetName | 'custom',
      command,
      args,
      tokenEnv,
      urlEnv: raw.FJMCP_CHILD_URL_ENV || preset?.urlEnv || undefined,
      extraEnv: { ...(preset?.env ?? {}), ...extraEnv },
      idleS: num('FJMCP_CHILD_IDLE_S'),
      stopGraceMs: num('FJMCP_CHILD_STOP_GRACE_MS'),
      maxChildren: num('FJMCP_MAX_CHILDREN'),
      maxMessageBytes: num('FJMCP_MAX_MESSAGE_BYTES'),
      sandbox: {
        mode: sandboxMode.success ? sandboxMode.data : 'required',
        paths: sandboxPaths,
        memoryBytes: num('FJMCP_CHILD_MEMORY_BYTES'),
        maxProcesses: num('FJMCP_CHILD_MAX_PROCESSES'),
        maxOpenFiles: num('FJMCP_CHILD_MAX_OPEN_FILES'),
        tmpBytes: num('FJMCP_CHILD_TMP_BYTES'),
      },
    },
    secretFiles,
    mcp: {
      maxSessionsPerPerson: num('FJMCP_MAX_SESSIONS_PER_PERSON'),
      maxBodyBytes: num('FJMCP_MAX_BODY_BYTES'),
      allowedOrigins: list(raw.FJMCP_ALLOWED_ORIGINS),
      sseReplayBytes: num('FJMCP_SSE_REPLAY_BYTES', z.coerce.number().int().min(0)),
      legacySse: { enabled: raw.FJMCP_LEGACY_SSE === 'true', maxPerPerson: num('FJMCP_LEGACY_SSE_MAX_PER_PERSON') },
    },
    registration: { ratePerMin: num('FJMCP_REGISTRATION_RATE_PER_MIN'), maxClients: num('FJMCP_MAX_CLIENTS') },
    oauthLimits: {
      ratePerMin: num('FJMCP_OAUTH_RATE_PER_MIN'),
      maxPending: num('FJMCP_MAX_PENDING_AUTHORIZATIONS'),
      maxPendingPerIp: num('FJMCP_MAX_PENDING_AUTHORIZATIONS_PER_IP'),
    },
    trustProxy: raw.FJMCP_TRUST_PROXY === 'true',
    policy: { file: raw.FJMCP_POLICY_FILE || undefined },
    rateLimits: { mcpPerMin: num('FJMCP_MCP_RATE_PER_MIN'), mcpBurst: num('FJMCP_MCP_BURST') },
    audit: { retentionDays: num('FJMCP_AUDIT_RETENTION_DAYS') },
    logLevel: logLevel.success ? logLevel.data : 'info',
  } satisfies Config;

  if (problems.length) throw new ConfigError(problems);
  return deepFreeze(config);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !(o instanceof URL) && !Buffer.isBuffer(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** `--help` text: every setting with its default. */
export function settingsHelp(): string {
  return SETTINGS.map((s) => {
    const d = s.required ? '(required)' : s.default ? `(default ${s.default})` : '(default empty)';
    const f = s.secret ? ` Also ${s.name}_FILE.` : ' Also NAME_FILE.';
    return `  ${s.name} ${d}\n      ${s.help}${f}`;
  }).join('\n');
}
