/**
 * Element kinds of shared values and arrays: C types, stored in typed arrays,
 * so integers wrap as ctypes' do (`int32` 2**31-1 plus 1 is -2**31).
 */
import { invalidOption } from '../../runtime/index.ts';
import { SharedValueError } from '../sync/errors.ts';

const ARRAYS = {
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
  bigint64: BigInt64Array,
  biguint64: BigUint64Array,
} as const;

/**
 * Python's typecodes, by the kind each names (`l` and `L`, a C long, are 64 bits, as on 64-bit
 * Linux; `c`, a C char, is a byte, as `Array('c')` holds bytes; `u`, a wchar_t, is a code point
 * in 32 bits, as on Linux).
 */
const CODES = { c: 'uint8', b: 'int8', B: 'uint8', u: 'uint32', h: 'int16', H: 'uint16', i: 'int32', I: 'uint32', l: 'bigint64', L: 'biguint64', q: 'bigint64', Q: 'biguint64', f: 'float32', d: 'float64' } as const;

/** An element kind by name (`'int32'`). */
export type KindName = keyof typeof ARRAYS;
/** Python's typecodes for the kinds (`'i'` is `'int32'`, `'d'` is `'float64'`). */
export type TypeCode = keyof typeof CODES;
/** An element kind: by name, or by Python's typecode. */
export type Kind = KindName | TypeCode;
/** The name of kind `K` (`'i'` is `'int32'`). */
export type NameOf<K extends Kind> = K extends TypeCode ? (typeof CODES)[K] : K;
/** What an element of `K` is in JavaScript: `bigint` for the 64-bit integer kinds, else `number`. */
export type ElementOf<K extends Kind> = NameOf<K> extends infer N ? (N extends 'bigint64' | 'biguint64' ? bigint : number) : never;

export type Store = InstanceType<(typeof ARRAYS)[KindName]>;

export const KINDS = Object.keys(ARRAYS) as KindName[];

/** The name of `kind`, a name or a typecode; InvalidArgumentError for anything else. */
export function checkKind(kind: unknown): KindName {
  if (typeof kind === 'string' && Object.hasOwn(CODES, kind)) return CODES[kind as TypeCode];
  if (typeof kind !== 'string' || !Object.hasOwn(ARRAYS, kind)) {
    throw invalidOption('kind', `one of ${KINDS.join(', ')}, or Python's typecode for one (${Object.keys(CODES).join(' ')})`, kind);
  }
  return kind as KindName;
}

export function makeStore(kind: KindName, length: number): Store {
  return new ARRAYS[kind](length);
}

/** One element of each kind, to wrap a value as the kind stores it. */
const ONE = new Map<KindName, Store>();

/** `value` as an element of `kind` holds it: wrapped C-style, or rounded to float32. */
export function asStored<T extends number | bigint>(kind: KindName, value: T): T {
  let one = ONE.get(kind);
  if (one === undefined) ONE.set(kind, (one = makeStore(kind, 1)));
  (one as unknown as T[])[0] = value;
  return (one as unknown as T[])[0]!;
}

/**
 * Every element of `values` checked, holes included (a hole is no element:
 * `forEach` would skip it, and the typed array would store 0).
 */
export function checkElements(kind: KindName, values: ArrayLike<unknown>): void {
  for (let i = 0; i < values.length; i++) checkElement(kind, values[i], `element ${i}`);
}

export function isBig(kind: Kind): boolean {
  return kind === 'bigint64' || kind === 'biguint64';
}

/** Checks that `value` is an element of `kind`: a bigint for 64-bit integers, an integer for the other integer kinds, any number for floats. */
export function checkElement(kind: KindName, value: unknown, what: string): void {
  const got = value === undefined ? 'undefined' : `${typeof value} ${String(value)}`;
  if (isBig(kind)) {
    if (typeof value !== 'bigint') throw new SharedValueError(`${what} must be a bigint for kind ${kind}, got ${got}.`);
    return;
  }
  if (typeof value !== 'number') throw new SharedValueError(`${what} must be a number for kind ${kind}, got ${got}.`);
  if (!kind.startsWith('float') && !Number.isInteger(value)) throw new SharedValueError(`${what} must be an integer for kind ${kind}, got ${value}.`);
}
