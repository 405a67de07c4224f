/**
 * @module child/stderr-ring
 * The last bytes a child wrote to stderr, bounded, already redacted; shown in logs when the child
 * dies so an operator sees why without a child filling the broker's memory.
 */
export const STDERR_RING_BYTES = 64 * 1024;

export class StderrRing {
  #chunks: string[] = [];
  #size = 0;
  constructor(private readonly maxBytes = STDERR_RING_BYTES) {}

  push(text: string): void {
    const t = text.length > this.maxBytes ? text.slice(-this.maxBytes) : text;
    this.#chunks.push(t);
    this.#size += t.length;
    while (this.#size > this.maxBytes && this.#chunks.length > 1) this.#size -= this.#chunks.shift()!.length;
  }

  /** The retained text, oldest first. */
  text(): string {
    return this.#chunks.join('');
  }
}
