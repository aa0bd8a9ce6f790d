/**
 * A pull reader over a stream of byte chunks (a socket, an HTTP body, a sequence of decrypted chunks): reads
 * exactly n bytes, a varint, or the rest, without copying more than it returns. Chunked OHTTP and the streaming
 * binary HTTP decoder parse through it, so neither buffers a whole message.
 */
import { OhttpMalformedError, OhttpTooLargeError } from "./errors";
import { decodeVarint, varintLength } from "./varint";

/** Any source of byte chunks: a Node stream, a web stream's iterator, an array. */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export class ByteReader {
  private readonly iterator: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  private head: Uint8Array = new Uint8Array(0);
  private done = false;
  /** Bytes handed out so far. */
  consumed = 0;

  constructor(source: ByteSource) {
    this.iterator = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  }

  /** Whether the source has no byte left. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }

  /** Exactly `n` bytes; throws {@link OhttpMalformedError} naming `what` when the source ends first. */
  async read(n: number, what: string): Promise<Uint8Array> {
    if (!(await this.fill(n)))
      throw new OhttpMalformedError(`${what} is truncated: expected ${n} more bytes, ${this.head.length} remain`);
    return this.take(n);
  }

  /** A varint, or undefined when the source ends cleanly before its first byte. */
  async varint(what: string): Promise<number | undefined> {
    if (!(await this.fill(1))) return undefined;
    const length = varintLength(this.head[0]!);
    if (!(await this.fill(length)))
      throw new OhttpMalformedError(`${what} is truncated inside a variable-length integer`);
    return decodeVarint(this.take(length));
  }

  /** Everything left, at most `max` bytes; throws {@link OhttpTooLargeError} beyond. */
  async rest(max: number, what: string): Promise<Uint8Array> {
    while (!this.done) {
      if (this.head.length > max) break;
      await this.pull();
    }
    if (this.head.length > max) throw new OhttpTooLargeError(max, `${what} is larger than ${max} bytes`);
    return this.take(this.head.length);
  }

  /** Whatever is buffered or arrives next (at most `max` bytes), or undefined at the end. */
  async some(max: number): Promise<Uint8Array | undefined> {
    if (!(await this.fill(1))) return undefined;
    return this.take(Math.min(max, this.head.length));
  }

  private take(n: number): Uint8Array {
    const out = this.head.subarray(0, n);
    this.head = this.head.subarray(n);
    this.consumed += n;
    return out;
  }

  /** Buffers at least `n` bytes; false when the source ends first. */
  private async fill(n: number): Promise<boolean> {
    while (this.head.length < n && !this.done) await this.pull();
    return this.head.length >= n;
  }

  private async pull(): Promise<void> {
    const next = await this.iterator.next();
    if (next.done === true) {
      this.done = true;
      return;
    }
    const chunk = next.value instanceof Uint8Array ? next.value : new Uint8Array(next.value as ArrayBuffer);
    if (chunk.length === 0) return;
    if (this.head.length === 0) {
      this.head = chunk;
      return;
    }
    const joined = new Uint8Array(this.head.length + chunk.length);
    joined.set(this.head, 0);
    joined.set(chunk, this.head.length);
    this.head = joined;
  }
}
