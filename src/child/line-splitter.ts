/**
 * @module child/line-splitter
 * Splits a child's stdout into newline-delimited JSON-RPC messages in linear time: each chunk is
 * scanned once for `\n`, and the pieces of one message are joined once when it completes (the
 * SDK's `ReadBuffer` re-concatenates per chunk, O(n²) on big lines: typescript-sdk PR#2245).
 * @see MCP 2025-11-25 basic/transports §stdio (messages are newline-delimited, no embedded newlines)
 */

/** Raised (through `onError`) when one message grows past the cap; the caller restarts the child. */
export class MessageTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`MCP server wrote a message larger than ${maxBytes} bytes (FJMCP_MAX_MESSAGE_BYTES)`);
    this.name = 'MessageTooLargeError';
  }
}

export class LineSplitter {
  #pieces: Buffer[] = [];
  #pending = 0;
  #failed = false;

  /**
   * @param maxBytes largest message in bytes, newline excluded.
   * @param onLine receives each complete line (without `\n`, a trailing `\r` removed).
   * @param onError receives {@link MessageTooLargeError} once; the splitter then ignores input.
   */
  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onError: (err: MessageTooLargeError) => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.#failed) return;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      const len = this.#pending + (nl - start);
      if (len > this.maxBytes) return this.#fail();
      let line: Buffer;
      if (this.#pieces.length === 0) line = chunk.subarray(start, nl);
      else {
        this.#pieces.push(chunk.subarray(start, nl));
        line = Buffer.concat(this.#pieces, len);
        this.#pieces = [];
        this.#pending = 0;
      }
      start = nl + 1;
      let end = line.length;
      if (end > 0 && line[end - 1] === 0x0d) end--;
      if (end > 0) this.onLine(line.toString('utf8', 0, end));
    }
    if (start < chunk.length) {
      this.#pending += chunk.length - start;
      if (this.#pending > this.maxBytes) return this.#fail();
      this.#pieces.push(start === 0 ? chunk : chunk.subarray(start));
    }
  }

  #fail(): void {
    this.#failed = true;
    this.#pieces = [];
    this.#pending = 0;
    this.onError(new MessageTooLargeError(this.maxBytes));
  }
}
