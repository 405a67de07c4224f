#!/usr/bin/env node
/**
 * @module main
 * The `fjmcp-broker` command: `serve` runs the broker from environment settings, `init` registers
 * the broker's OAuth2 application on the forge and writes an env file, `--help` lists every
 * setting. Exit codes: 0 ok, 1 runtime failure, 2 bad configuration or usage.
 */
import { ConfigError, loadConfig, settingsHelp } from './config.js';
import { startServer } from './server.js';
import { PolicyFileError } from './policy/policy-file.js';
import { runInit } from './cli/init.js';
import { runMigrateStore } from './cli/migrate-store.js';
import { runAdmin } from './cli/admin.js';
import { PACKAGE } from './version.js';

const USAGE = `${PACKAGE.name} ${PACKAGE.version}
Usage:
  fjmcp-broker serve        run the broker (settings from the environment, below)
  fjmcp-broker init --help  register the broker on a forge and write an env file
  fjmcp-broker migrate-store --help  copy the SQLite store into PostgreSQL (moving to replicas)
  fjmcp-broker admin --help see and cut connections on the store of a running broker
  fjmcp-broker --version
  fjmcp-broker --help

Settings (environment variables; any of them may instead be read from the file named by NAME_FILE):
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(`${USAGE}${settingsHelp()}\n`);
    return cmd ? 0 : 2;
  }
  if (cmd === '--version' || cmd === '-v') {
    process.stdout.write(`${PACKAGE.version}\n`);
    return 0;
  }
  if (cmd === 'init') return runInit(rest, process.env, { stdout: process.stdout, stderr: process.stderr });
  if (cmd === 'migrate-store') return runMigrateStore(rest, process.env, { stdout: process.stdout, stderr: process.stderr });
  if (cmd === 'admin') return runAdmin(rest, process.env, { stdout: process.stdout, stderr: process.stderr });
  if (cmd !== 'serve') {
    process.stderr.write(`unknown command ${JSON.stringify(cmd)}; see fjmcp-broker --help\n`);
    return 2;
  }
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`fjmcp-broker: ${err.message}\nSee fjmcp-broker --help.\n`);
      return 2;
    }
    throw err;
  }
  let broker;
  try {
    broker = await startServer(config);
  } catch (err) {
    if (err instanceof PolicyFileError) {
      process.stderr.write(`fjmcp-broker: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  // SIGHUP reloads the tool policy; a bad file keeps the previous one (logged, and in /healthz detail).
  process.on('SIGHUP', () => broker.ctx.policy.reload());
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      broker.ctx.log.info({ signal }, 'signal received');
      void broker.close().then(resolve, (err) => {
        broker.ctx.log.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`fjmcp-broker: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
