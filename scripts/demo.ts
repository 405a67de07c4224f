/**
 * `make demo`: starts a throw-away Gitea (scripts/testbed up), then the broker on loopback in
 * front of it with two MCP servers — the gitea-mcp child at /mcp and server-everything (a
 * stand-in second server, from the policy file's `servers`) at /mcp/everything — and prints what
 * a person needs to connect an MCP client to each.
 * Ctrl-C (or SIGTERM) stops the broker, its children and Gitea; nothing is left running.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/server.js';
import { createLogger } from '../src/ops/log.js';

const root = new URL('..', import.meta.url).pathname;

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer().once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
async function pickPort(): Promise<number> {
  const wanted = Number(process.env.DEMO_PORT ?? 8787);
  if (await portIsFree(wanted)) return wanted;
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function readEnvFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

const port = await pickPort();
const base = `http://127.0.0.1:${port}`;
console.log('Starting a local Gitea (test bed)…');
const envFile = execFileSync(join(root, 'scripts/testbed'), ['up', '--redirect-uri', `${base}/oauth/callback`], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
}).trim().split('\n').pop()!;
const tb = readEnvFile(envFile);
const down = () => {
  try {
    execFileSync(join(root, 'scripts/testbed'), ['down', envFile], { stdio: 'inherit' });
  } catch {
    /* reported by the script itself */
  }
};

const childBin = tb.TESTBED_GITEA_MCP_BIN || tb.TESTBED_NPM_GITEA_MCP_BIN;
if (!childBin) {
  down();
  throw new Error('no gitea-mcp child was installed; run scripts/testbed build');
}
const dataDir = mkdtempSync(join(tmpdir(), 'fjmcp-demo-'));
const logFile = join(dataDir, 'broker.log');
// The second server: server-everything (a devDependency) stands in for gitea-robot, which cannot
// be built here. It gets the person's forge token like any child, under a name it ignores.
const everything = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/dist/index.js');
const policyFile = join(dataDir, 'policy.yaml');
writeFileSync(policyFile, `# make demo: two MCP servers (docs/policy.md §Servers)
servers:
  everything:
    title: Everything (stand-in second server)
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(everything)}, stdio]
    token_env: EVERYTHING_FORGE_TOKEN
rules:
  # server-everything's get-env prints its environment, the person's forge token included: a
  # forge token must never reach the AI client (docs/design.md §Security model).
  - servers: [everything]
    people: { everyone: true }
    tools: { deny: [get-env] }
`);
const config = loadConfig({
  FJMCP_PUBLIC_URL: base,
  FJMCP_LISTEN_PORT: String(port),
  // The operator listener (/metrics, detailed /healthz) on any free loopback port, printed below.
  FJMCP_OPS_LISTEN: process.env.FJMCP_OPS_LISTEN ?? '127.0.0.1:0',
  FJMCP_DATA_DIR: dataDir,
  FJMCP_FORGE_URL: tb.TESTBED_GITEA_URL,
  FJMCP_FORGE_CLIENT_ID: tb.TESTBED_OAUTH_CLIENT_ID,
  FJMCP_FORGE_CLIENT_SECRET: tb.TESTBED_OAUTH_CLIENT_SECRET,
  FJMCP_ENCRYPTION_KEYS: randomBytes(32).toString('base64'),
  FJMCP_CHILD_PRESET: tb.TESTBED_GITEA_MCP_BIN ? 'gitea-mcp' : 'gitea-mcp-npm',
  FJMCP_CHILD_COMMAND: childBin,
  // auto, not the default required: a newcomer's machine may lack bubblewrap or unprivileged user
  // namespaces; the demo then still works, with a loud warning in the log and in the operator /healthz.
  FJMCP_CHILD_SANDBOX: process.env.FJMCP_CHILD_SANDBOX ?? 'auto',
  FJMCP_LOG_LEVEL: 'info',
  FJMCP_POLICY_FILE: policyFile,
});
const everythingUrl = `${config.mcpUrl}/everything`;
let broker: Awaited<ReturnType<typeof startServer>>;
try {
  broker = await startServer(config, { log: createLogger('info', createWriteStream(logFile)) });
} catch (err) {
  down();
  throw err;
}

console.log(`
The broker runs in front of Gitea ${tb.TESTBED_GITEA_VERSION} at ${tb.TESTBED_GITEA_URL}.

MCP URL: ${config.mcpUrl}
Second MCP server (server-everything, a stand-in): ${everythingUrl}

Sign in with:   alice / ${tb.TESTBED_PASSWORD_ALICE}   (or bob / ${tb.TESTBED_PASSWORD_BOB}, carol / ${tb.TESTBED_PASSWORD_CAROL})

MCP Inspector:  npx @modelcontextprotocol/inspector
                Transport "Streamable HTTP", URL ${config.mcpUrl}, then "Open Auth Settings" → "Quick OAuth Flow"
                (or: npx @modelcontextprotocol/inspector --cli ${config.mcpUrl} --transport http --method tools/list)
Claude Code:    claude mcp add --transport http forge ${config.mcpUrl}
                claude mcp add --transport http everything ${everythingUrl}
                then /mcp in Claude Code and choose "Authenticate" for each (one consent each; the forge
                remembers the broker, so the second sign-in does not ask for the password again)

The browser shows the broker's consent page, then Gitea's login and approval.
Operator:       http://127.0.0.1:${broker.opsPort}/healthz (detail) and /metrics (loopback only)
Broker log (JSON lines): ${logFile}
Press Ctrl-C to stop everything.
`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('\nStopping the broker and Gitea…');
  await broker.close(2_000);
  down();
  rmSync(dataDir, { recursive: true, force: true });
  console.log('Stopped; nothing left running.');
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
