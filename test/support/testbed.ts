/**
 * @module test/support/testbed — start, describe and stop real Gitea test-bed instances
 * (scripts/testbed up/down) from vitest, and reach the one shared instance that
 * test/support/global-setup.ts starts. Gitea 1.26.0, built by `scripts/testbed build`.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { inject } from 'vitest';

/** Absolute path of the repository root. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Absolute path of the scripts/testbed command. */
export const testbedScript = join(repoRoot, 'scripts', 'testbed');

export type TestbedUser = 'alice' | 'bob' | 'carol';

/** One running test-bed Gitea, as described by the env file `scripts/testbed up` writes. */
export interface Testbed {
  /** Base URL, no trailing slash, e.g. `http://127.0.0.1:41807`. */
  giteaUrl: string;
  /** Gitea version without `v`, e.g. `1.26.0`. */
  version: string;
  /** The confidential OAuth2 application created at startup (owned by alice). */
  oauthClientId: string;
  oauthClientSecret: string;
  /** The single redirect URI registered for that application. */
  redirectUri: string;
  /** alice is a site admin; bob and carol are plain users. */
  users: Record<TestbedUser, { login: string; password: string }>;
  /** Organisation with alice (owner) and bob (Owners team) as members, carol not. Holds `team-private`. */
  org: string;
  stateDir: string;
  envFile: string;
  /** PID (and process-group id) of `gitea web`. */
  pid: number;
  /** Paths of the forge MCP children; absent when `scripts/testbed build` could not get them. */
  children: { npmGiteaMcp?: string; goGiteaMcp?: string; forgejoMcp?: string };
}

export interface StartTestbedOptions {
  /** Redirect URI of the OAuth app created at startup. Default `http://127.0.0.1:8787/oauth/callback`. */
  redirectUri?: string;
  /** `[oauth2] ACCESS_TOKEN_EXPIRATION_TIME`, seconds. Default 3600. */
  accessTokenTtlS?: number;
  /** `[oauth2] INVALIDATE_REFRESH_TOKENS` (Gitea default false, Forgejo default true). */
  invalidateRefreshTokens?: boolean;
}

/** Reads a `KEY=value` file (no quoting, `#` comments) into an object. */
export function parseEnvFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Builds a {@link Testbed} from the env file written by `scripts/testbed up`. Throws when a key is missing. */
export function testbedFromEnvFile(envFile: string): Testbed {
  const env = parseEnvFile(envFile);
  const need = (k: string): string => {
    const v = env[k];
    if (v === undefined || v === '') throw new Error(`test-bed env file ${envFile} lacks ${k}`);
    return v;
  };
  const user = (u: TestbedUser) => ({
    login: need(`TESTBED_USER_${u.toUpperCase()}`),
    password: need(`TESTBED_PASSWORD_${u.toUpperCase()}`),
  });
  const children: Testbed['children'] = {};
  if (env.TESTBED_NPM_GITEA_MCP_BIN) children.npmGiteaMcp = env.TESTBED_NPM_GITEA_MCP_BIN;
  if (env.TESTBED_GITEA_MCP_BIN) children.goGiteaMcp = env.TESTBED_GITEA_MCP_BIN;
  if (env.TESTBED_FORGEJO_MCP_BIN) children.forgejoMcp = env.TESTBED_FORGEJO_MCP_BIN;
  return {
    giteaUrl: need('TESTBED_GITEA_URL'),
    version: need('TESTBED_GITEA_VERSION'),
    oauthClientId: need('TESTBED_OAUTH_CLIENT_ID'),
    oauthClientSecret: need('TESTBED_OAUTH_CLIENT_SECRET'),
    redirectUri: need('TESTBED_REDIRECT_URI'),
    users: { alice: user('alice'), bob: user('bob'), carol: user('carol') },
    org: need('TESTBED_ORG'),
    stateDir: need('TESTBED_STATE_DIR'),
    envFile,
    pid: Number(need('TESTBED_PID')),
    children,
  };
}

/**
 * Env var naming the directory where this vitest run registers every instance it starts
 * (set by global-setup, inherited by the workers); the teardown uses it to find leftovers.
 */
export const REGISTRY_ENV = 'FJMCP_TESTBED_REGISTRY';

function register(tb: Testbed): void {
  const dir = process.env[REGISTRY_ENV];
  if (dir) appendFileSync(join(dir, 'instances'), `${tb.stateDir}\t${tb.giteaUrl}\n`);
}

/**
 * Starts a fresh Gitea (`scripts/testbed up`, ~5 s). Needs `scripts/testbed build` to have run
 * (global-setup does). Throws with the script's stderr when it fails.
 * @returns the instance plus `stop()`, which runs `scripts/testbed down` (idempotent).
 */
export async function startTestbed(opts: StartTestbedOptions = {}): Promise<Testbed & { stop(): Promise<void> }> {
  const env: Record<string, string> = {};
  if (opts.accessTokenTtlS !== undefined) env.TESTBED_ACCESS_TOKEN_TTL_S = String(opts.accessTokenTtlS);
  if (opts.invalidateRefreshTokens !== undefined) env.TESTBED_INVALIDATE_REFRESH_TOKENS = String(opts.invalidateRefreshTokens);
  const args = ['up', ...(opts.redirectUri ? ['--redirect-uri', opts.redirectUri] : [])];
  const r = await execa(testbedScript, args, { env, reject: false, stdin: 'ignore' });
  const envFile = r.stdout.trim().split('\n').pop() ?? '';
  if (r.exitCode !== 0 || !envFile) {
    throw new Error(`scripts/testbed up failed (exit ${r.exitCode}):\n${r.stderr}`);
  }
  const tb = testbedFromEnvFile(envFile);
  register(tb);
  let stopped: Promise<void> | undefined;
  return {
    ...tb,
    stop() {
      stopped ??= stopTestbed(tb);
      return stopped;
    },
  };
}

/** Runs `scripts/testbed down ENV_FILE`. Throws with its stderr when it fails. */
export async function stopTestbed(tb: Pick<Testbed, 'envFile'>): Promise<void> {
  const r = await execa(testbedScript, ['down', tb.envFile], { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0) throw new Error(`scripts/testbed down failed (exit ${r.exitCode}):\n${r.stderr}`);
}

/** `Authorization` header value for HTTP Basic with a test-bed user. */
export function basicAuth(tb: Testbed, user: TestbedUser = 'alice'): string {
  const u = tb.users[user];
  return `Basic ${Buffer.from(`${u.login}:${u.password}`).toString('base64')}`;
}

/**
 * Registers another OAuth2 application owned by alice: `POST /api/v1/user/applications/oauth2`
 * (Gitea 1.26, modules/structs/user_app.go). `confidential` defaults to true.
 * @throws Error with Gitea's status and body when it refuses.
 */
export async function createOAuthApp(
  tb: Testbed,
  opts: { redirectUris: string[]; confidential?: boolean; name?: string },
): Promise<{ clientId: string; clientSecret: string }> {
  const res = await fetch(`${tb.giteaUrl}/api/v1/user/applications/oauth2`, {
    method: 'POST',
    headers: { authorization: basicAuth(tb), 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({
      name: opts.name ?? `app-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`,
      redirect_uris: opts.redirectUris,
      confidential_client: opts.confidential ?? true,
      skip_secondary_authorization: false,
    }),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`creating OAuth app failed: ${res.status} ${text}`);
  const body = JSON.parse(text) as { client_id: string; client_secret: string };
  return { clientId: body.client_id, clientSecret: body.client_secret };
}

/** One of alice's OAuth2 applications as `GET /api/v1/user/applications/oauth2` lists it (Gitea 1.26). */
export type OAuthApp = { id: number; name: string; client_id: string; redirect_uris: string[]; confidential_client: boolean };

/**
 * Every OAuth2 application of alice, all pages: the suite's files register theirs at the same
 * time, so one page (50) is soon not all of them.
 */
export async function oauthApps(tb: Testbed): Promise<OAuthApp[]> {
  const all: OAuthApp[] = [];
  for (let page = 1; ; page++) {
    const res = await fetch(`${tb.giteaUrl}/api/v1/user/applications/oauth2?limit=50&page=${page}`, { headers: { authorization: basicAuth(tb) } });
    if (res.status !== 200) throw new Error(`listing OAuth apps failed: ${res.status} ${await res.text()}`);
    const apps = (await res.json()) as OAuthApp[];
    all.push(...apps);
    if (apps.length < 50) return all;
  }
}

/**
 * The numeric id of alice's OAuth2 application with `clientId`.
 * @throws Error when no page lists it.
 */
export async function oauthAppId(tb: Testbed, clientId: string): Promise<number> {
  const app = (await oauthApps(tb)).find((a) => a.client_id === clientId);
  if (!app) throw new Error(`OAuth app ${clientId} not listed`);
  return app.id;
}

/** The one shared instance started by test/support/global-setup.ts (vitest `inject`). */
export function sharedTestbed(): Testbed {
  const tb = inject('testbed');
  if (!tb) throw new Error('no shared test bed: is test/support/global-setup.ts in vitest globalSetup?');
  return tb;
}

/** Where `scripts/testbed build` caches Gitea and the children (mirrors the script). */
export function testbedCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'fjmcp-testbed', 'gitea-v1.26.0');
}

/** The children availability record written by `scripts/testbed build` (`children.env`). */
export function readChildrenEnv(): Record<string, string> {
  return parseEnvFile(join(testbedCacheDir(), 'children.env'));
}

declare module 'vitest' {
  export interface ProvidedContext {
    testbed: Testbed;
  }
}
