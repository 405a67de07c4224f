/**
 * @module test/support/standin-browser — a STAND-IN for the desktop browser that third-party CLI
 * clients (mcp-remote, the MCP Inspector CLI) open for OAuth sign-in. There is no desktop here,
 * so a small `xdg-open` script, first on PATH and named in `$BROWSER`, hands each URL it is asked
 * to open to the test, which then drives the sign-in with the headless driver and delivers the
 * redirect to the client's own loopback callback, as a person's browser would.
 *
 * Both clients open URLs with the npm package `open`, whose bundled freedesktop `xdg-open` runs
 * `$BROWSER` when no desktop is detected (xdg-utils `open_generic`); mcp-remote's own fallbacks
 * then try `xdg-open` and friends. Setting both covers every path without patching the clients.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface StandinBrowser {
  /** Environment for the client process: PATH with the stand-in first, and BROWSER. */
  env: Record<string, string>;
  /** The next URL the client asked to open (already-received ones first). */
  nextUrl(timeoutMs?: number): Promise<URL>;
  close(): Promise<void>;
}

export async function startStandinBrowser(): Promise<StandinBrowser> {
  const dir = mkdtempSync(join(tmpdir(), 'fjmcp-standin-browser-'));
  const queue: URL[] = [];
  const waiters: Array<(u: URL) => void> = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      res.end('ok');
      const url = new URL(body);
      const w = waiters.shift();
      if (w) w(url);
      else queue.push(url);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const inbox = `http://127.0.0.1:${(server.address() as { port: number }).port}/open`;
  // Absolute node path: the client may run with a PATH that has no node on it.
  const script = `#!${process.execPath}
// STAND-IN for xdg-open (fjmcp tests): hands the URL to the test instead of a desktop browser.
const url = process.argv[2];
fetch(${JSON.stringify(inbox)}, { method: 'POST', body: url }).then(() => process.exit(0), () => process.exit(1));
`;
  const opener = join(dir, 'xdg-open');
  writeFileSync(opener, script, { mode: 0o755 });
  return {
    env: { PATH: `${dir}:${process.env.PATH ?? ''}`, BROWSER: opener },
    nextUrl(timeoutMs = 30_000) {
      const ready = queue.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise<URL>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`the client opened no browser within ${timeoutMs} ms`)), timeoutMs);
        waiters.push((u) => {
          clearTimeout(t);
          resolve(u);
        });
      });
    },
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
