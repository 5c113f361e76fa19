/**
 * node:fs, for the runtime. Taken with require() rather than an ESM import:
 * Node builds an ESM namespace of a builtin's every export, and for node:fs
 * that loads its stream classes, a cost each actor process would pay at start.
 */
import { createRequire } from 'node:module';

// In an actor process the runtime's loader lends its own require() (bundle.ts runtimeMain): createRequire() cost about
// 0.3 ms of each start. Not found by `typeof require`, which would make a bundle that holds this file an ES module.
const lent = (globalThis as Record<symbol, NodeJS.Require | undefined>)[Symbol.for('troupe.require')];
export const fs = (lent ?? createRequire(import.meta.url))('node:fs') as typeof import('node:fs');
