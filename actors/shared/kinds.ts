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

/** The element kinds (Python's typecodes `b B h H i I f d q Q`). */
export type Kind = keyof typeof ARRAYS;
/** What an element of `K` is in JavaScript: `bigint` for the 64-bit integer kinds, else `number`. */
export type ElementOf<K extends Kind> = K extends 'bigint64' | 'biguint64' ? bigint : number;

export type Store = InstanceType<(typeof ARRAYS)[Kind]>;

export const KINDS = Object.keys(ARRAYS) as Kind[];

export function checkKind(kind: unknown): Kind {
  if (typeof kind !== 'string' || !(kind in ARRAYS)) throw invalidOption('kind', `one of ${KINDS.join(', ')}`, kind);
  return kind as Kind;
}

export function makeStore(kind: Kind, length: number): Store {
  return new ARRAYS[kind](length);
}

export function isBig(kind: Kind): boolean {
  return kind === 'bigint64' || kind === 'biguint64';
}

/** Checks that `value` is an element of `kind`: a bigint for 64-bit integers, an integer for the other integer kinds, any number for floats. */
export function checkElement(kind: Kind, value: unknown, what: string): void {
  if (isBig(kind)) {
    if (typeof value !== 'bigint') throw new SharedValueError(`${what} must be a bigint for kind ${kind}, got ${typeof value} ${String(value)}.`);
    return;
  }
  if (typeof value !== 'number') throw new SharedValueError(`${what} must be a number for kind ${kind}, got ${typeof value} ${String(value)}.`);
  if (!kind.startsWith('float') && !Number.isInteger(value)) throw new SharedValueError(`${what} must be an integer for kind ${kind}, got ${value}.`);
}
