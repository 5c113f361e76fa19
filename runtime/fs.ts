/**
 * node:fs, for the runtime. Taken with require() rather than an ESM import:
 * Node builds an ESM namespace of a builtin's every export, and for node:fs
 * that loads its stream classes, a cost each actor process would pay at start.
 */
import { createRequire } from 'node:module';

// In an actor process the runtime is a CommonJS script, whose own require() needs no createRequire (about 0.3 ms of its start).
export const fs = (typeof require === 'function' ? require : createRequire(import.meta.url))('node:fs') as typeof import('node:fs');
