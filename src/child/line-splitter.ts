/**
 * @module child/line-splitter
 * Splits a child's stdout into newline-delimited JSON-RPC messages in linear time: each chunk is
 * scanned once for `\n` (the SDK's `ReadBuffer` re-concatenates per chunk, O(n²) on big lines:
 * typescript-sdk PR#2245). A message that spans chunks is decoded piece by piece as the chunks
 * arrive, so its bytes are not kept beside its text: a large message is held once as bytes in
 * flight and once as text, not as pieces, a joined copy and the text.
 * @see MCP 2025-11-25 basic/transports §stdio (messages are newline-delimited, no embedded newlines)
 */
import { StringDecoder } from 'node:string_decoder';

/** Raised (through `onError`) when one message grows past the cap; the caller restarts the child. */
export class MessageTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`MCP server wrote a message larger than ${maxBytes} bytes (FJMCP_MAX_MESSAGE_BYTES)`);
    this.name = 'MessageTooLargeError';
  }
}

export class LineSplitter {
  /** Text decoded so far of the message that spans chunks. */
  #text = '';
  /** Its length in bytes. */
  #pending = 0;
  readonly #decoder = new StringDecoder('utf8');
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
      let line: string;
      if (this.#pending === 0) line = chunk.toString('utf8', start, nl);
      else {
        line = this.#text + this.#decoder.end(chunk.subarray(start, nl));
        this.#text = '';
        this.#pending = 0;
      }
      start = nl + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.length > 0) this.onLine(line);
    }
    if (start < chunk.length) {
      this.#pending += chunk.length - start;
      if (this.#pending > this.maxBytes) return this.#fail();
      this.#text += this.#decoder.write(start === 0 ? chunk : chunk.subarray(start));
    }
  }

  #fail(): void {
    this.#failed = true;
    this.#text = '';
    this.#pending = 0;
    this.onError(new MessageTooLargeError(this.maxBytes));
  }
}
