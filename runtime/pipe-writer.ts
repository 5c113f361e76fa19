/**
 * Writes bytes to a pipe or socket as soon as the OS takes them.
 *
 * A Node stream stops trying the OS once one write was refused: everything
 * after queues in memory until the event loop runs again. A sender in a
 * synchronous loop (`for (…) ref.send(x)`) would then fill memory while the
 * reader starves. This writer tries a direct write of its queue every time
 * more bytes come, so the reader keeps working while the sender produces;
 * what the OS refuses waits in order, and is handed to the stream (which
 * waits for the pipe to become writable) when the sender yields.
 */
import { fs } from './fs.ts';
import type { Duplex } from 'node:stream';

export class PipeWriter {
  readonly #stream: Duplex;
  readonly #fd: number;
  #queue: Buffer[] = [];
  /** Bytes handed to the stream and not yet written by it: nothing may overtake them. */
  #streamBusy = false;
  #handoffScheduled = false;

  constructor(stream: Duplex, fd: number | undefined) {
    this.#stream = stream;
    this.#fd = typeof fd === 'number' && fd >= 0 ? fd : -1;
  }

  /** The fd of a net.Socket (or child stdio pipe), when Node exposes one. */
  static fdOf(stream: Duplex): number | undefined {
    const handle = (stream as unknown as { _handle?: { fd?: number } })._handle;
    return handle?.fd;
  }

  write(chunks: Buffer[]): void {
    for (const chunk of chunks) this.#queue.push(chunk);
    if (this.#streamBusy) return;
    if (this.#fd >= 0) this.#writeNow();
    if (this.#queue.length > 0 && !this.#handoffScheduled) {
      this.#handoffScheduled = true;
      setImmediate(this.#handoff);
    }
  }

  /** Writes what is queued, synchronously, as far as the OS takes it. For exit paths. */
  flushSync(): void {
    if (!this.#streamBusy && this.#fd >= 0) this.#writeNow();
  }

  /** Resolves once every byte given so far has been written to the OS. */
  async idle(): Promise<void> {
    for (let round = 0; round < 1000; round++) {
      this.flushSync();
      if (this.#queue.length > 0 && !this.#streamBusy) this.#handoff();
      await new Promise<void>((resolve) => this.#stream.write(Buffer.alloc(0), () => resolve()));
      if (this.#queue.length === 0 && !this.#streamBusy) return;
    }
  }

  #writeNow(): void {
    while (this.#queue.length > 0) {
      let written: number;
      try {
        written = fs.writevSync(this.#fd, this.#queue.length > 64 ? this.#queue.slice(0, 64) : this.#queue);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return;
        // EPIPE and friends: the stream's own error and close events report it.
        this.#queue = [];
        return;
      }
      this.#drop(written);
    }
  }

  #drop(bytes: number): void {
    let i = 0;
    while (i < this.#queue.length && bytes >= this.#queue[i]!.byteLength) bytes -= this.#queue[i++]!.byteLength;
    if (i > 0) this.#queue.splice(0, i);
    if (bytes > 0) this.#queue[0] = this.#queue[0]!.subarray(bytes);
  }

  #handoff = (): void => {
    this.#handoffScheduled = false;
    if (this.#streamBusy || this.#queue.length === 0) return;
    if (this.#fd >= 0) this.#writeNow();
    if (this.#queue.length === 0 || this.#stream.destroyed) return;
    // The pipe is full: let the stream wait for it, and write nothing else until it has.
    const queue = this.#queue;
    this.#queue = [];
    this.#streamBusy = true;
    this.#stream.cork();
    for (let i = 0; i < queue.length - 1; i++) this.#stream.write(queue[i]);
    this.#stream.write(queue[queue.length - 1], () => {
      this.#streamBusy = false;
      if (this.#queue.length > 0) this.write([]);
    });
    this.#stream.uncork();
  };
}
