/**
 * @module test/support/ports — a free loopback TCP port, in a module of its own so tests that
 * need only a port do not load the whole broker.
 */
import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
