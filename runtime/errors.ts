/**
 * One error hierarchy: every error troupe raises is a `TroupeError` with a
 * stable `code`. Each code has its own subclass with typed fields, so callers
 * can branch on `instanceof` or on `err.code`, whichever reads better.
 */

/** Every stable error code troupe uses. */
export type ErrorCode =
  | 'ERR_TIMEOUT'
  | 'ERR_ABORTED'
  | 'ERR_ACTOR_EXITED'
  | 'ERR_NO_SUCH_ACTOR'
  | 'ERR_SERIALIZATION'
  | 'ERR_SPAWN'
  | 'ERR_SPAWN_AT_IMPORT'
  | 'ERR_REMOTE'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_NO_CALL'
  | 'ERR_MAILBOX_FULL'
  | 'ERR_PROTOCOL'
  | 'ERR_LINKED_EXIT'
  | 'ERR_NAME_TAKEN'
  | 'ERR_RESTART_INTENSITY'
  | 'ERR_NO_SUCH_CHILD'
  | 'ERR_CHILD_EXISTS'
  | 'ERR_SUPERVISOR_STOPPING'
  | 'ERR_WORKER_CRASHED'
  | 'ERR_POOL_CLOSED'
  | 'ERR_OUTPUT_LIMIT'
  | 'ERR_QUEUE_FULL'
  | 'ERR_QUEUE_EMPTY'
  | 'ERR_CLOSED'
  | 'ERR_STILL_RUNNING'
  | 'ERR_EOF'
  | 'ERR_BROKEN_PIPE'
  | 'ERR_WRONG_DIRECTION'
  | 'ERR_TASK_DONE'
  | 'ERR_NOT_OWNER'
  | 'ERR_RELEASED_TOO_MANY'
  | 'ERR_BROKEN_BARRIER'
  | 'ERR_SHARED_VALUE';

/**
 * Every error troupe throws: `code` says which (`ERR_TIMEOUT`, `ERR_CLOSED`,
 * …), and the message says what was wrong and what to do. Its subclasses
 * (`TimeoutError`, `RemoteError`, …) carry what their case needs.
 */
export class TroupeError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
  override get name(): string {
    return this.constructor.name;
  }
}

/** A wait (`call`, `join`, `receive`…) passed its deadline. */
export class TimeoutError extends TroupeError {
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs: number, options?: { cause?: unknown }) {
    super('ERR_TIMEOUT', message, options);
    this.timeoutMs = timeoutMs;
  }
}

/** A wait was cancelled through its `AbortSignal`. The signal's reason is the `cause`. */
export class AbortError extends TroupeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ABORTED', message, options);
  }
}

/** @internal Set (true) on an `ActorExitedError` whose call the actor ended without taking: it never ran. */
export const NEVER_TAKEN = Symbol('troupe.never-taken');

/** @internal Set (true) on the `AbortError` of a `receive()` that the actor's end cut short, as it closed the mailbox. */
export const MAILBOX_CLOSED = Symbol('troupe.mailbox-closed');

/** Whether `error` is a `receive()` cut short by its actor's end (see MAILBOX_CLOSED): a consequence of the end, not a failure. */
export function endedReceive(error: unknown): boolean {
  return error instanceof AbortError && (error as unknown as Record<symbol, unknown>)[MAILBOX_CLOSED] === true;
}

/** Whether a call failed with `error` because its actor ended without ever taking it (see NEVER_TAKEN). */
export function neverTaken(error: unknown): boolean {
  return error instanceof ActorExitedError && (error as unknown as Record<symbol, unknown>)[NEVER_TAKEN] === true;
}

/** The target actor ended before it answered. */
export class ActorExitedError extends TroupeError {
  readonly actorId: string;
  constructor(message: string, actorId: string, options?: { cause?: unknown }) {
    super('ERR_ACTOR_EXITED', message, options);
    this.actorId = actorId;
  }
}

/** No actor with that ID ever existed where the ID says it lives. */
export class NoSuchActorError extends TroupeError {
  readonly actorId: string;
  constructor(message: string, actorId: string) {
    super('ERR_NO_SUCH_ACTOR', message);
    this.actorId = actorId;
  }
}

/** A value cannot cross a process boundary; `path` names where it sits (`args[1].cb`). */
export class SerializationError extends TroupeError {
  readonly path: string;
  constructor(message: string, path: string, options?: { cause?: unknown }) {
    super('ERR_SERIALIZATION', message, options);
    this.path = path;
  }
}

/** An actor could not be started: bad module path, missing export, import threw. */
export class SpawnError extends TroupeError {
  readonly actorName: string;
  constructor(message: string, actorName: string, options?: { cause?: unknown; code?: 'ERR_SPAWN' | 'ERR_SPAWN_AT_IMPORT' }) {
    super(options?.code ?? 'ERR_SPAWN', message, options);
    this.actorName = actorName;
  }
}

/**
 * The remote handler threw. `remoteName`, `message` and `remoteStack` are the
 * remote error's own; the remote error, rebuilt, is the `cause`.
 */
export class RemoteError extends TroupeError {
  readonly actorId: string;
  readonly remoteName: string;
  readonly remoteStack: string;
  constructor(message: string, info: { actorId: string; remoteName: string; remoteStack: string; cause?: unknown }) {
    super('ERR_REMOTE', message, { cause: info.cause });
    this.actorId = info.actorId;
    this.remoteName = info.remoteName;
    this.remoteStack = info.remoteStack;
  }
}

/** An option or argument was wrong. The message names it, its value, and what was expected. */
export class InvalidArgumentError extends TroupeError {
  constructor(message: string) {
    super('ERR_INVALID_ARGUMENT', message);
  }
}

/** A bounded mailbox with `overflow: 'fail'` refused a message. */
export class MailboxFullError extends TroupeError {
  readonly actorId: string;
  constructor(message: string, actorId: string) {
    super('ERR_MAILBOX_FULL', message);
    this.actorId = actorId;
  }
}

/** Something other than troupe wrote to a control channel, or the peer spoke another protocol version. */
export class ProtocolError extends TroupeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PROTOCOL', message, options);
  }
}

/**
 * Set on an error that ends an actor as a `shutdown` rather than a failure:
 * its process reports the error (the parent's `ref.error`) and ends by
 * SIGTERM, so its exit reason is `shutdown`, as OTP's supervisor ends at its
 * restart intensity.
 */
export const ENDS_AS_SHUTDOWN: unique symbol = Symbol.for('troupe.ends-as-shutdown');

/**
 * Set on an error that ends an actor when its caller gets it another way (a
 * `run()` whose program cannot start rejects with it): its host does not
 * print it. The parent's `ref.error` is the error all the same.
 */
export const REPORTED: unique symbol = Symbol.for('troupe.reported');

/** An actor linked to this one ended abnormally, and this one does not trap exits. */
export class LinkedExitError extends TroupeError {
  readonly actorId: string;
  /** The linked actor's exit reason (see ExitReason). */
  readonly reason: unknown;
  constructor(message: string, actorId: string, reason: unknown) {
    super('ERR_LINKED_EXIT', message);
    this.actorId = actorId;
    this.reason = reason;
  }
}

/** `register()` was given a name that a live actor holds. */
export class NameTakenError extends TroupeError {
  readonly actorName: string;
  constructor(message: string, actorName: string) {
    super('ERR_NAME_TAKEN', message);
    this.actorName = actorName;
  }
}

/** Every error class of the kernel: the codec rebuilds them as themselves when they cross a process. */
export const KERNEL_ERRORS = [
  TroupeError,
  TimeoutError,
  AbortError,
  ActorExitedError,
  NoSuchActorError,
  SerializationError,
  SpawnError,
  RemoteError,
  InvalidArgumentError,
  MailboxFullError,
  ProtocolError,
  LinkedExitError,
  NameTakenError,
] as const;

/** `describe(1)` → `1 (number)`: how validation messages show a bad value. */
export function describeValue(value: unknown): string {
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  let shown: string;
  try {
    shown = typeof value === 'string' ? JSON.stringify(value) : typeof value === 'function' ? `[function ${value.name || 'anonymous'}]` : String(value);
  } catch {
    shown = Object.prototype.toString.call(value);
  }
  if (shown.length > 60) shown = shown.slice(0, 57) + '...';
  return `\`${shown}\` (${type})`;
}

/** The one template for a rejected option: ``Expected `timeout` to be …, got `0` (number)``. */
export function invalidOption(name: string, expected: string, value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`Expected \`${name}\` to be ${expected}, got ${describeValue(value)}.`);
}

/** Runs `run`: what it throws at once becomes the rejection of the promise returned, as a method answering with a promise should fail. */
export function rejecting<R>(run: () => Promise<R>): Promise<R> {
  try {
    return run();
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Refuses an option `what` does not know, naming the right spelling where one
 * is close (`maxtasksperchild`, `error_callback`) or the hint given for it
 * (Python's `processes`): an unknown option would otherwise be dropped without
 * a word, and `q.get({ block: false })` would wait for ever. A key whose value
 * is `undefined` is let through, as absent.
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT`.
 */
export function onlyKnown(options: object, what: string, known: readonly string[], hints: Readonly<Record<string, string>> = {}): void {
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined || known.includes(key)) continue;
    const loose = key.replaceAll('_', '').toLowerCase();
    const close = known.find((k) => k.toLowerCase() === loose);
    const hint = (Object.hasOwn(hints, key) ? hints[key] : undefined) ?? (close !== undefined ? `did you mean \`${close}\`?` : `its options are ${known.map((k) => `\`${k}\``).join(', ')}.`);
    throw new InvalidArgumentError(`Unknown option \`${key}\` in ${what}: ${hint}`);
  }
}

/**
 * The options object of a constructor or a setup call, checked: absent is
 * none; anything but an object is `InvalidArgumentError` (`name` expected to
 * be `expected`); a key it does not know is refused as `onlyKnown` says.
 */
export function checkOptions(options: unknown, name: string, expected: string, what: string, known: readonly string[], hints?: Readonly<Record<string, string>>): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) throw invalidOption(name, expected, options);
  onlyKnown(options, what, known, hints);
}

/**
 * The options object a method was given: `undefined` or `null` are none; a
 * value that is not an object, or a `signal` in it that is not an
 * AbortSignal, is `InvalidArgumentError` naming `what` (a string taken for
 * options would otherwise mean "no options", a wait with no deadline); so is
 * a key not in `known`, when given (see `onlyKnown`).
 */
export function optionsOf<T extends object>(options: T | null | undefined, what: string, known?: readonly string[], hints?: Readonly<Record<string, string>>): Partial<T> {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) throw invalidOption(what, 'an object of options', options);
  // A signal given where its options go would be no options: a wait with no deadline nor abort.
  if (options instanceof AbortSignal) throw invalidOption(what, 'an object of options (`{ signal }` for an AbortSignal)', options);
  if (known !== undefined) onlyKnown(options, what, known, hints);
  const signal = (options as { signal?: unknown }).signal;
  if (signal === null) return { ...options, signal: undefined };
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidOption(`${what}.signal`, 'an AbortSignal', signal);
  return options;
}
