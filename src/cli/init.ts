/**
 * @module cli/init
 * `fjmcp-broker init`: registers the broker's confidential OAuth2 application on the forge with the
 * redirect URI `${public URL}/oauth/callback`, generates an encryption key and writes a 0600 env
 * file that `fjmcp-broker serve` (or the Quadlet unit's EnvironmentFile=) starts from.
 *
 * The forge token is read from a file (`--token-file`) or from `FJMCP_INIT_FORGE_TOKEN`, never from
 * argv: a command line is readable by every local user (`ps`, /proc/PID/cmdline) and lands in
 * shell history. Neither the token nor the client secret is ever printed.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Env } from '../config.js';
import { renderEnvFile } from './env-file.js';
import { ForgeAppError, createForgeOAuthApp, deleteForgeOAuthApp } from './forge-apps.js';

/** Where `init` writes: `write(text)` like process.stdout/stderr. */
export interface InitIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export const INIT_USAGE = `Usage: fjmcp-broker init --forge-url URL --public-url URL [--token-file PATH] [--out PATH] [--name NAME] [--force]

Registers the broker as a confidential OAuth2 application on Forgejo/Gitea (redirect URI
<public-url>/oauth/callback), generates FJMCP_ENCRYPTION_KEYS and writes an env file (mode 0600).

  --forge-url URL     base URL of the forge, e.g. https://forge.example.org
  --public-url URL    public HTTPS URL of the broker, e.g. https://mcp.example.org
  --token-file PATH   file holding a forge access token with the "write:user" scope
                      (or set FJMCP_INIT_FORGE_TOKEN; a token is never accepted on the command line,
                      where every local user can read it with ps and it stays in shell history)
  --out PATH          env file to write (default ./fjmcp-broker.env); never overwritten without --force
  --name NAME         application name shown on the forge (default "fjmcp-broker <public host>")
  --force             replace an existing --out file
`;

/** Exit codes: 0 done, 1 the forge or the file system failed, 2 bad usage. */
const USAGE = 2;
const FAILED = 1;

function fail(io: InitIo, code: number, msg: string): number {
  io.stderr.write(`fjmcp-broker init: ${msg}\n`);
  if (code === USAGE) io.stderr.write('Run "fjmcp-broker init --help" for usage.\n');
  return code;
}

/** Writes `text` to `path` with mode 0600: exclusively when new, through a 0600 temp file + rename with --force. */
function writeSecretFile(path: string, text: string, force: boolean): void {
  if (!force) {
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    chmodSync(path, 0o600);
    return;
  }
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  try {
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Runs `init`.
 * @param argv the arguments after `init`.
 * @param env the process environment (only `FJMCP_INIT_FORGE_TOKEN` is read).
 * @returns the exit code (0 done, 1 forge or file failure, 2 usage error); never throws.
 */
export async function runInit(argv: string[], env: Env, io: InitIo): Promise<number> {
  if (argv.some((a) => a === '--token' || a.startsWith('--token='))) {
    return fail(io, USAGE, 'a token is not accepted on the command line (other local users can read it with ps, and it stays in shell history): use --token-file PATH or FJMCP_INIT_FORGE_TOKEN');
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'forge-url': { type: 'string' },
        'public-url': { type: 'string' },
        'token-file': { type: 'string' },
        out: { type: 'string', default: './fjmcp-broker.env' },
        name: { type: 'string' },
        force: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    return fail(io, USAGE, (err as Error).message);
  }
  if (values.help) {
    io.stdout.write(INIT_USAGE);
    return 0;
  }
  if (!values['forge-url'] || !values['public-url']) return fail(io, USAGE, '--forge-url and --public-url are required');

  // Validate both URLs with the broker's own rules before touching the forge.
  const keys = randomBytes(32).toString('base64');
  let forgeUrl: string;
  let issuer: string;
  try {
    const probe = loadConfig({
      FJMCP_PUBLIC_URL: values['public-url'],
      FJMCP_FORGE_URL: values['forge-url'],
      FJMCP_FORGE_CLIENT_ID: 'probe',
      FJMCP_FORGE_CLIENT_SECRET: 'probe',
      FJMCP_ENCRYPTION_KEYS: keys,
    });
    forgeUrl = probe.forge.url.href.replace(/\/+$/, '');
    issuer = probe.issuer;
  } catch (err) {
    if (err instanceof ConfigError) return fail(io, USAGE, err.problems.map((p) => p.replace(/^FJMCP_PUBLIC_URL/, '--public-url').replace(/^FJMCP_FORGE_URL/, '--forge-url')).join('; '));
    throw err;
  }
  const redirectUri = `${issuer}/oauth/callback`;

  let token: string;
  const tokenFile = values['token-file'];
  if (tokenFile) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
      if ((statSync(tokenFile).mode & 0o077) !== 0) io.stderr.write(`fjmcp-broker init: warning: ${tokenFile} is readable by other users; chmod 0600 it\n`);
    } catch (err) {
      return fail(io, USAGE, `cannot read --token-file ${tokenFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  } else token = (env.FJMCP_INIT_FORGE_TOKEN ?? '').trim();
  if (!token) return fail(io, USAGE, 'no forge token: pass --token-file PATH or set FJMCP_INIT_FORGE_TOKEN');

  const out = resolve(values.out);
  if (existsSync(out) && !values.force) return fail(io, FAILED, `${out} exists; pass --force to replace it (its old client secret and encryption key are then lost)`);
  if (!existsSync(dirname(out))) return fail(io, FAILED, `directory ${dirname(out)} does not exist`);

  const name = values.name ?? `fjmcp-broker ${new URL(issuer).host}`;
  let app;
  try {
    app = await createForgeOAuthApp(forgeUrl, token, { name, redirectUris: [redirectUri] });
  } catch (err) {
    if (err instanceof ForgeAppError) return fail(io, FAILED, err.message);
    return fail(io, FAILED, `unexpected error talking to the forge: ${(err as Error).message}`);
  }

  const text = renderEnvFile({
    header: [
      `fjmcp-broker settings written by \`fjmcp-broker init\` on ${new Date().toISOString()}.`,
      `OAuth2 application "${name}" on ${forgeUrl} (redirect URI ${redirectUri}).`,
      'Holds the client secret and the encryption key: keep it mode 0600 and back it up with the',
      'database (the key is needed to read the forge tokens stored there).',
    ],
    values: {
      FJMCP_PUBLIC_URL: issuer,
      FJMCP_FORGE_URL: forgeUrl,
      FJMCP_FORGE_CLIENT_ID: app.clientId,
      FJMCP_FORGE_CLIENT_SECRET: app.clientSecret,
      FJMCP_ENCRYPTION_KEYS: keys,
    },
  });
  try {
    writeSecretFile(out, text, values.force);
  } catch (err) {
    const undone = await deleteForgeOAuthApp(forgeUrl, token, app.id);
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return fail(
      io,
      FAILED,
      `cannot write ${out} (${code}); ${undone ? 'the new OAuth2 application was deleted again' : `delete the OAuth2 application "${name}" (id ${app.id}) on the forge by hand`}`,
    );
  }

  io.stdout.write(
    [
      `Registered OAuth2 application "${name}" on ${forgeUrl}`,
      `  client ID:    ${app.clientId}`,
      `  redirect URI: ${redirectUri}`,
      `Wrote ${out} (mode 0600) with the client secret and a new encryption key.`,
      '',
      'Next steps:',
      `  1. Publish ${issuer} through Caddy (deploy/caddy/Caddyfile, docs/deploy-caddy.md).`,
      '  2. Rootless podman: install -m 0600 this file as ~/.config/fjmcp-broker/fjmcp-broker.env,',
      '     copy deploy/podman/fjmcp-broker.container to ~/.config/containers/systemd/, then',
      '     systemctl --user daemon-reload && systemctl --user start fjmcp-broker (docs/deploy-podman.md).',
      `     Without a container: node --env-file=${out} dist/src/main.js serve`,
      `  3. Check ${issuer}/healthz, then add ${issuer}/mcp as a custom connector in Claude.ai.`,
      '  4. The token used here is no longer needed by the broker; revoke it on the forge if it was made for this.',
      '',
    ].join('\n'),
  );
  return 0;
}
