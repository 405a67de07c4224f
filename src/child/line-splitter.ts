/**
 * @module child/line-splitter
 * Splits a child's stdout into newline-delimited JSON-RPC messages in linear time: each chunk is
 * scanned once for `\n` (the SDK's `ReadBuffer` re-concatenates per chunk, O(n²) on big lines:
 * typescript-sdk PR#2245). A message that spans chunks is kept as the chunks it arrived in (views,
 * no joined copy); one of at least {@link RAW_LINE_MIN_BYTES} is handed on as those bytes (to be
 * parsed without decoding its large strings: lib/raw-json), a smaller one as its text.
 * @see MCP 2025-11-25 basic/transports §stdio (messages are newline-delimited, no embedded newlines)
 */
import { RAW_LINE_MIN_BYTES } from '../lib/raw-json.js';

/** Raised (through `onError`) when one message grows past the cap; the caller restarts the child. */
export class MessageTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`MCP server wrote a message larger than ${maxBytes} bytes (FJMCP_MAX_MESSAGE_BYTES)`);
    this.name = 'MessageTooLargeError';
  }
}

export class LineSplitter {
  /** The bytes so far of the message that spans chunks (views of the chunks). */
  #pieces: Buffer[] = [];
  /** Their length in bytes. */
  #pending = 0;
  #failed = false;

  /**
   * @param maxBytes largest message in bytes, newline excluded.
   * @param onLine receives each complete line (without `\n`, a trailing `\r` removed) as text...
   * @param onError receives {@link MessageTooLargeError} once; the splitter then ignores input.
   * @param onLargeLine ...or, for a line of at least {@link RAW_LINE_MIN_BYTES} that spans chunks,
   *   as its bytes in order (views of the chunks; not copied, not reused by the splitter).
   */
  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onError: (err: MessageTooLargeError) => void,
    private readonly onLargeLine: (pieces: Buffer[]) => void = (pieces) => onLine(Buffer.concat(pieces).toString('utf8')),
  ) {}

  push(chunk: Buffer): void {
    if (this.#failed) return;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      const len = this.#pending + (nl - start);
      if (len > this.maxBytes) return this.#fail();
      if (this.#pending === 0) {
        const end = nl > start && chunk[nl - 1] === 0x0d ? nl - 1 : nl;
        if (end > start) this.onLine(chunk.toString('utf8', start, end));
      } else {
        const pieces = this.#pieces;
        if (nl > start) pieces.push(chunk.subarray(start, nl));
        this.#pieces = [];
        this.#pending = 0;
        this.#line(pieces, len);
      }
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.#pending += chunk.length - start;
      if (this.#pending > this.maxBytes) return this.#fail();
      this.#pieces.push(start === 0 ? chunk : chunk.subarray(start));
    }
  }

  /** A line that spanned chunks: `bytes` long, `\r` not yet removed. */
  #line(pieces: Buffer[], bytes: number): void {
    const last = pieces[pieces.length - 1]!;
    if (last[last.length - 1] === 0x0d) {
      pieces[pieces.length - 1] = last.subarray(0, last.length - 1);
      bytes--;
    }
    if (bytes >= RAW_LINE_MIN_BYTES) return this.onLargeLine(pieces);
    if (bytes > 0) this.onLine(Buffer.concat(pieces, bytes).toString('utf8'));
  }

  #fail(): void {
    this.#failed = true;
    this.#pieces = [];
    this.#pending = 0;
    this.onError(new MessageTooLargeError(this.maxBytes));
  }
}
