/**
 * Frames held for the end of a turn, where a thread writes them if the turn
 * runs long.
 *
 * An actor that takes several messages in one turn (a pool worker given a run
 * of tasks) would write one answer per message, and wake its peer each time.
 * Holding the answers to the end of the turn writes them once, but an answer
 * must not wait for whatever the next message's handler does: that handler
 * may run for seconds, and the peer may be timing the answer out. So the
 * answers held while the actor goes on are copied here, into shared memory,
 * and a thread writes them to the socket itself once they have waited
 * HOLD_MS. Normally the main thread writes them first, with whatever comes
 * next, at the end of the turn.
 *
 * Both threads write the same socket: a lock in the shared memory orders
 * them. The thread writes only bytes staged here, and the main thread stages
 * only when nothing older waits to be written (see PipeWriter#stage), so the
 * bytes reach the socket in the order they were sent.
 */

/** Held frames wait this long for the main thread before the thread writes them. */
const HOLD_MS = 1;
const STAGE_BYTES = 64 * 1024;
// Int32 slots at the start of the shared buffer; the staged bytes follow.
const LOCK = 0;
const LENGTH = 1;
/** Bumped each time bytes are staged into an empty stage: the thread's wake-up. */
const GENERATION = 2;
/** Never set: the thread naps on it. */
const NAP = 3;
/** Set when the socket is about to close: the thread must not write to its fd again (the number may be reused). */
const CLOSED = 4;
const DATA_OFFSET = 32;
/** Tries at the lock before waiting on it. */
const SPINS = 200;

// Plain JS run with eval: there is no module to bundle for it.
const SOURCE = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const head = new Int32Array(workerData.shared, 0, 5);
const data = new Uint8Array(workerData.shared, ${DATA_OFFSET});
function lock() {
  for (let i = 0; i < ${SPINS}; i++) if (Atomics.compareExchange(head, ${LOCK}, 0, 1) === 0) return;
  // The main thread holds it for a copy: wake up now and then to look (it does not notify).
  while (Atomics.compareExchange(head, ${LOCK}, 0, 1) !== 0) Atomics.wait(head, ${LOCK}, 1, 0.1);
}
function unlock() {
  Atomics.store(head, ${LOCK}, 0);
  Atomics.notify(head, ${LOCK});
}
let seen = 0;
for (;;) {
  Atomics.wait(head, ${GENERATION}, seen);
  const generation = Atomics.load(head, ${GENERATION});
  Atomics.wait(head, ${NAP}, 0, ${HOLD_MS});
  lock();
  if (Atomics.load(head, ${CLOSED}) === 1) {
    unlock();
    break;
  }
  let left = 0;
  // The same staging still waits: the main thread is busy. Write it.
  if (Atomics.load(head, ${GENERATION}) === generation) {
    const length = Atomics.load(head, ${LENGTH});
    let done = 0;
    try {
      while (done < length) done += fs.writeSync(workerData.fd, data, done, length - done);
    } catch {
      // EAGAIN (the peer is not reading now) or a closed socket (the main thread hears of it).
    }
    if (done > 0) {
      data.copyWithin(0, done, length);
      Atomics.store(head, ${LENGTH}, length - done);
    }
    left = length - done;
  }
  unlock();
  // What the socket refused is tried again a nap later, unless the main thread takes it first.
  if (left === 0) seen = generation;
}
`;

export class WriteGuard {
  readonly #head: Int32Array;
  readonly #data: Buffer;
  #online = false;
  #broken = false;

  /** Starts the thread for socket `fd`; until it is up, `stage` declines. */
  constructor(fd: number) {
    const shared = new SharedArrayBuffer(DATA_OFFSET + STAGE_BYTES);
    this.#head = new Int32Array(shared, 0, 5);
    this.#data = Buffer.from(shared, DATA_OFFSET);
    void this.#start(shared, fd);
  }

  async #start(shared: SharedArrayBuffer, fd: number): Promise<void> {
    const { Worker } = await import('node:worker_threads');
    // No execArgv: the process's own flags (an --import, a loader) have nothing to do in this thread.
    const worker = new Worker(SOURCE, { eval: true, workerData: { shared, fd }, execArgv: [], stdout: false, stderr: false });
    worker.unref();
    worker.once('online', () => (this.#online = !this.#broken));
    // Staged bytes stay where they are: the main thread takes them with its next write.
    worker.on('error', () => this.#stop());
    worker.once('exit', () => this.#stop());
  }

  #stop(): void {
    this.#broken = true;
    this.#online = false;
  }

  /** Whether bytes wait here; the next write must take them first. */
  get staged(): boolean {
    return Atomics.load(this.#head, LENGTH) > 0;
  }

  /** Copies `bytes` after what is staged. False (nothing copied) when the thread is not up or they do not fit. */
  stage(bytes: Uint8Array): boolean {
    if (!this.#online) return false;
    this.#lock();
    const length = this.#head[LENGTH]!;
    const fits = length + bytes.byteLength <= this.#data.byteLength;
    if (fits) {
      this.#data.set(bytes, length);
      Atomics.store(this.#head, LENGTH, length + bytes.byteLength);
      if (length === 0) {
        Atomics.add(this.#head, GENERATION, 1);
        Atomics.notify(this.#head, GENERATION, 1);
      }
    }
    Atomics.store(this.#head, LOCK, 0);
    return fits;
  }

  /** Takes what is staged (a copy), or null; after it, the thread writes nothing of it. */
  take(): Buffer | null {
    const most = Atomics.load(this.#head, LENGTH);
    if (most === 0) return null;
    // Allocated before the lock is taken (the thread waits on it meanwhile); only this thread makes the stage grow.
    const bytes = Buffer.allocUnsafe(most);
    this.#lock();
    const length = this.#head[LENGTH]!;
    this.#data.copy(bytes, 0, 0, length);
    Atomics.store(this.#head, LENGTH, 0);
    Atomics.store(this.#head, LOCK, 0);
    return length === 0 ? null : bytes.subarray(0, length);
  }

  /**
   * Before the socket closes: drops what is staged and ends the thread. Once
   * this returns, the thread writes nothing more.
   */
  close(): void {
    this.#lock();
    Atomics.store(this.#head, LENGTH, 0);
    Atomics.store(this.#head, CLOSED, 1);
    Atomics.store(this.#head, LOCK, 0);
    Atomics.add(this.#head, GENERATION, 1);
    Atomics.notify(this.#head, GENERATION, 1);
    this.#stop();
  }

  /**
   * Never goes on without the lock: the thread holds it only while it writes
   * (a syscall on a non-blocking socket), and notifies as it lets go.
   */
  #lock(): void {
    for (let i = 0; i < SPINS; i++) if (Atomics.compareExchange(this.#head, LOCK, 0, 1) === 0) return;
    while (Atomics.compareExchange(this.#head, LOCK, 0, 1) !== 0) Atomics.wait(this.#head, LOCK, 1, 1);
  }
}
