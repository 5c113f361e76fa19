/**
 * The entry of the runtime bundle that actor processes load: troupe's public
 * API (what actor modules import) and the host's `loaded()`, in one file, so
 * an actor module and its host share one runtime.
 */
export * from '../../index.ts';
export * from '../index.ts';
export { loaded as __troupeLoaded, codeCache as __troupeCodeCache } from './host.ts';

import { loaded, runSpare } from './host.ts';
import { SPARE_ARG } from './child.ts';
import { RUNTIME_ACTOR_ARG } from './bundle.ts';

// The process's arguments are for the runtime it started with: another loaded later (a module
// bundled against a runtime rebuilt since, as troupe's own sources changed) leaves them alone.
const STARTED = Symbol.for('troupe.runtime-started');
const first = !(globalThis as Record<symbol, unknown>)[STARTED];
(globalThis as Record<symbol, unknown>)[STARTED] = true;
// Started as a spare host (`node index.mjs troupe-spare`): wait for an actor once this module has loaded.
if (first && process.argv[2] === SPARE_ARG) setImmediate(runSpare);
// Started for an actor of troupe's own (`node index.mjs troupe-actor-in-runtime <name>`): its module
// has loaded with this one, which the runtime facade finishes evaluating first.
else if (first && process.argv[2] === RUNTIME_ACTOR_ARG) queueMicrotask(() => void loaded());
