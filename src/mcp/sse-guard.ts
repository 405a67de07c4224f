/**
 * @module mcp/sse-guard
 * Wraps an SSE response body from the SDK transport: writes a comment at once (Cloudflare and
 * Claude.ai's proxy wait for a first byte: mcp-transport-notes §6), bounds what may wait for a
 * slow client (the SDK's `enqueue` ignores `desiredSize`), and reports when the stream ends for
 * any reason (client gone, closed by the server, overflow) exactly once.
 */

/** Bytes of SSE that may wait for one slow client before its stream is cut, default 8 MiB. */
export const SSE_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
const OPEN_COMMENT = new TextEncoder().encode(': stream open\n\n');

/**
 * @param res the transport's response; returned as is unless it is `text/event-stream`.
 * @param signal the request's abort signal (client disconnect).
 * @param onClose called once when the wrapped stream ends.
 */
export function guardSse(res: Response, signal: AbortSignal, onOpen: () => void, onClose: () => void, maxBuffered = SSE_MAX_BUFFERED_BYTES): Response {
  if (!res.body || !res.headers.get('content-type')?.startsWith('text/event-stream')) return res;
  const reader = res.body.getReader();
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    signal.removeEventListener('abort', onAbort);
    reader.cancel().catch(() => {});
    onClose();
  };
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  const onAbort = () => {
    try {
      ctrl.close();
    } catch { /* already closed */ }
    finish();
  };
  onOpen();
  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        ctrl = c;
        c.enqueue(OPEN_COMMENT);
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        void (async () => {
          try {
            for (;;) {
              const r = await reader.read();
              if (done) return;
              if (r.done) {
                c.close();
                return finish();
              }
              c.enqueue(r.value);
              // Cut only when what waited *before* this chunk is over the bound, so one message
              // larger than the bound (up to FJMCP_MAX_MESSAGE_BYTES) still goes through.
              if (maxBuffered - (c.desiredSize ?? 0) - r.value.byteLength > maxBuffered) {
                c.error(new Error(`SSE client too slow: more than ${maxBuffered} bytes waiting`));
                return finish();
              }
            }
          } catch {
            try {
              c.close();
            } catch { /* errored already */ }
            finish();
          }
        })();
      },
      cancel: finish,
    },
    { highWaterMark: maxBuffered, size: (chunk) => chunk.byteLength },
  );
  const headers = new Headers(res.headers);
  headers.set('x-accel-buffering', 'no');
  headers.set('cache-control', 'no-cache, no-transform');
  // Said explicitly so @hono/node-server sends the headers at once and streams from there. Without
  // it, node-server first tries to read the whole body without blocking (to send a Content-Length)
  // and, when the first chunk is there but the second is not, waits a timer turn (>= 1 ms, more on
  // a busy machine) on every SSE response before it writes anything. HTTP/1.1 framing only; the
  // broker's listener is HTTP/1.1.
  headers.set('transfer-encoding', 'chunked');
  return new Response(body, { status: res.status, headers });
}
