/**
 * @module test/deploy/caddy-support
 * Runs Debian's caddy (2.6.2 in CI, `/usr/bin/caddy` or `$CADDY`) on the shipped
 * `deploy/caddy/Caddyfile`: validate, adapt to JSON, and run an adapted copy on loopback ports with
 * `tls internal`. Every caddy runs with its own XDG dirs so its internal CA stays in the test's
 * temp dir and nothing touches the machine's trust store.
 */
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { SETTINGS } from '../../src/config.js';

export const SHIPPED_CADDYFILE = resolve(import.meta.dirname, '../../deploy/caddy/Caddyfile');
export const CADDY = process.env.CADDY ?? '/usr/bin/caddy';
/** FJMCP_MAX_BODY_BYTES' default: the request-body cap both shipped Caddyfiles must hold to. */
export const MAX_BODY_BYTES = Number(SETTINGS.find((s) => s.name === 'FJMCP_MAX_BODY_BYTES')!.default);
/** The placeholders the shipped file uses for the operator's host and the broker's address. */
export const SHIPPED_HOST = 'mcp.example.org';
export const SHIPPED_UPSTREAM = '127.0.0.1:8787';

/** A scratch dir with XDG_DATA_HOME/XDG_CONFIG_HOME for one caddy, so its CA and certs stay there. */
export function caddyEnv(dir: string): Record<string, string> {
  return { XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config'), HOME: dir };
}

/** `caddy validate`; resolves with the exit code and the combined output. */
export async function validate(file: string): Promise<{ exitCode: number; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'caddy-validate-'));
  try {
    const r = await execa(CADDY, ['validate', '--adapter', 'caddyfile', '--config', file], { env: caddyEnv(dir), reject: false, all: true });
    return { exitCode: r.exitCode ?? -1, output: r.all ?? '' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `caddy adapt` → the JSON config Caddy would run. */
export async function adapt(file: string): Promise<CaddyJson> {
  const dir = mkdtempSync(join(tmpdir(), 'caddy-adapt-'));
  try {
    const r = await execa(CADDY, ['adapt', '--adapter', 'caddyfile', '--config', file], { env: caddyEnv(dir) });
    return JSON.parse(r.stdout) as CaddyJson;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CaddyJson = any;

/**
 * The shipped Caddyfile adapted for a test, and nothing else: the public host becomes `localhost`
 * on a loopback HTTPS port with `tls internal`, the upstream becomes the test broker's port, the
 * HTTP (redirect) port and the admin endpoint move to free loopback ports.
 */
export function adaptForLoopback(text: string, o: { httpsPort: number; httpPort: number; adminPort: number; upstreamPort: number }): string {
  if (!text.includes(`${SHIPPED_HOST} {`) || !text.includes(`reverse_proxy ${SHIPPED_UPSTREAM} {`) || !/^\{$/m.test(text)) {
    throw new Error('shipped Caddyfile changed shape: update adaptForLoopback');
  }
  return text
    .replace(/^\{$/m, `{\n\thttp_port ${o.httpPort}\n\thttps_port ${o.httpsPort}\n\tadmin 127.0.0.1:${o.adminPort}\n\tskip_install_trust\n`)
    .replace(`${SHIPPED_HOST} {`, `localhost:${o.httpsPort} {\n\ttls internal\n\tbind 127.0.0.1`)
    .replace(`reverse_proxy ${SHIPPED_UPSTREAM} {`, `reverse_proxy 127.0.0.1:${o.upstreamPort} {`);
}

/** A running caddy; `stop()` ends it and removes its scratch dir. */
export interface RunningCaddy {
  dir: string;
  /** PEM of caddy's local root CA (`tls internal`), to trust in the test's HTTPS client. */
  rootCaPem: string;
  logs: () => string;
  stop: () => Promise<void>;
}

/** Runs `caddy run` on `caddyfileText` and waits until its internal root CA exists and `probeUrl` answers. */
export async function runCaddy(caddyfileText: string, waitFor: () => Promise<boolean>): Promise<RunningCaddy> {
  const dir = mkdtempSync(join(tmpdir(), 'caddy-run-'));
  const file = join(dir, 'Caddyfile');
  writeFileSync(file, caddyfileText);
  let out = '';
  const proc: ResultPromise = execa(CADDY, ['run', '--adapter', 'caddyfile', '--config', file], {
    env: caddyEnv(dir),
    extendEnv: false,
    reject: false,
    all: true,
    forceKillAfterDelay: 3000,
  });
  proc.all?.on('data', (d: Buffer) => (out += d.toString()));
  const rootPath = join(dir, 'data', 'caddy', 'pki', 'authorities', 'local', 'root.crt');
  const stop = async () => {
    proc.kill('SIGTERM');
    await proc;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`caddy exited early:\n${out}`);
    if (existsSync(rootPath) && (await waitFor().catch(() => false))) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`caddy did not come up in 20 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { dir, rootCaPem: readFileSync(rootPath, 'utf8'), logs: () => out, stop };
}

/** Walks an adapted JSON config and returns every object with `handler === name`. */
export function handlers(node: CaddyJson, name: string, found: CaddyJson[] = []): CaddyJson[] {
  if (Array.isArray(node)) node.forEach((n) => handlers(n, name, found));
  else if (node && typeof node === 'object') {
    if (node.handler === name) found.push(node);
    Object.values(node).forEach((n) => handlers(n, name, found));
  }
  return found;
}

/**
 * Content-Length values around `max`, and whether Caddy must refuse each: `max` plus and minus each
 * power of ten up to 10^9 (one value per digit the pattern has to compare), leading zeros (Go
 * accepts them), and a length past 2^64.
 */
function declaredLengths(max: number): [string, boolean][] {
  const out: [string, boolean][] = [['0', false], [String(max), false], [`00${max}`, false], [`00${max + 1}`, true], ['18446744073709551616', true]];
  for (let p = 1; p <= 1e9; p *= 10) {
    out.push([String(max + p), true]);
    if (max - p >= 0) out.push([String(max - p), false]);
  }
  return out;
}

/**
 * What both shipped Caddyfiles must hold for request bodies (caddyserver/caddy#5431): the proxy
 * reads each body whole before sending it on (`buffer_requests`), bodies are capped at
 * `maxBodyBytes` (FJMCP_MAX_BODY_BYTES' default) by `request_body`, and a body declared larger is
 * answered 413 by a route that comes before the proxy's, so the cap never cuts a body that
 * declares its length. Returns the failures, empty when all hold.
 */
export function requestBodyRules(json: CaddyJson, maxBodyBytes: number): string[] {
  const failures: string[] = [];
  const [proxy] = handlers(json, 'reverse_proxy');
  if (proxy?.buffer_requests !== true) failures.push('reverse_proxy does not buffer requests');
  if (proxy?.max_buffer_size !== undefined) failures.push('max_buffer_size set: Caddy 2.6.2 then hands the transport the client\'s body after the buffer, and the race is back');
  const caps = handlers(json, 'request_body').map((h) => h.max_size);
  if (caps.length !== 1 || caps[0] !== maxBodyBytes) failures.push(`request_body max_size ${JSON.stringify(caps)}, want [${maxBodyBytes}]`);
  const routes = json.apps.http.servers.srv0.routes[0].handle[0].routes as CaddyJson[];
  const refusing = routes.findIndex((r) => r.match?.[0]?.header_regexp?.['Content-Length'] && handlers(r, 'static_response')[0]?.status_code === 413);
  const proxying = routes.findIndex((r) => handlers(r, 'reverse_proxy').length > 0);
  if (refusing < 0 || refusing > proxying) failures.push(`the 413 route (index ${refusing}) does not come before the proxy's (index ${proxying})`);
  else {
    // Caddy matches with Go's RE2; this pattern uses nothing whose meaning differs in JavaScript.
    const pattern = new RegExp(routes[refusing].match[0].header_regexp['Content-Length'].pattern as string);
    for (const [length, refused] of declaredLengths(maxBodyBytes)) if (pattern.test(length) !== refused) failures.push(`Content-Length ${length}: ${refused ? 'not refused' : 'refused'}`);
  }
  return failures;
}
