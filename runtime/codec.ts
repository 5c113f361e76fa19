/**
 * The only place msgpackr is imported. Values are encoded with structured-clone
 * semantics (cycles, Map, Set, Date, RegExp, Error, typed arrays, BigInt), refs
 * travel as handles, and large byte buffers travel beside the encoded body as
 * attachments so they are never copied into it.
 *
 * Encodings are self-contained (no stream state), so a node that only routes a
 * message forwards its bytes without decoding them.
 */
import { EventEmitter } from 'node:events';
import { Packr, Unpackr, addExtension } from 'msgpackr';
import { InvalidArgumentError, KERNEL_ERRORS, SerializationError, invalidOption } from './errors.ts';
import { HEADER_BYTES, MAX_FRAME_BYTES, attachmentPad } from './framing.ts';
import { loadActorsLayer } from './process/import-url.ts';

/** Byte buffers at least this large become attachments instead of being copied into the body. */
export const ATTACHMENT_MIN_BYTES = 64 * 1024;
/** Attachments a frame can carry (its header counts them in a byte). */
export const MAX_ATTACHMENTS = 255;

export interface Encoded {
  readonly payload: Buffer;
  readonly attachments: readonly Buffer[];
  /** How the payload was encoded (`FLAG_RECORDS`); decode needs it back. */
  readonly flags: number;
}

/**
 * Set when the payload uses msgpackr records. Plain msgpack maps encode and
 * decode about twice as fast, but then a JS Map would come back as an object;
 * so a value that holds a Map (or is too deep or cyclic to check cheaply) is
 * encoded with records, where a msgpack map always means a Map.
 */
export const FLAG_RECORDS = 1;
/**
 * Set when the payload holds a handle (a queue, a pipe end…): a message
 * dropped unread (a late reply, a call to an actor gone) is decoded for what
 * its handles must be told only then, not whatever it held (a pool job's
 * thousands of items).
 */
export const FLAG_HANDLES = 2;
/** A handle's `toWire()` ran in the value being encoded (see FLAG_HANDLES). */
let packedHandle = false;

const NO_ATTACHMENTS: readonly Buffer[] = Object.freeze([]);

// Extension type numbers: a block of our own, clear of msgpackr's built-ins
// (0x42 BigInt, 0x62, 0x65, 0x69, 0x70, 0x73, 0x74, 0x78 structured clone).
const EXT_ERROR = 0x21;
const EXT_BYTES = 0x22;
const EXT_REF = 0x23;
// 0x24 was the refused classes' (they throw as they are written: nothing of that type is ever sent).
const EXT_DEFINITION = 0x25;
const EXT_TASK = 0x26;
const EXT_HANDLE = 0x27;
const EXT_TYPED = 0x28;
const EXT_UNUSUAL = 0x29;

class Unencodable extends TypeError {}

const common = {
  structuredClone: true,
  int64AsType: 'bigint' as const,
  useBigIntExtension: true,
  writeFunction(): never {
    throw new Unencodable('a function');
  },
};
// Records are defined inline in each message: no stream state, so a router
// forwards the bytes as they are. (msgpackr keeps state on its options
// objects: each instance gets its own.)
const mapsPackr = new Packr({ ...common, useRecords: false, mapsAsObjects: true });
const mapsUnpackr = new Unpackr({ ...common, useRecords: false, mapsAsObjects: true });
const recordsPackr = new Packr({ ...common, useRecords: true });
const recordsUnpackr = new Unpackr({ ...common, useRecords: true });
// For a value holding an object of 65,536 keys or more, which the packers above refuse (they write
// every object's size in 16 bits, the faster way): made on first need, used for such a value alone.
let wideMapsPackr: Packr | null = null;
let wideRecordsPackr: Packr | null = null;

/** A packer of `records` kind that writes objects of any number of keys. */
function widePackr(records: boolean): Packr {
  if (records) return (wideRecordsPackr ??= new Packr({ ...common, useRecords: true, variableMapSize: true }));
  return (wideMapsPackr ??= new Packr({ ...common, useRecords: false, mapsAsObjects: true, variableMapSize: true }));
}

/** msgpackr's refusal of an object past 65,535 keys, by a packer without `variableMapSize`. */
function tooManyKeys(err: unknown): boolean {
  return err instanceof Error && err.message.includes('variableMapSize');
}

// The attachments of the value being packed or unpacked. pack/unpack are
// synchronous, so one slot per direction is enough.
let packing: Buffer[] | null = null;
const scratch: Buffer[] = [];
/** The actor the value being encoded goes to, when the caller said (see encodingFor). */
let packingFor: string | undefined;
/** What handles in the value being encoded asked to do once it has encoded (see afterEncoding). */
let afterPacking: (() => void)[] = [];

/**
 * While a value is encoded, the ID of the actor it goes to (a message's
 * target, a reply's caller, a spawned child for its args), when the caller
 * knows it: a handle's `toWire()` may tell its service who will hold it.
 */
export function encodingFor(): string | undefined {
  return packingFor;
}

/**
 * Runs `fn` once the value being encoded has encoded without error, before
 * `encode()` returns (so before the message is sent), or hands it to the
 * caller's `after` list: a handle's `toWire()` cannot send from within the
 * encoding.
 */
export function afterEncoding(fn: () => void): void {
  afterPacking.push(fn);
}
let unpacking: readonly Buffer[] | null = null;
/** Whether the value being decoded goes to a service of this process (see decodingForService). */
let unpackingForService = false;
/** The actor a message being decoded was for, which it never reached (see decodingLostFor). */
let unpackingLostFor: string | undefined;

/**
 * While a value is decoded for a service of this process (a queue's, a
 * pipe's), true: such a service keeps what it is sent for an actor to take,
 * so a handle decoded then is held in trust, not by this process.
 */
export function decodingForService(): boolean {
  return unpackingForService;
}

/**
 * While a message that never reached its actor is decoded (a late reply, a
 * dead letter), in trust as a service's (decodingForService is true), that
 * actor's id: a handle announced to it may tell its service it never came.
 */
export function decodingLostFor(): string | undefined {
  return unpackingLostFor;
}

const ERROR_TYPES: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  AggregateError: AggregateError as unknown as ErrorConstructor,
};

interface WireError {
  name: string;
  /** 1: of a registered class (see registerErrorClass), which rebuilds it: the one named `k`, or else `name`. */
  r?: 1;
  k?: string;
  message: string;
  stack?: string;
  cause?: unknown;
  props?: Record<string, unknown>;
}

/**
 * An error as data: name, message, stack, cause and its own fields (such as
 * `code`), and an AggregateError's `errors`. It never throws, and what it
 * returns can always be encoded: a field that cannot cross (a function deep
 * inside, a getter that throws) is replaced by a note saying so, and a thrown
 * value that cannot be read at all (a revoked Proxy) by an error saying that.
 */
export function errorToWire(err: unknown): WireError {
  try {
    return toWire(err, new Set());
  } catch (cause) {
    return { name: 'Error', message: `a thrown value that cannot be read (${reasonOf(cause)}): it could not be sent` };
  }
}

/** Errors nested deeper than this (through `cause`, `errors` and other fields) are not sent. */
const MAX_ERROR_DEPTH = 32;

function toWire(err: unknown, seen: Set<unknown>): WireError {
  if (!(err instanceof Error)) {
    const wire: WireError = { name: 'Error', message: `non-error value thrown: ${safeString(err)}` };
    // The value itself as the error's \`value\`, where it can cross (a thrown object keeps its fields).
    if (err !== undefined && findUnencodable(err, 'thrown') === undefined) wire.props = { value: err };
    return wire;
  }
  // The errors on the way here: one met again is a cycle (`err.cause = err`).
  seen.add(err);
  try {
    return errorFieldsToWire(err, seen);
  } finally {
    seen.delete(err);
  }
}

function errorFieldsToWire(err: Error, seen: Set<unknown>): WireError {
  const wire: WireError = { name: String(err.name), message: String(err.message) };
  // Only an error of a registered class comes back as one, found by its class (whatever its `name`
  // says): another that shares a name (Node's own AbortError, a program's TimeoutError) comes back a
  // plain Error of that name.
  const key = registeredAs.get(Object.getPrototypeOf(err) as object);
  if (key !== undefined) {
    wire.r = 1;
    if (key !== wire.name) wire.k = key;
  }
  if (err.stack !== undefined) wire.stack = String(err.stack);
  if (err.cause !== undefined) wire.cause = fieldToWire(err.cause, 'cause', seen);
  const props: Record<string, unknown> = {};
  let any = false;
  for (const key of Object.keys(err)) {
    if (key === 'cause' || key === 'stack' || key === 'message') continue;
    let value: unknown;
    try {
      value = (err as unknown as Record<string, unknown>)[key];
    } catch (e) {
      value = `[not sent: its getter threw ${reasonOf(e)}]`;
    }
    // A function or a symbol on the error itself comes as a note too, as one deeper in it does.
    props[key] = fieldToWire(value, key, seen);
    any = true;
  }
  // Not an own enumerable field: Object.keys() does not see it.
  if (err instanceof AggregateError && Array.isArray(err.errors)) {
    props.errors = err.errors.map((e: unknown, i: number) => fieldToWire(e, `errors[${i}]`, seen));
    any = true;
  }
  if (any) wire.props = props;
  return wire;
}

/**
 * A field of an error, as it can cross: a value that cannot as a note; an
 * error as wire data for `cause`, elsewhere as a copy rebuilt from it (which
 * the codec's error extension sends, and which comes back an error).
 */
function fieldToWire(value: unknown, name: string, seen: Set<unknown>): unknown {
  if (value instanceof Error) {
    if (seen.has(value) || seen.size >= MAX_ERROR_DEPTH) return `[not sent: ${seen.has(value) ? 'the error refers back to itself' : `errors nested deeper than ${MAX_ERROR_DEPTH}`}]`;
    const wire = toWire(value, seen);
    return name === 'cause' ? wire : errorFromWire(wire);
  }
  const found = findUnencodable(value, name);
  return found === undefined ? value : `[not sent: ${found.path} is ${found.what}]`;
}

const errorClasses = new Map<string, object>();
/** The other way: the name each registered class's prototype is found by. */
const registeredAs = new Map<object, string>();
/** Errors of a registered class that this process had not registered yet as they came (see adoptErrorClasses). */
let pendingClasses: { readonly error: WeakRef<Error>; readonly key: string }[] = [];
/** So many at most are remembered: past it, the oldest stay plain. */
const MAX_PENDING_CLASSES = 10_000;
/** The names of troupe's own error classes, which no class of a program's may take. */
const ownErrorNames = new Set<string>();

/**
 * Lets errors of `Class` come back from another process as instances of it,
 * as Python unpickles an exception into its own class: call it at the top
 * level of the module that defines the class, so that every process that
 * loads the module registers it. Found by the class's name, which must be
 * unique among those registered; its constructor is not called (the fields
 * come as they were). An error of another class that has the same name comes
 * back a plain `Error` with that name.
 *
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` for a value that is
 * not a class extending `Error`, or a class named as one of troupe's errors.
 */
export function registerErrorClass(Class: abstract new (...args: never[]) => Error): void {
  if (typeof Class !== 'function' || !(Class.prototype instanceof Error)) throw invalidOption('registerErrorClass() class', 'a class that extends Error', Class);
  if (ownErrorNames.has(Class.name) && errorClasses.get(Class.name) !== Class.prototype) {
    throw new InvalidArgumentError(`registerErrorClass(): ${Class.name} is the name of one of troupe's errors, and errors are found by their class's name: give your class another name.`);
  }
  register(Class);
}

function register(Class: abstract new (...args: never[]) => Error): void {
  const replaced = errorClasses.get(Class.name);
  if (replaced !== undefined) registeredAs.delete(replaced);
  errorClasses.set(Class.name, Class.prototype);
  registeredAs.set(Class.prototype, Class.name);
  if (pendingClasses.length > 0) adoptErrorClasses();
}

/** @internal How troupe's own error classes register (see registerErrorClass). */
export function registerOwnErrorClasses(classes: readonly (abstract new (...args: never[]) => Error)[]): void {
  for (const Class of classes) {
    ownErrorNames.add(Class.name);
    register(Class);
  }
}

registerOwnErrorClasses(KERNEL_ERRORS);

/**
 * Gives the errors that came before their class was registered here their
 * class, once a module registers it: a pool worker decodes a task's
 * arguments before it loads the task's module, which registers the class
 * (where Python's unpickling imports it).
 */
function adoptErrorClasses(): void {
  if (pendingClasses.length === 0) return;
  const still: typeof pendingClasses = [];
  for (const pending of pendingClasses) {
    const error = pending.error.deref();
    if (error === undefined) continue;
    const proto = errorClasses.get(pending.key);
    if (proto === undefined) still.push(pending);
    // One its holder froze (or sealed) stays as it is: the module registering the class must not fail for it.
    else if (Object.isExtensible(error)) Object.setPrototypeOf(error, proto);
  }
  pendingClasses = still;
}

/** Rebuilds an error from `errorToWire` data, keeping the remote stack. */
export function errorFromWire(wire: WireError): Error {
  // A class of the actors layer, in a process that runs the kernel alone so far: it is loaded now.
  const key = wire.k ?? wire.name;
  const registered = wire.r !== 1 ? undefined : (errorClasses.get(key) ?? (!Object.hasOwn(ERROR_TYPES, key) && loadActorsLayer() ? errorClasses.get(key) : undefined));
  let err: Error;
  if (registered !== undefined) {
    // Its constructor's arguments are not on the wire: build it without calling it, then give it its fields.
    err = Object.create(registered) as Error;
    Object.defineProperty(err, 'message', { value: wire.message, writable: true, configurable: true });
  } else {
    // Its own keys only: a name such as `toString` is no error type.
    const Ctor = (Object.hasOwn(ERROR_TYPES, wire.name) ? ERROR_TYPES[wire.name] : undefined) ?? Error;
    err = wire.name === 'AggregateError' ? new AggregateError([], wire.message) : new Ctor(wire.message);
    if (!Object.hasOwn(ERROR_TYPES, wire.name)) Object.defineProperty(err, 'name', { value: wire.name, writable: true, configurable: true });
    // Of a class this process has not registered (yet): it gets it if a module it loads registers it.
    if (wire.r === 1) {
      if (pendingClasses.length >= MAX_PENDING_CLASSES) pendingClasses.shift();
      pendingClasses.push({ error: new WeakRef(err), key });
    }
  }
  if (wire.stack !== undefined) Object.defineProperty(err, 'stack', { value: wire.stack, writable: true, configurable: true });
  if (wire.cause !== undefined) {
    const cause = isWireError(wire.cause) ? errorFromWire(wire.cause) : wire.cause;
    Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true });
  }
  // Defined, not assigned: a field named as an accessor of the class (a TroupeError's `name` has a
  // getter only) would throw here, on the link's read, and break the link for the whole actor.
  // They were the sender's own enumerable fields, and are so again; but an AggregateError's errors
  // (carried here, see errorToWire) are not enumerable on one, of whatever class.
  if (wire.props) {
    for (const [key, value] of Object.entries(wire.props)) {
      const enumerable = !(key === 'errors' && err instanceof AggregateError);
      Object.defineProperty(err, key, { value, writable: true, enumerable, configurable: true });
    }
  }
  return err;
}

function isWireError(value: unknown): value is WireError {
  return typeof value === 'object' && value !== null && typeof (value as WireError).name === 'string' && typeof (value as WireError).message === 'string';
}

// Values with no meaning in another process. msgpackr would encode them as
// empty objects; refusing them at the call site is the point of this codec.
const REFUSED: [abstract new (...args: never[]) => object, string][] = [
  [Promise, 'a Promise'],
  [WeakMap, 'a WeakMap'],
  [WeakSet, 'a WeakSet'],
  [WeakRef, 'a WeakRef'],
  [EventEmitter, 'an EventEmitter (socket, stream, process…)'],
  // A copy would arrive as memory shared with nobody: say so rather than send one (msgpackr sent `{}`).
  [SharedArrayBuffer, 'a SharedArrayBuffer (memory is not shared between processes: use SharedArray or Value, or send a copy, new Uint8Array(sab).slice())'],
];

/**
 * What the codec does with an object of a class msgpackr has no way for:
 * refuses it (what it is), or sends a subclass of Map as a Map and a boxed
 * primitive boxed, as structuredClone gives them (msgpackr wrote their own
 * fields: `{}`, or a String's characters by index). A Set subclass already
 * arrives as a Set. Null for any other object.
 */
function unusual(value: object): 'map' | 'boxed' | { refused: string } | null {
  const proto: unknown = Object.getPrototypeOf(value);
  // A Date is the commonest object msgpackr looks here for (its own extension comes after this one).
  if (proto === Date.prototype) return null;
  if (proto === Number.prototype || proto === String.prototype || proto === Boolean.prototype) return 'boxed';
  if (value instanceof Map) return proto === Map.prototype ? null : 'map';
  for (const [Class, what] of REFUSED) if (value instanceof Class) return { refused: what };
  // A subclass of one (rare): looked for last.
  if (value instanceof Number || value instanceof String || value instanceof Boolean) return 'boxed';
  return null;
}

/**
 * One extension for all of them: msgpackr looks for an object's extension by
 * `instanceof`, one class after another, for every object it does not write
 * by its constructor (a Date, an instance of a class of the program's own),
 * and a class each cost a Date 16 ns here. This class claims the objects
 * `unusual` names, after the classes messages do hold (refs, buffers, typed
 * arrays, errors: registered later, so looked for first).
 */
class Unusual {
  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && unusual(value) !== null;
  }
}
addExtension({
  Class: Unusual as unknown as new () => object,
  type: EXT_UNUSUAL,
  write(value: object): unknown {
    const kind = unusual(value)!;
    if (typeof kind === 'object') throw new Unencodable(kind.refused);
    return kind === 'map' ? [0, [...(value as Map<unknown, unknown>)]] : [1, value.valueOf()];
  },
  read: ([kind, data]: [number, unknown]) => (kind === 0 ? new Map(data as [unknown, unknown][]) : Object(data)),
});

addExtension({
  Class: Error,
  type: EXT_ERROR,
  write: (err: Error) => errorToWire(err),
  read: (wire: WireError) => errorFromWire(wire),
});

const handedOver = new WeakSet<object>();

/**
 * Marks a typed array that its maker sends and never changes again (a pool's
 * chunk of numbers, a worker's results): encoded, it goes without the copy
 * that protects one its sender may change before the frame is written, and
 * it may arrive as a view of its frame, not a copy with a buffer of its own
 * (only troupe's own code, which reads it once, hands arrays over).
 */
export function handOver<T extends ArrayBufferView>(values: T): T {
  handedOver.add(values);
  return values;
}

// Byte buffers: small ones inline (tagged so a Buffer comes back a Buffer),
// large ones as an index into the frame's attachments, not copied: as a
// stream's write() takes a Buffer, it must not change until it is written. A
// loop that sends one large buffer a hundred times holds it once, not a
// hundred copies (a spec pipes 100 MB through cat so).
const TAG_BUFFER = 0;
const TAG_U8 = 1;
const TAG_ATTACHED = 2;
/** A typed array its sender handed over (see handOver), which the receiver may view in its frame. */
const TAG_HANDED_OVER = 8;

/** Whether `bytes` go beside the body: large, packed by encode(), and a frame can count one more. */
function attachable(bytes: ArrayBufferView): boolean {
  // A frame counts its attachments in one byte: past that many, buffers go inline.
  return packing !== null && bytes.byteLength >= ATTACHMENT_MIN_BYTES && packing.length < MAX_ATTACHMENTS;
}

/** Attachments that are their sender's own memory (a Buffer or Uint8Array it sent), not a copy. */
const aliased = new WeakSet<Buffer>();

/**
 * Attachments as a receiver in this very process may keep them: one that is
 * its sender's own memory is copied. Across processes the frame written is
 * the copy, and the sender's await (a put, a call) resolves after it; here,
 * a queue in the sender's process held the sender's very buffer, so a change
 * made after `await q.put(buf)` reached its consumer (an audit probe).
 */
export function detached(attachments: readonly Buffer[]): readonly Buffer[] {
  let out: Buffer[] | null = null;
  for (let i = 0; i < attachments.length; i++) {
    const att = attachments[i]!;
    if (!aliased.has(att)) continue;
    out ??= attachments.slice();
    out[i] = Buffer.from(att);
  }
  return out ?? attachments;
}

/** Adds `bytes` to the frame's attachments; its index, for the body to name it. */
function attach(bytes: Buffer): number {
  packing!.push(bytes);
  return packing!.length - 1;
}

/** The attachment a body names, as decode() was given it. */
function attachment(index: number): Buffer {
  const att = unpacking?.[index];
  if (att === undefined) throw new TypeError('frame refers to a missing attachment');
  return att;
}

addExtension({
  Class: Uint8Array,
  type: EXT_BYTES,
  pack(bytes: Uint8Array): Buffer {
    const isBuffer = Buffer.isBuffer(bytes);
    if (attachable(bytes)) {
      const head = Buffer.allocUnsafe(5);
      head[0] = TAG_ATTACHED | (isBuffer ? 0 : 4);
      const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      aliased.add(view);
      head.writeUInt32LE(attach(view), 1);
      return head;
    }
    const out = Buffer.allocUnsafe(bytes.byteLength + 1);
    out[0] = isBuffer ? TAG_BUFFER : TAG_U8;
    out.set(bytes, 1);
    return out;
  },
  unpack(raw: Buffer): Uint8Array {
    const tag = raw[0]!;
    if ((tag & TAG_ATTACHED) !== 0) {
      const att = attachment(raw.readUInt32LE(1));
      return tag & 4 ? new Uint8Array(att.buffer, att.byteOffset, att.byteLength) : att;
    }
    // Inline bytes are copied so a small message never pins a whole read chunk.
    const copy = Buffer.from(raw.subarray(1));
    return tag === TAG_U8 ? new Uint8Array(copy.buffer, copy.byteOffset, copy.byteLength) : copy;
  },
});

// Other typed arrays: large ones as attachments too, copied once as they are sent (the frame is
// written later), so that they are neither copied into the body nor grow msgpackr's buffer: a
// pool's chunks of numbers travel as Float64Arrays. They arrive as copies with buffers of their
// own, as structuredClone gives them: never views of a larger read buffer, whose alignment is
// arbitrary. A handed-over one (troupe's own: a pool's chunk, a worker's results, read once and
// dropped) is a view of its frame when the frame holds it aligned and is mostly it: no second
// copy of its bytes, which a 100,000-task map made eight times over in each process.
/** msgpackr's second argument to an extension's pack: room in its own buffer, `size` bytes from `position`. */
type Allocate = (size: number) => { target: Uint8Array; targetView: DataView; position: number };

/** Writes a msgpack ext of `type` holding two bytes then `bytes`, where `allocate` makes room for it. */
function writeExt(allocate: Allocate, type: number, first: number, second: number, bytes: Uint8Array): void {
  const length = bytes.byteLength + 2;
  const head = length < 0x100 ? 3 : length < 0x10000 ? 4 : 6;
  const { target, targetView, position } = allocate(head + length);
  let at = position;
  if (head === 3) {
    target[at++] = 0xc7;
    target[at++] = length;
  } else if (head === 4) {
    target[at++] = 0xc8;
    targetView.setUint16(at, length);
    at += 2;
  } else {
    target[at++] = 0xc9;
    targetView.setUint32(at, length);
    at += 4;
  }
  target[at++] = type;
  target[at++] = first;
  target[at++] = second;
  target.set(bytes, at);
}

const TYPED = [Int8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array] as const;
type Typed = InstanceType<(typeof TYPED)[number]>;
for (const [kind, Class] of TYPED.entries()) {
  addExtension({
    Class,
    type: EXT_TYPED,
    pack(values: Typed, allocate?: Allocate): Buffer {
      const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      if (attachable(bytes)) {
        const head = Buffer.allocUnsafe(6);
        const given = handedOver.has(values);
        head[0] = given ? TAG_ATTACHED | TAG_HANDED_OVER : TAG_ATTACHED;
        head[1] = kind;
        // A copy: the frame is written later, and the sender may change its array meanwhile (unless
        // it handed the array over: see handOver).
        head.writeUInt32LE(attach(given ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : Buffer.from(bytes)), 2);
        return head;
      }
      // Small ones straight into msgpackr's buffer, as its own typed arrays are written: no buffer of
      // their own made and copied again (that doubled the encoding of 1,000 doubles, 4.2 to 10 µs).
      writeExt(allocate!, EXT_TYPED, TAG_BUFFER, kind, bytes);
      return undefined as unknown as Buffer;
    },
    unpack(raw: Buffer): Typed {
      const Class = TYPED[raw[1]!];
      if (Class === undefined) throw new TypeError('frame holds a typed array of an unknown kind');
      const bytes = (raw[0]! & TAG_ATTACHED) !== 0 ? attachment(raw.readUInt32LE(2)) : raw.subarray(2);
      // Mostly it: a view does not keep a read buffer of other frames alive.
      if ((raw[0]! & TAG_HANDED_OVER) !== 0 && bytes.byteOffset % Class.BYTES_PER_ELEMENT === 0 && bytes.byteLength * 2 >= bytes.buffer.byteLength) {
        return new Class(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / Class.BYTES_PER_ELEMENT);
      }
      const copy = new Class(bytes.byteLength / Class.BYTES_PER_ELEMENT);
      new Uint8Array(copy.buffer).set(bytes);
      return copy;
    },
  });
}

/** Classes with a codec of their own (refs, tasks, handles, definitions): what they hold is not what crosses. */
const CARRIED: (abstract new (...args: never[]) => object)[] = [];

/** How refs cross the wire; installed by the ref module so the codec does not depend on it. */
export function registerRefCodec<T extends object>(Class: abstract new (...args: never[]) => T, toWire: (ref: T) => unknown, fromWire: (data: unknown) => T): void {
  CARRIED.push(Class);
  addExtension({ Class: Class as unknown as new () => T, type: EXT_REF, write: toWire, read: fromWire });
}

/** How tasks cross the wire (by address); installed by task.ts. */
export function registerTaskCodec<T extends object>(Class: abstract new (...args: never[]) => T, toWire: (task: T) => unknown, fromWire: (data: unknown) => T): void {
  CARRIED.push(Class);
  addExtension({ Class: Class as unknown as new () => T, type: EXT_TASK, write: toWire, read: fromWire });
}

/** How handles (queues, pipe ends, locks…) cross the wire; installed by service.ts. */
export function registerHandleCodec<T extends object>(Class: abstract new (...args: never[]) => T, toWire: (handle: T) => unknown, fromWire: (data: unknown) => T): void {
  CARRIED.push(Class);
  addExtension({
    Class: Class as unknown as new () => T,
    type: EXT_HANDLE,
    write: (handle: T) => {
      packedHandle = true;
      return toWire(handle);
    },
    read: fromWire,
  });
}

/** How actor definitions cross the wire (by address: module and ordinal); installed by behaviour.ts. */
export function registerDefinitionCodec<T extends object>(Class: abstract new (...args: never[]) => T, toWire: (def: T) => unknown, fromWire: (data: unknown) => T): void {
  CARRIED.push(Class);
  addExtension({ Class: Class as unknown as new () => T, type: EXT_DEFINITION, write: toWire, read: fromWire });
}

/**
 * Encodes `value` for another process. Throws `SerializationError` naming the
 * path inside `value` (`args[1].cb`) that cannot be encoded; `label` is the
 * name of the whole value at the call site (`message`, `args`).
 */
export function encode(value: unknown, label: string, to?: string, after?: (() => void)[]): Encoded {
  scratch.length = 0;
  packing = scratch;
  packingFor = to;
  // Left by a value that failed to encode: not done.
  if (afterPacking.length > 0) afterPacking = [];
  if (!forgetting) {
    forgetting = true;
    setImmediate(forgetLast).unref();
  }
  let flags = 0;
  let encoded: Encoded;
  try {
    // Inside: reading the value may throw (a getter), and that is a value that cannot be sent too.
    flags = holdsMap(value, 0) ? FLAG_RECORDS : 0;
    packedHandle = false;
    let payload: Buffer;
    try {
      payload = (flags === FLAG_RECORDS ? recordsPackr : mapsPackr).pack(value);
    } catch (err) {
      if (!tooManyKeys(err)) throw err;
      // Packed again from the start: what the first try attached or set to run goes.
      scratch.length = 0;
      afterPacking = [];
      packedHandle = false;
      payload = widePackr(flags === FLAG_RECORDS).pack(value);
    }
    if (packedHandle) flags |= FLAG_HANDLES;
    encoded = { payload, attachments: scratch.length === 0 ? NO_ATTACHMENTS : scratch.splice(0), flags };
  } catch (cause) {
    throw serializationError(value, label, cause);
  } finally {
    packing = null;
    packingFor = undefined;
  }
  // Refused here, where the caller is told what to do, not as the frame is written.
  let bytes = HEADER_BYTES - 4 + encoded.payload.byteLength;
  if (encoded.attachments.length > 0) bytes += attachmentPad(encoded.payload.byteLength);
  for (const attachment of encoded.attachments) bytes += 4 + attachment.byteLength;
  if (bytes > MAX_FRAME_BYTES) {
    throw new SerializationError(
      `Cannot send ${label}: it encodes to ${bytes} bytes, over the ${MAX_FRAME_BYTES} bytes (2 GiB) one message can hold. Send it in parts (a Queue of chunks, say), or keep it in a SharedArray.`,
      label,
    );
  }
  if (afterPacking.length > 0) {
    const done = afterPacking;
    afterPacking = [];
    // Run by the caller once it has done its part (a child's args: once the child is known), or now.
    if (after !== undefined) after.push(...done);
    else for (const fn of done) fn();
  }
  return encoded;
}

/**
 * msgpackr keeps the objects of the last value it packed (structuredClone's
 * reference map) until it packs the next one: a message's objects would stay
 * reachable after it was sent, for as long as nothing else is sent (a pool
 * task's arguments after its call settled). Once a turn, both packers pack
 * nothing, which lets them go.
 */
let forgetting = false;
function forgetLast(): void {
  forgetting = false;
  mapsPackr.pack(null);
  recordsPackr.pack(null);
  wideMapsPackr?.pack(null);
  wideRecordsPackr?.pack(null);
}

/**
 * Decodes what `encode` produced; attachments are passed through without a
 * copy. `forService`: it goes to a service of this process (see
 * decodingForService).
 */
export function decode(payload: Uint8Array, attachments: readonly Buffer[] = NO_ATTACHMENTS, flags = 0, forService = false, lostFor?: string): unknown {
  unpacking = attachments;
  unpackingForService = forService || lostFor !== undefined;
  unpackingLostFor = lostFor;
  // msgpackr caches a DataView on the buffer it reads; handing it a fresh
  // subarray per message costs a DataView and a new hidden class each time.
  // Payloads of one read share their ArrayBuffer: read them through one view.
  if (payload.buffer !== viewed) {
    viewed = payload.buffer;
    view = Buffer.from(payload.buffer);
  }
  range.start = payload.byteOffset;
  range.end = payload.byteOffset + payload.byteLength;
  try {
    return (flags & FLAG_RECORDS ? recordsUnpackr : mapsUnpackr).unpack(view, range);
  } finally {
    unpacking = null;
    unpackingForService = false;
    unpackingLostFor = undefined;
  }
}

let viewed: ArrayBufferLike | null = null;
let view: Buffer = Buffer.alloc(0);
const range = { start: 0, end: 0 };

const MAX_SCAN_DEPTH = 32;

/** Whether `value` may hold a Map somewhere; true too when it is too deep (or cyclic) to tell cheaply. */
function holdsMap(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (depth > MAX_SCAN_DEPTH) return true;
  if (value instanceof Map) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (holdsMap(value[i], depth + 1)) return true;
    return false;
  }
  if (ArrayBuffer.isView(value) || value instanceof Date || value instanceof RegExp) return false;
  if (value instanceof Set) {
    for (const item of value) if (holdsMap(item, depth + 1)) return true;
    return false;
  }
  for (const key in value) if (holdsMap((value as Record<string, unknown>)[key], depth + 1)) return true;
  // Neither is enumerable, and both cross (see errorToWire).
  return value instanceof Error && (holdsMap(value.cause, depth + 1) || (value instanceof AggregateError && holdsMap(value.errors, depth + 1)));
}

function serializationError(value: unknown, label: string, cause: unknown): SerializationError {
  // Nested past the stack's depth (msgpackr recurses; so does structuredClone, and so would the search
  // below, which then named a path thousands of levels deep as "a value that throws when it is read").
  if (cause instanceof RangeError && /call stack/i.test(cause.message)) {
    return new SerializationError(
      `Cannot send ${label}: it is nested too deeply to encode (objects or arrays inside each other thousands of levels down), or something in it recurses without end as it is read (a getter, a toJSON()). Send it flatter, or as a string (JSON.stringify) or bytes of your own encoding.`,
      label,
      { cause },
    );
  }
  const found = findUnencodable(value, label);
  if (found !== undefined) {
    return new SerializationError(
      `Cannot send ${found.path}: it is ${found.what}, which cannot cross a process boundary. Send plain data (objects, arrays, Map, Set, Date, Error, typed arrays, BigInt) and refs; pass behaviour as an actor instead of a function.`,
      found.path,
      { cause },
    );
  }
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new SerializationError(`Cannot send ${label}: ${reason}.`, label, { cause });
}

/** The first place in `value` that the codec refuses, with a readable path. */
export function findUnencodable(value: unknown, label: string): { path: string; what: string } | undefined {
  const seen = new Set<object>();
  const visit = (v: unknown, path: string): { path: string; what: string } | undefined => {
    try {
      return visitValue(v, path);
    } catch (err) {
      // A revoked Proxy: the codec cannot read it either.
      return { path, what: throwsWhenRead(err) };
    }
  };
  const visitValue = (v: unknown, path: string): { path: string; what: string } | undefined => {
    if (typeof v === 'function') return { path, what: `a function (${v.name || 'anonymous'})` };
    if (typeof v === 'symbol') return { path, what: `a symbol (${v.toString()})` };
    if (typeof v !== 'object' || v === null) return undefined;
    if (seen.has(v)) return undefined;
    seen.add(v);
    for (const [Class, what] of REFUSED) if (v instanceof Class) return { path, what };
    for (const Class of CARRIED) if (v instanceof Class) return undefined;
    if (v instanceof Error || ArrayBuffer.isView(v) || v instanceof Date || v instanceof RegExp) return undefined;
    if (v instanceof Map) {
      let i = 0;
      for (const [k, item] of v) {
        const found = visit(k, `${path}.keys()[${i}]`) ?? visit(item, `${path}.get(${keyText(k)})`);
        if (found) return found;
        i++;
      }
      return undefined;
    }
    if (v instanceof Set) {
      let i = 0;
      for (const item of v) {
        const found = visit(item, `${path}.values()[${i++}]`);
        if (found) return found;
      }
      return undefined;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const found = visit(v[i], `${path}[${i}]`);
        if (found) return found;
      }
      return undefined;
    }
    for (const key of Object.keys(v)) {
      const at = /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
      let item: unknown;
      try {
        item = (v as Record<string, unknown>)[key];
      } catch (err) {
        return { path: at, what: throwsWhenRead(err) };
      }
      const found = visit(item, at);
      if (found) return found;
    }
    return undefined;
  };
  return visit(value, label);
}

function throwsWhenRead(err: unknown): string {
  return `a value that throws when it is read (${reasonOf(err)})`;
}

/** What a thrown value says: an error's message, anything else as text. */
function reasonOf(thrown: unknown): string {
  return thrown instanceof Error ? thrown.message : safeString(thrown);
}

function keyText(key: unknown): string {
  return typeof key === 'string' ? JSON.stringify(key) : safeString(key);
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return 'a value that cannot be shown'; // a revoked Proxy
    }
  }
}
