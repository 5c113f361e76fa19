/**
 * Command actors: an external program as an actor (Python's `subprocess`,
 * supervised). The program runs under a small host actor, so it has an
 * actor's lifecycle (exit codes with -N for signals, join, terminate, kill,
 * stop) and can be monitored, linked and supervised like any actor. The
 * program runs in a process group of its own, which the host ends with it.
 */
import type { ChildProcess } from 'node:child_process';
import { resolveChildSpec, type ChildSpec, type Restart } from './supervisor/spec.ts';
import { ClosedError } from './queue/errors.ts';
import { once } from 'node:events';
import { accessSync, constants as fsConstants, readFileSync, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { delimiter, join } from 'node:path';
import { groupAlive } from '../runtime/process/proc-stat.ts';
import { spawnProcess } from '../runtime/process/spawn-process.ts';
import {
  ActorRef,
  EXITED,
  REPORTED,
  SpawnError,
  TimeoutError,
  TroupeError,
  registerOwnErrorClasses,
  actorIn,
  invalidOption,
  node,
  optionsOf,
  spawn,
  type ChildRef,
  type Context,
  type JoinOptions,
  type Shutdown,
  type StopOptions,
} from '../runtime/index.ts';

/** `spawnCommand(program, args, options)`: how the program runs and how its output is read. */
export interface CommandOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** The host actor's name (`troupe-actor <name>` in ps); default the file's name. */
  readonly name?: string;
  readonly daemon?: boolean;
  /** Run through `/bin/sh -c` with `file` as the command line. Off by default: arguments are never given to a shell otherwise. */
  readonly shell?: boolean;
  /** Text encoding of the output, or 'buffer' for raw chunks (default 'utf8'). */
  readonly encoding?: BufferEncoding | 'buffer';
  /** Text output comes line by line (default), or in chunks as read (false). */
  readonly lines?: boolean;
  /**
   * Where output goes instead of `stdout`/`stderr`: an actor (sent
   * `{ stream, data }` messages) or a handler called with them.
   */
  readonly output?: ActorRef | ((message: OutputMessage) => void);
}

/** One piece of output, as a command actor sends it. */
export interface OutputMessage {
  readonly stream: 'stdout' | 'stderr';
  readonly data: string | Buffer;
  /**
   * Text output by lines: set on a piece that does not end its line (the
   * output's last, when the program did not end it with a newline, or a piece
   * of a line longer than 1 MiB, which comes in pieces).
   */
  readonly unterminated?: true;
}

/** A line longer than this many characters is sent in pieces of it: the host holds no line without bound. */
const LINE_PIECE = 1024 * 1024;
/** How long a host asked to end waits, once its program has, for the rest of the output (see commandHost). */
const OUTPUT_GRACE_MS = 2000;
/** After sending this many characters or bytes, the host waits for its parent's pipe to take them: the program is slowed to the reader's pace. */
const SEND_WINDOW = 4 * 1024 * 1024;

type Input = { stdin: string | Uint8Array } | { closeInput: true };

/** Whole lines, from the host to its owner's receiver (which hands them on as one OutputMessage each). */
interface LinesMessage {
  readonly stream: 'stdout' | 'stderr';
  readonly lines: readonly string[];
}

interface HostSpec {
  readonly file: string;
  readonly argv: readonly string[];
  readonly cwd: string | undefined;
  readonly env: NodeJS.ProcessEnv | undefined;
  readonly shell: boolean;
  readonly encoding: BufferEncoding | 'buffer';
  readonly lines: boolean;
  /** Where output and the start report go; null: the program writes to the host's own stdout and stderr. */
  readonly sink: ActorRef | null;
  /** Its caller gets a start failure through its promise (run()): the host does not print it. */
  readonly reported: boolean;
}

/** A start failure of the host's, marked REPORTED when its caller gets it (see HostSpec.reported). */
function startFailure(spec: HostSpec, error: SpawnError): SpawnError {
  if (spec.reported) Object.defineProperty(error, REPORTED, { value: true });
  return error;
}

/**
 * The host of one program: starts it, feeds its stdin from the mailbox, sends
 * its output to the sink, and ends as the program ended (the same exit code,
 * or the same signal).
 */
export const commandHost = actorIn(import.meta.url, async (ctx: Context<Input>, spec: HostSpec) => {
  const sink = spec.sink;
  // Looked up as the spawn will: in the PATH of the environment it is given (with none there, the
  // system's default), else in this process's.
  const path = spec.env !== undefined ? (spec.env.PATH ?? DEFAULT_PATH) : (process.env.PATH ?? '');
  const problem = spec.shell ? null : executableProblem(spec.file, path);
  if (problem !== null) {
    sink?.send({ failed: problem });
    throw startFailure(spec, new SpawnError(`Cannot start ${spec.file}: ${problem}`, spec.file));
  }
  const program = spawnProcess(spec.file, [...spec.argv], {
    cwd: spec.cwd,
    env: spec.env,
    shell: spec.shell,
    stdio: [sink === null ? 'ignore' : 'pipe', sink === null ? 'inherit' : 'pipe', sink === null ? 'inherit' : 'pipe'],
    // A group of its own: ending the group ends what the program started too.
    detached: true,
  });
  const ended = once(program, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  ended.catch(() => {});
  let reaped = false;
  // The parent kills the group when it kills this process (kill(), a stop's deadline): SIGKILLed,
  // this process could not. Counted while the number is surely the group's: until the program is
  // reaped and no member is left (what it started in the background, holding its output open, keeps
  // the group, and so the number, while this process waits for that output).
  const forget = program.pid === undefined ? () => {} : node().ownGroup(program.pid);
  void ended.then(() => {
    reaped = true;
  }, forget);
  const group = (signal: NodeJS.Signals): void => {
    const pgid = program.pid;
    if (pgid === undefined) return;
    // Once the program is reaped, its number is free for reuse as soon as the last member of its group
    // is gone: signalling it then could hit another process's group (an actor's, whose pgid is its pid).
    if (reaped && !groupAlive(pgid)) return;
    try {
      process.kill(-pgid, signal);
    } catch {
      // Gone already.
    }
  };
  // Installed as soon as the program exists, before this process waits for anything: the program can
  // run (and the parent die) before its 'spawn' event is handled, and a SIGTERM with no listener
  // would end this process at once, leaving the program's group behind.
  // SIGTERM (terminate(), or the parent's death): end the program's group first, then end as asked.
  // The listener stays until then: a process whose parent is killed gets the parent-death signal once
  // per thread of the parent, as they exit one by one, and a SIGTERM that came with no listener left
  // would end this process at once, before it had passed the first one on. A repeated SIGTERM forces.
  // Orphaned (the parent's death signal, which comes once per thread of the dead parent): those
  // repeats are not a second request, and the program keeps its grace (the host's shutdown time, after
  // which the watchdog thread kills the host and everything below it).
  const parentAtStart = process.ppid;
  let terminating = false;
  const onSigterm = (): void => {
    if (terminating) return process.ppid === parentAtStart ? group('SIGKILL') : undefined;
    terminating = true;
    if (program.pid === undefined) {
      // No program: this process ends by the signal, as asked.
      process.removeListener('SIGTERM', onSigterm);
      process.kill(process.pid, 'SIGTERM');
      return;
    }
    group('SIGTERM');
    // The program has ended; what it left in its group (a member that ignores SIGTERM, holding the
    // output open) goes with it. This process then ends as the program did, once all it wrote (its
    // last words on SIGTERM too) has reached the owner: Python's terminate() then communicate().
    // Bounded: a process that left the group (setsid) can hold the output open beyond it; after
    // OUTPUT_GRACE_MS this one ends by the signal, as asked, with what had come.
    void ended.then(() => {
      group('SIGKILL');
      setTimeout(() => {
        process.removeListener('SIGTERM', onSigterm);
        process.kill(process.pid, 'SIGTERM');
      }, OUTPUT_GRACE_MS).unref();
    });
  };
  process.on('SIGTERM', onSigterm);
  // First of the exit listeners, so that nothing before it can keep it from running.
  process.prependListener('exit', () => group('SIGKILL'));
  try {
    await once(program, 'spawn');
  } catch (err) {
    const why = `${(err as Error).message}${interpreterProblem(err, spec.shell ? spec.file : (findProgram(spec.file, path) ?? spec.file))}`;
    sink?.send({ failed: why });
    throw startFailure(spec, new SpawnError(`Cannot start ${spec.file}: ${why}`, spec.file, { cause: err }));
  }
  sink?.send({ started: program.pid });
  const outputs = sink === null ? [] : [pump(program, 'stdout', spec, sink), pump(program, 'stderr', spec, sink)];
  // stop(): the program is asked to end the same way.
  ctx.signal.addEventListener('abort', () => group('SIGTERM'), { once: true });
  void (async () => {
    for await (const input of ctx.inbox) {
      if ('stdin' in input) {
        if (program.stdin && !program.stdin.destroyed && !program.stdin.write(input.stdin)) await once(program.stdin, 'drain').catch(() => {});
      } else program.stdin?.end();
    }
  })();
  program.stdin?.on('error', () => {});
  const [code, signal] = await ended;
  await Promise.all(outputs);
  if (program.pid !== undefined && !groupAlive(program.pid)) forget();
  const number = signal === null ? 0 : (osConstants.signals[signal] ?? 0);
  sink?.send({ eof: true, exitCode: signal === null ? (code ?? 1) : -number });
  // The program's end is the actor's: the same code, or the same signal; the output reaches the owner first.
  // A signal a Node process cannot end by (SIGPIPE, which Node ignores; SIGUSR1): 128 + N, as a shell
  // says it (the owner's Command has the program's -N from the message above).
  await ctx.exit(signal ?? code ?? 1).catch(() => ctx.exit(128 + number));
});

/**
 * Sends one output stream to the sink, as lines or chunks, until it ends.
 * Every SEND_WINDOW it waits for the parent's pipe to take what was sent, and
 * reads no more meanwhile: a program writing faster than its output is read
 * waits on its own pipe, as it would under a shell, rather than fill this
 * process's memory.
 */
async function pump(program: ChildProcess, stream: 'stdout' | 'stderr', spec: HostSpec, sink: ActorRef): Promise<void> {
  const source = program[stream];
  if (source === null) return;
  if (spec.encoding !== 'buffer') source.setEncoding(spec.encoding);
  let unsent = 0;
  const sent = async (length: number): Promise<void> => {
    unsent += length;
    if (unsent < SEND_WINDOW) return;
    unsent = 0;
    await node().parentWritten();
  };
  const send = (data: string | Buffer, unterminated: boolean): Promise<void> => {
    sink.send((unterminated ? { stream, data, unterminated } : { stream, data }) satisfies OutputMessage);
    return sent(data.length);
  };
  const sendLines = (lines: string[]): Promise<void> => {
    sink.send({ stream, lines } satisfies LinesMessage);
    let length = 0;
    for (const l of lines) length += l.length;
    return sent(length);
  };
  // The line being read, in pieces (joined once it ends: never a string rebuilt per chunk).
  const pieces: string[] = [];
  let pending = 0;
  const line = (tail: string): string => {
    const text = pending === 0 ? tail : pieces.join('') + tail;
    pieces.length = 0;
    pending = 0;
    return text;
  };
  for await (const chunk of source as AsyncIterable<string | Buffer>) {
    if (!spec.lines || typeof chunk !== 'string') {
      await send(chunk, true);
      continue;
    }
    // The lines a chunk ends go in one message (a million short lines are not a million messages);
    // the owner's receiver hands them on one by one.
    const lines: string[] = [];
    let from = 0;
    for (let at = chunk.indexOf('\n'); at !== -1; at = chunk.indexOf('\n', from)) {
      lines.push(line(chunk.slice(from, at)));
      from = at + 1;
    }
    if (lines.length > 0) await sendLines(lines);
    if (from < chunk.length) {
      pieces.push(chunk.slice(from));
      pending += chunk.length - from;
      if (pending >= LINE_PIECE) await send(line(''), true);
    }
  }
  if (pending > 0) await send(line(''), true);
}

/**
 * More output than `output({ limit })` (or `run()`'s `limit`) would keep; the
 * program was killed. It keeps what had come within the limit: `stdout` and
 * `stderr`, text or `Buffer`s as `output()` would have given them.
 */
export class OutputLimitError<Out extends string | Buffer = string | Buffer> extends TroupeError {
  readonly limit: number;
  readonly stdout: Out;
  readonly stderr: Out;
  constructor(message: string, limit: number, stdout: Out, stderr: Out) {
    super('ERR_OUTPUT_LIMIT', message);
    this.limit = limit;
    this.stdout = stdout;
    this.stderr = stderr;
  }
}

/**
 * `run()`'s `timeout` passed: the program (and what it left in its group) was
 * killed. As Python's `TimeoutExpired`, it keeps the output that had come:
 * `stdout` and `stderr`, text or `Buffer`s as `run()` would have given them.
 * A `TimeoutError` (`ERR_TIMEOUT`) like any other.
 */
export class CommandTimeoutError<Out extends string | Buffer = string | Buffer> extends TimeoutError {
  readonly stdout: Out;
  readonly stderr: Out;
  constructor(message: string, timeoutMs: number, stdout: Out, stderr: Out) {
    super(message, timeoutMs);
    this.stdout = stdout;
    this.stderr = stderr;
  }
}

registerOwnErrorClasses([OutputLimitError, CommandTimeoutError]);

/** An async iterable fed by hand, ending on `end()`. */
class Stream<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #ended = false;
  #wake: (() => void) | null = null;
  #reading = false;
  /** How errors name it (`stdout of grep`). */
  readonly #label: string;

  constructor(label: string) {
    this.#label = label;
  }

  push(item: T): void {
    this.#items.push(item);
    this.#wake?.();
  }

  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    // Each item goes to one reader: a second one would take half of them, and wait for ever once the first ended.
    if (this.#reading) throw new TroupeError('ERR_INVALID_ARGUMENT', `The ${this.#label} is being read already: read it in one place (one for await, or one output()).`);
    this.#reading = true;
    try {
      for (;;) {
        if (this.#items.length > 0) {
          yield this.#items.shift()!;
          continue;
        }
        if (this.#ended) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = null;
      }
    } finally {
      this.#reading = false;
    }
  }
}

/** The data of each message of `stream`, in order. */
async function* dataOf<Out>(stream: Stream<OutputMessage>): AsyncGenerator<Out> {
  for await (const message of stream) yield message.data as Out;
}

/**
 * A running program, as its owner sees it: the host actor's lifecycle, plus
 * the program's input and output. `Out` is what its output comes as: text
 * (`string`), or `Buffer` with `encoding: 'buffer'`.
 */
export class Command<Out extends string | Buffer = string> {
  /** The host actor: monitor it, link to it, stop it like any actor. */
  readonly ref: ChildRef<Input>;
  /** Output lines (or chunks), in order; ends when the program's output does. Read in one place. */
  readonly stdout: AsyncIterable<Out>;
  /** The same for stderr. */
  readonly stderr: AsyncIterable<Out>;
  readonly #ready: Promise<this>;
  readonly #done: Promise<void>;
  readonly #lines: boolean;
  /** The output as it came, with the marks `output()` joins by; `stdout` and `stderr` give their data. */
  readonly #out: Stream<OutputMessage>;
  readonly #err: Stream<OutputMessage>;
  readonly #bytes: boolean;
  #output: Promise<{ stdout: Out; stderr: Out }> | null = null;
  #pid: number | null = null;
  /** The program's own exit code (-N for signal N), once the host has said it. */
  #programExit: number | null = null;
  /** closeInput() was called here. */
  #inputClosed = false;

  /**
   * @internal Use `spawnCommand`. `startFailureReported`: its caller gets a
   * failure to start through a promise of its own (run()), so the host does not print it.
   */
  constructor(file: string, argv: readonly string[], options: CommandOptions, startFailureReported = false) {
    const named = options.name ?? file.split('/').pop()!;
    const out = (this.#out = new Stream<OutputMessage>(`stdout of ${named}`));
    const err = (this.#err = new Stream<OutputMessage>(`stderr of ${named}`));
    this.#bytes = options.encoding === 'buffer';
    // A new iterator per loop, each one a reader of the stream (which refuses a second at once).
    this.stdout = { [Symbol.asyncIterator]: () => dataOf<Out>(out) };
    this.stderr = { [Symbol.asyncIterator]: () => dataOf<Out>(err) };
    let started!: () => void;
    let failed!: (e: Error) => void;
    const startedP = new Promise<void>((resolve, reject) => ((started = resolve), (failed = reject)));
    startedP.catch(() => {});
    let finished!: () => void;
    this.#done = new Promise((resolve) => (finished = resolve));
    const target = options.output;
    const deliver =
      target === undefined
        ? (m: OutputMessage): void => (m.stream === 'stdout' ? out : err).push(m)
        : typeof target === 'function'
          ? target
          : (m: OutputMessage): void => void target.send(m);
    const receiver = node().receiver(`${options.name ?? file} output`, (message) => {
      const m = message as OutputMessage | LinesMessage | { started: number } | { failed: string } | { eof: true; exitCode: number };
      if ('lines' in m) for (const data of m.lines) deliver({ stream: m.stream, data });
      else if ('stream' in m) deliver(m);
      else if ('started' in m) {
        this.#pid = m.started;
        started();
      } else if ('failed' in m) failed(new SpawnError(`Cannot start ${file}: ${m.failed}`, file));
      else if ('eof' in m) {
        this.#programExit = m.exitCode;
        finish();
      }
    });
    const finish = (): void => {
      out.end();
      err.end();
      receiver.close();
      finished();
    };
    this.#lines = options.lines ?? options.encoding !== 'buffer';
    const spec: HostSpec = {
      file,
      argv,
      cwd: options.cwd,
      env: options.env,
      shell: options.shell ?? false,
      encoding: options.encoding ?? 'utf8',
      lines: this.#lines,
      sink: receiver.ref,
      reported: startFailureReported,
    };
    this.ref = spawn(commandHost, {
      args: [spec],
      name: options.name ?? file.split('/').pop()!,
      daemon: options.daemon ?? false,
      // The host ends the program's group before it goes: on its parent's death too.
      deathSignal: 'TERM',
      cwd: options.cwd,
    });
    // Its end, waited for without join(), which keeps the program alive for a daemon: a daemon command does not.
    const exited = this.ref[EXITED];
    void exited.then(finish);
    this.#ready = Promise.race([startedP, this.ref.ready.then(() => startedP), exited.then(() => Promise.reject(this.ref.error ?? new SpawnError(`${file} ended before it started`, file)))]).then(() => this);
    this.#ready.catch(() => {});
  }

  /** Resolves when the program runs; rejects with `SpawnError` (missing executable, permission…). */
  get ready(): Promise<this> {
    return this.#ready;
  }

  /** The program's pid (not the host's); null until it runs. */
  get pid(): number | null {
    return this.#pid;
  }

  /** As an actor's: the program's exit code, or -N when a signal ended it (null until the host has ended). */
  get exitCode(): number | null {
    const host = this.ref.exitCode;
    return host === null ? null : (this.#programExit ?? host);
  }

  /** True until the program and its host have ended. */
  isAlive(): boolean {
    return this.ref.isAlive();
  }

  /**
   * Writes to the program's stdin.
   * @throws {ClosedError} `ERR_CLOSED` after `closeInput()`, or once the program has ended (Python's `ValueError` on a closed file).
   */
  send(data: string | Uint8Array): void {
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw invalidOption('send() data', 'a string or bytes (a Buffer or Uint8Array) for the program\'s stdin', data);
    // Before, both were dropped without a word.
    if (this.#inputClosed) throw new ClosedError(`send() on command ${this.ref.name}: its stdin is closed (closeInput() was called).`);
    if (this.exitCode !== null) throw new ClosedError(`send() on command ${this.ref.name}: the program has ended (exit code ${this.exitCode}).`);
    this.ref.send({ stdin: data });
  }

  /** Ends the program's stdin. Again, or once the program has ended, it does nothing. */
  closeInput(): void {
    if (this.#inputClosed) return;
    this.#inputClosed = true;
    this.ref.send({ closeInput: true });
  }

  /** Waits for the program and its host to end; resolves `exitCode`, or null at `timeout`. */
  async join(options?: JoinOptions): Promise<number | null> {
    const host = await this.ref.join(options);
    return host === null ? null : (this.#programExit ?? host);
  }

  /** SIGTERM to the program (and its group); exit code -15. */
  terminate(): void {
    this.ref.terminate();
  }

  /** SIGKILL; exit code -9. */
  kill(): void {
    this.ref.kill();
  }

  /** SIGTERM to the program's group, then SIGKILL at `timeout`. */
  stop(options?: StopOptions): Promise<number> {
    return this.ref.stop(options);
  }

  /**
   * Everything the program writes, joined, once it is done: text, or a
   * `Buffer` of the bytes as written with `encoding: 'buffer'`. Called again,
   * it gives the same answer.
   * @throws {OutputLimitError} `ERR_OUTPUT_LIMIT` (as a rejection) past `limit` characters or bytes (default 64 MiB); the program is killed.
   * @throws {TroupeError} `ERR_INVALID_ARGUMENT` when `stdout` or `stderr` is being read already (in a `for await`).
   */
  output(options?: { limit?: number }): Promise<{ stdout: Out; stderr: Out }> {
    let limit: number;
    try {
      ({ limit = 64 * 1024 * 1024 } = optionsOf(options, 'output() options', ['limit']));
      checkLimit(limit, 'output() options.limit');
    } catch (err) {
      // Refused, and not kept: a later call with good options collects.
      return Promise.reject(err);
    }
    return (this.#output ??= this.#collectOutput(limit));
  }

  async #collectOutput(limit: number): Promise<{ stdout: Out; stderr: Out }> {
    let size = 0;
    let passed = false;
    const out: (string | Buffer)[] = [];
    const err: (string | Buffer)[] = [];
    // Bytes joined as bytes: a character split across two chunks, or bytes that are no text, stay whole.
    const joined = (parts: (string | Buffer)[]): Out => (this.#bytes ? Buffer.concat(parts as Buffer[]) : parts.join('')) as Out;
    // Lines get back the newline they ended with; a piece that did not end its line, and raw chunks, do not.
    const collect = async (stream: Stream<OutputMessage>, parts: (string | Buffer)[]): Promise<void> => {
      for await (const { data, unterminated } of stream) {
        if (passed) continue; // the program is being killed: what is left is drained, not kept
        const part = this.#lines && typeof data === 'string' && !unterminated ? `${data}\n` : data;
        // Counted as output() gives it back: a line with its newline.
        size += part.length;
        if (size > limit) {
          passed = true;
          // The part of a raw piece that came within the limit is kept too: a fast program's output
          // comes in pieces of up to 1 MiB, and one over the limit may be all it wrote. A line is kept
          // whole or not at all.
          const room = limit - (size - part.length);
          const whole = this.#lines && typeof data === 'string' && !unterminated;
          if (room > 0 && !whole) parts.push(typeof part === 'string' ? part.slice(0, room) : part.subarray(0, room));
          this.kill();
          // What had come within the limit, from both streams, as Python's TimeoutExpired keeps it.
          throw new OutputLimitError(`The output of ${this.ref.name} passed the limit of ${limit}; the program was killed. Raise \`limit\`, or read ref.stdout as it comes.`, limit, joined(out), joined(err));
        }
        parts.push(part);
      }
    };
    await Promise.all([collect(this.#out, out), collect(this.#err, err)]);
    await this.#done;
    return { stdout: joined(out), stderr: joined(err) };
  }
}

/**
 * Starts `file` with `argv` as a command actor. No shell is involved unless
 * `shell: true`. The executable is looked up first, so a missing one or one
 * without permission is a `SpawnError` naming it.
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` for a bad file, argv or option.
 */
export function spawnCommand(file: string, argv: readonly string[], options: CommandOptions & { readonly encoding: 'buffer' }): Command<Buffer>;
export function spawnCommand(file: string, argv?: readonly string[], options?: CommandOptions & { readonly encoding?: BufferEncoding }): Command<string>;
export function spawnCommand(file: string, argv?: readonly string[], options?: CommandOptions): Command<string | Buffer>;
export function spawnCommand(file: string, argv: readonly string[] = [], options: CommandOptions = {}): Command<string | Buffer> {
  checkProgram(file, argv);
  return new Command(file, argv, commandOptionsOf(options, 'spawnCommand() options'));
}

/** The checks every way of starting a program makes at the call site, rather than in the host. */
function checkProgram(file: unknown, argv: unknown): void {
  if (typeof file !== 'string' || file === '') throw invalidOption('file', 'the program to run', file);
  if (file.includes('\0')) throw invalidOption('file', 'a program name without NUL bytes (no program can be named so)', file);
  if (!Array.isArray(argv) || argv.some((a) => typeof a !== 'string')) throw invalidOption('argv', 'an array of strings', argv);
  if (argv.some((a: string) => a.includes('\0'))) throw invalidOption('argv', 'strings without NUL bytes (a program cannot be given one)', argv);
}

const COMMAND_OPTIONS = ['cwd', 'env', 'name', 'daemon', 'shell', 'encoding', 'lines', 'output'];

/** Python's `subprocess.run` spellings, answered. */
const SUBPROCESS_HINTS = {
  capture_output: 'the output is always captured: `stdout` and `stderr` of the result.',
  check: "look at the result's `exitCode`.",
  text: "the output is text unless `encoding: 'buffer'`.",
};

/** A command's options, checked at the call site: a bad one would otherwise fail in the host, or be ignored. */
function commandOptionsOf<T extends CommandOptions>(options: T, what: string, known: readonly string[] = COMMAND_OPTIONS): T {
  const given = optionsOf(options, what, known, SUBPROCESS_HINTS) as T;
  const { cwd, env, name, daemon, shell, encoding, lines, output } = given;
  if (cwd !== undefined && typeof cwd !== 'string') throw invalidOption(`${what}.cwd`, 'a directory path', cwd);
  if (env !== undefined && (typeof env !== 'object' || env === null || Array.isArray(env))) throw invalidOption(`${what}.env`, 'an object of environment variables', env);
  const nul = env === undefined ? undefined : Object.entries(env).find(([key, value]) => key.includes('\0') || (typeof value === 'string' && value.includes('\0')));
  if (nul !== undefined) throw invalidOption(`${what}.env.${nul[0].replace(/\0/g, '\\0')}`, 'a variable without NUL bytes (no environment can hold one)', nul[1]);
  if (name !== undefined && typeof name !== 'string') throw invalidOption(`${what}.name`, 'a string', name);
  for (const [key, value] of [['daemon', daemon], ['shell', shell], ['lines', lines]] as const) {
    if (value !== undefined && typeof value !== 'boolean') throw invalidOption(`${what}.${key}`, 'true or false', value);
  }
  if (encoding !== undefined && encoding !== 'buffer' && !(typeof encoding === 'string' && Buffer.isEncoding(encoding))) {
    throw invalidOption(`${what}.encoding`, "a text encoding Node knows ('utf8', 'latin1'…) or 'buffer'", encoding);
  }
  if (output !== undefined && typeof output !== 'function' && !(output instanceof ActorRef)) throw invalidOption(`${what}.output`, 'an actor ref or a function', output);
  return given;
}

/** A limit of output: a number of characters or bytes >= 0. */
function checkLimit(limit: unknown, what: string): void {
  if (limit !== undefined && (typeof limit !== 'number' || Number.isNaN(limit) || limit < 0)) throw invalidOption(what, 'a number of characters or bytes >= 0', limit);
}

/** For a script that exists but cannot be started (ENOENT): the interpreter its `#!` line names is missing. */
function interpreterProblem(err: unknown, file: string): string {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return '';
  try {
    const first = readFileSync(file, 'utf8').slice(0, 256).split('\n')[0]!;
    return first.startsWith('#!') ? ` (its interpreter, ${first.slice(2).trim()}, was not found)` : '';
  } catch {
    return '';
  }
}

/** The search path a program is looked up in when its environment has none (libuv's, as execvp's). */
const DEFAULT_PATH = '/usr/bin:/bin';

/** The file that running `file` would run: itself when it names a path, else the first executable file of that name on `path`. */
function findProgram(file: string, path: string): string | null {
  if (file.includes('/')) return file;
  const runnable = (candidate: string): boolean => {
    try {
      accessSync(candidate, fsConstants.X_OK);
      return statSync(candidate).isFile();
    } catch {
      return false;
    }
  };
  return candidatesOf(file, path).find(runnable) ?? null;
}

/** Where running `file` looks for it: itself when it names a path, else in each directory of `path`. */
function candidatesOf(file: string, path: string): string[] {
  return file.includes('/') ? [file] : path.split(delimiter).filter(Boolean).map((dir) => join(dir, file));
}

/** Why `file` cannot be run, or null. */
function executableProblem(file: string, path: string): string | null {
  for (const candidate of candidatesOf(file, path)) {
    try {
      if (statSync(candidate).isDirectory() && file.includes('/')) return `${candidate} is a directory, not a program.`;
      if (!statSync(candidate).isFile()) continue;
    } catch {
      continue;
    }
    try {
      accessSync(candidate, fsConstants.X_OK);
      return null;
    } catch {
      return `${candidate} is not executable (permission denied). Check its mode (chmod +x).`;
    }
  }
  return file.includes('/') ? `${file} does not exist.` : `no executable named ${file} on PATH.`;
}

/**
 * A supervisor child spec for a command: the program runs under a command
 * actor, restarted by its supervisor like any child. Its output goes to the
 * supervisor's stdout and stderr.
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` for a bad file or argv.
 */
export function commandSpec(id: string, file: string, argv: readonly string[] = [], options: Omit<CommandOptions, 'encoding' | 'lines' | 'output'> & { restart?: Restart; shutdown?: Shutdown } = {}): ChildSpec {
  checkProgram(file, argv);
  if (typeof id !== 'string' || id === '') throw invalidOption('commandSpec() id', 'a non-empty string', id);
  options = commandOptionsOf(options, 'commandSpec() options', ['cwd', 'env', 'name', 'daemon', 'shell', 'restart', 'shutdown']);
  const spec: HostSpec = { file, argv, cwd: options.cwd, env: options.env, shell: options.shell ?? false, encoding: 'utf8', lines: true, sink: null, reported: false };
  const child: ChildSpec = {
    id,
    actor: commandHost,
    args: [spec],
    restart: options.restart,
    shutdown: options.shutdown,
    name: options.name ?? id,
    daemon: options.daemon,
    // As spawnCommand's host: on the supervisor's death, the host ends the program's group before it goes.
    deathSignal: 'TERM',
  };
  // Its restart and shutdown checked here, not when a supervisor starts it.
  resolveChildSpec(child, 'commandSpec() options');
  return child;
}

/** `run(program, args, options)`: a command's options, with its input, limit and deadline. */
export interface RunOptions extends CommandOptions {
  /** Written to stdin, then stdin is closed. */
  readonly input?: string | Uint8Array;
  /** Milliseconds; past them the program is killed and `run` rejects with `TimeoutError`. */
  readonly timeout?: number;
  /** Most output kept (see `output`). */
  readonly limit?: number;
}

/**
 * Runs `file` to the end, as Python's `subprocess.run`: resolves
 * `{ exitCode, stdout, stderr }` whatever the exit code.
 * Rejects with `SpawnError`, `CommandTimeoutError` (a `TimeoutError`, after ending the program; with the output that had come) or `OutputLimitError`.
 */
export function run(file: string, argv: readonly string[], options: RunOptions & { readonly encoding: 'buffer' }): Promise<{ exitCode: number; stdout: Buffer; stderr: Buffer }>;
export function run(file: string, argv?: readonly string[], options?: RunOptions & { readonly encoding?: BufferEncoding }): Promise<{ exitCode: number; stdout: string; stderr: string }>;
export function run(file: string, argv?: readonly string[], options?: RunOptions): Promise<{ exitCode: number; stdout: string | Buffer; stderr: string | Buffer }>;
export async function run(file: string, argv: readonly string[] = [], options: RunOptions = {}): Promise<{ exitCode: number; stdout: string | Buffer; stderr: string | Buffer }> {
  const { input, timeout, limit, ...rest } = commandOptionsOf(options, 'run() options', [...COMMAND_OPTIONS, 'input', 'timeout', 'limit']);
  if (input !== undefined && typeof input !== 'string' && !(input instanceof Uint8Array)) throw invalidOption('run() options.input', "a string or bytes for the program's stdin", input);
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout > 0))) throw invalidOption('run() options.timeout', 'a positive number of milliseconds', timeout);
  checkLimit(limit, 'run() options.limit');
  // Whole chunks, not lines: run() gives the output joined, and a chunk is one message where its lines would be many.
  // A program that cannot start is run()'s rejection, not also a report its host prints.
  checkProgram(file, argv);
  const command = new Command<string | Buffer>(file, argv, { ...rest, lines: false }, true);
  await command.ready;
  if (input !== undefined) command.send(input);
  command.closeInput();
  const output = command.output(limit === undefined ? {} : { limit });
  output.catch(() => {});
  const exitCode = await command.join(timeout === undefined ? {} : { timeout });
  if (exitCode === null) {
    command.kill();
    await command.join();
    // What had come, as Python's TimeoutExpired keeps it (within the limit, when that was passed too).
    const empty = rest.encoding === 'buffer' ? Buffer.alloc(0) : '';
    const partial = await output.catch((err: unknown) => (err instanceof OutputLimitError ? { stdout: err.stdout, stderr: err.stderr } : { stdout: empty, stderr: empty }));
    throw new CommandTimeoutError(`${file} did not finish within ${timeout} ms; it was killed.`, timeout!, partial.stdout, partial.stderr);
  }
  return { exitCode, ...(await output) };
}
