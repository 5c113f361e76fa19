/**
 * A link: one node's connection to another over a byte stream (the control
 * pipe between a parent and an actor process). It turns frames into calls on
 * its handler, gives actor IDs short per-link aliases, and checks the peer's
 * protocol version in its first frame.
 *
 * Anything that does not parse ends the link with a logged error; it never
 * throws into the node, and garbage never reaches user code.
 */
import type { Duplex } from 'node:stream';
import { decode, encode, type Encoded } from './codec.ts';
import { ProtocolError } from './errors.ts';
import { FrameReader, FrameWriter, type Frame } from './framing.ts';
import { PipeWriter } from './pipe-writer.ts';

export const PROTOCOL_VERSION = 1;

// Frame kinds. 1 and 2 are the mailbox kinds (see mailbox.ts).
export const FRAME_SEND = 1;
export const FRAME_CALL = 2;
export const FRAME_REPLY = 3;
export const FRAME_REPLY_ERROR = 4;
export const FRAME_ALIAS = 5;
export const FRAME_SYSTEM = 6;
export const FRAME_ARGS = 7;
/** Watch `to` for `from` (payload `{ link }`); the node that owns `to`'s lifecycle keeps it. */
export const FRAME_MONITOR = 8;
export const FRAME_DEMONITOR = 9;
/** A linked actor ended: for `to`, which dies too unless it traps exits. */
export const FRAME_EXIT = 10;
/** The caller of call `callId` gave up (timeout, abort): the node keeping track of it forgets it. */
export const FRAME_CANCEL = 11;

/**
 * Header flag of a FRAME_CALL that carries a send to a `'block'` mailbox:
 * the receiving node answers it once the message is in the mailbox, so the
 * sender's `send()` can wait for room. (The low bits are the codec's.)
 */
export const FLAG_ADMIT = 0x80;

/**
 * Header flag of a FRAME_SEND that carries a `down` or `exit` message: the
 * mailbox takes it even when full, as OTP never drops a DOWN or an EXIT.
 */
export const FLAG_NOTICE = 0x40;

export interface LinkHandler {
  /** A send, call or reply (kinds 1–4, and args) for `to`, from `from`. */
  onMessage(link: Link, kind: number, to: string, from: string, callId: number, flags: number, payload: Uint8Array, attachments: readonly Buffer[]): void;
  /** A system message: lifecycle and control between the two nodes. */
  onSystem(link: Link, message: SystemMessage): void;
  /** The link is gone: the peer closed it, or it broke (`error`). */
  onClose(link: Link, error: Error | undefined): void;
}

/** Control messages between a parent node and an actor process. */
export type SystemMessage = { readonly t: string; readonly v?: number } & Record<string, unknown>;

/**
 * A stream its owner opens only once needed, and the fd it will wrap, which
 * the link writes to meanwhile: an actor process starts without loading
 * node:net (about 5 ms), and opens its control socket after its first turn.
 * Until then the fd is in blocking mode: a write waits for the parent to
 * read, as Node's own writes to a pipe on stdout do.
 */
export interface DeferredStream {
  readonly fd: number;
  open(): Duplex;
}

export class Link {
  #stream: Duplex | null = null;
  readonly #open: (() => Duplex) | null;
  readonly #handler: LinkHandler;
  readonly #writer: FrameWriter;
  readonly #pipe: PipeWriter;
  readonly #reader: FrameReader;
  readonly #outAliases = new Map<string, number>();
  // The two IDs named last: a stream of messages alternates between its sender and its target.
  #lastId = '';
  #lastAlias = 0;
  #prevId = '';
  #prevAlias = 0;
  readonly #inAliases: string[] = [''];
  #greeted = false;
  #closed = false;
  /** A label for messages about this link (`actor worker-1 (pid 1234)`). */
  label: string;

  constructor(stream: Duplex | DeferredStream, handler: LinkHandler, label: string) {
    this.#handler = handler;
    this.label = label;
    if ('open' in stream && typeof stream.open === 'function') {
      this.#open = stream.open;
      this.#pipe = new PipeWriter(() => this.stream(), stream.fd);
    } else {
      this.#open = null;
      this.#pipe = new PipeWriter(() => this.stream(), PipeWriter.fdOf(stream as Duplex));
      this.#listen(stream as Duplex);
    }
    this.#writer = new FrameWriter({
      write: (chunks) => {
        if (!this.#closed) this.#pipe.write(chunks);
      },
      stage: (bytes) => !this.#closed && this.#pipe.stage(bytes),
      staged: () => this.#pipe.staged,
    });
    this.#reader = new FrameReader((frame) => this.#onFrame(frame));
  }

  /** The link's stream, opened now if it was deferred. */
  stream(): Duplex {
    if (this.#stream === null) this.#listen(this.#open!());
    return this.#stream!;
  }

  /** Whether the stream is open (a deferred one is not until `stream()`). */
  get opened(): boolean {
    return this.#stream !== null;
  }

  #listen(stream: Duplex): void {
    this.#stream = stream;
    this.#pipe.attach(stream);
    stream.on('data', (chunk: Buffer) => this.receive(chunk));
    stream.on('end', () => this.#end(undefined));
    stream.on('close', () => this.#end(undefined));
    // A peer that dies mid-write resets the pipe; that is an ordinary close.
    stream.on('error', (err: NodeJS.ErrnoException) => this.#end(err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : err));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Takes bytes the stream read. */
  receive(chunk: Buffer): void {
    if (this.#closed) return;
    try {
      this.#reader.push(chunk);
    } catch (err) {
      this.#fail(err);
    }
  }

  /**
   * For a socket made with `onread`: the buffer its next read should fill.
   * A large frame is read straight into a buffer of its own size.
   */
  readTarget(): Buffer {
    return this.#reader.readTarget();
  }

  /** For a socket made with `onread`: `n` bytes were read into `buffer`. */
  readDone(buffer: Buffer, n: number): void {
    if (this.#closed) return;
    try {
      this.#reader.readDone(buffer, n);
    } catch (err) {
      this.#fail(err);
    }
  }

  /** Queues a message frame; IDs are replaced by aliases, defined on first use. */
  sendMessage(kind: number, to: string, from: string, callId: number, encoded: Encoded): void {
    if (this.#closed) return;
    this.#writer.push(kind, this.#alias(to), this.#alias(from), callId, encoded.flags, encoded.payload, encoded.attachments);
  }

  /** Forwards a message frame as received elsewhere, without decoding it. */
  forward(kind: number, to: string, from: string, callId: number, flags: number, payload: Uint8Array, attachments: readonly Buffer[]): void {
    if (this.#closed) return;
    this.#writer.push(kind, this.#alias(to), this.#alias(from), callId, flags, payload, attachments);
  }

  sendSystem(message: SystemMessage): void {
    if (this.#closed) return;
    const encoded = encode(message, 'system message');
    this.#writer.push(FRAME_SYSTEM, 0, 0, 0, encoded.flags, encoded.payload, encoded.attachments);
  }

  /** Lets frames held past the actor's next message wait in a guarded stage (see write-guard.ts). */
  guardWrites(): void {
    this.#pipe.guardWrites();
  }

  /** Writes what is queued now rather than at the end of the turn. */
  flush(): void {
    this.#writer.flush();
  }

  /** Writes what is queued now; true when the OS took all of it (the pipe was not full). */
  flushNow(): boolean {
    this.#writer.flush();
    return this.#pipe.written;
  }

  /** Writes what is queued as far as the OS takes it now, synchronously (for exit paths). */
  flushSync(): void {
    this.#writer.flush();
    this.#pipe.flushSync();
  }

  /** Resolves when everything queued so far has been written. */
  flushed(): Promise<void> {
    this.#writer.flush();
    return this.#pipe.idle();
  }

  /** Ends the link after writing what is queued. */
  close(): void {
    if (this.#closed) return;
    this.#writer.flush();
    this.stream().end();
    this.#end(undefined);
  }

  #alias(id: string): number {
    if (id === '') return 0;
    if (id === this.#lastId) return this.#lastAlias;
    if (id === this.#prevId) return this.#prevAlias;
    let alias = this.#outAliases.get(id);
    if (alias === undefined) {
      alias = this.#outAliases.size + 1;
      this.#outAliases.set(id, alias);
      this.#writer.push(FRAME_ALIAS, alias, 0, 0, 0, Buffer.from(id, 'utf8'));
    }
    this.#prevId = this.#lastId;
    this.#prevAlias = this.#lastAlias;
    this.#lastId = id;
    this.#lastAlias = alias;
    return alias;
  }

  #id(alias: number): string {
    if (alias === 0) return '';
    const id = this.#inAliases[alias];
    if (id === undefined) throw new ProtocolError(`frame names actor alias ${alias}, which was never defined`);
    return id;
  }

  #onFrame(frame: Frame): void {
    if (!this.#greeted) {
      // The first frame must be a system hello carrying our protocol version.
      if (frame.kind !== FRAME_SYSTEM) throw new ProtocolError(`first frame is of kind ${frame.kind}, not a hello`);
      const hello = decode(frame.payload, frame.attachments, frame.flags) as SystemMessage;
      if (typeof hello !== 'object' || hello === null || typeof hello.t !== 'string') throw new ProtocolError('first frame is not a hello');
      if (hello.v !== PROTOCOL_VERSION) {
        throw new ProtocolError(`peer speaks protocol ${String(hello.v)}, this node speaks ${PROTOCOL_VERSION}: run the same troupe version on both sides`);
      }
      this.#greeted = true;
      this.#handler.onSystem(this, hello);
      return;
    }
    switch (frame.kind) {
      case FRAME_ALIAS:
        if (frame.to !== this.#inAliases.length) throw new ProtocolError(`alias ${frame.to} defined out of order`);
        this.#inAliases.push(Buffer.from(frame.payload.buffer, frame.payload.byteOffset, frame.payload.byteLength).toString('utf8'));
        return;
      case FRAME_SYSTEM: {
        let message: SystemMessage;
        try {
          message = decode(frame.payload, frame.attachments, frame.flags) as SystemMessage;
        } catch (err) {
          throw new ProtocolError('system frame does not decode', { cause: err });
        }
        if (typeof message !== 'object' || message === null || typeof message.t !== 'string') throw new ProtocolError('system frame is not a system message');
        this.#handler.onSystem(this, message);
        return;
      }
      case FRAME_SEND:
      case FRAME_CALL:
      case FRAME_REPLY:
      case FRAME_REPLY_ERROR:
      case FRAME_ARGS:
      case FRAME_MONITOR:
      case FRAME_DEMONITOR:
      case FRAME_EXIT:
      case FRAME_CANCEL:
        this.#handler.onMessage(this, frame.kind, this.#id(frame.to), this.#id(frame.from), frame.callId, frame.flags, frame.payload, frame.attachments);
        return;
      default:
        throw new ProtocolError(`unknown frame kind ${frame.kind}`);
    }
  }

  #fail(err: unknown): void {
    const error = err instanceof ProtocolError ? err : new ProtocolError(`control channel of ${this.label} broke: ${String(err)}`, { cause: err });
    process.stderr.write(`troupe: closing the control channel of ${this.label}: ${error.message}\n`);
    // The owner hears of it before the peer sees the pipe close: a parent
    // kills a child that wrote garbage before that child can see EOF and exit.
    this.#end(error);
    this.stream().destroy();
  }

  #end(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handler.onClose(this, error);
  }
}
