/**
 * @module test/relay/injecting-proxy
 * A loopback HTTP proxy that forwards every request unchanged (method, path, all headers incl.
 * Host and Origin, streamed body) to the broker and adds fixed headers: the conformance suite's
 * runner cannot send credentials itself.
 */
import { createServer, request, type Server } from 'node:http';

export interface InjectingProxy { url: string; close(): Promise<void> }

/** @param target broker origin, e.g. http://127.0.0.1:1234 */
export async function startInjectingProxy(target: string, inject: Record<string, string>): Promise<InjectingProxy> {
  const t = new URL(target);
  const server: Server = createServer((req, res) => {
    const up = request(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, ...inject } },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
