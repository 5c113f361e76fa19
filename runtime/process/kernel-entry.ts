/**
 * The entry of the kernel bundle, the first of the runtime's two layers in
 * an actor process (see bundle.ts): the kernel's API, the host, and the pool
 * worker, whose processes then load nothing more. The actors layer (queues,
 * pipes, locks, supervisors, pools, commands: runtime-entry.ts) is built
 * over this one and loaded only by a process that uses it.
 */
export * from '../index.ts';
export { loaded as __troupeLoaded, codeCache as __troupeCodeCache, mapRuntimeStacks as __troupeMapStacks } from './host.ts';
// A pool worker runs in the kernel alone: its process starts the sooner.
import '../../actors/pool/worker.ts';

import { loaded, runSpare } from './host.ts';
import { SPARE_ARG } from './child.ts';
import { RUNTIME_ACTOR_ARG } from './bundle.ts';

// The process's arguments are for the runtime it started with: another loaded later (a module
// bundled against a runtime rebuilt since, as troupe's own sources changed) leaves them alone.
const STARTED = Symbol.for('troupe.runtime-started');
const first = !(globalThis as Record<symbol, unknown>)[STARTED];
(globalThis as Record<symbol, unknown>)[STARTED] = true;
// Started as a spare host (`node index.cjs troupe-spare`): wait for an actor once this module has loaded.
if (first && process.argv[2] === SPARE_ARG) setImmediate(runSpare);
// Started for an actor of troupe's own (`node index.cjs troupe-actor-in-runtime <name>`): its module
// has loaded with this one, or with the actors layer that loads this one first, whose script the
// process's main module finishes evaluating before this microtask runs.
else if (first && process.argv[2] === RUNTIME_ACTOR_ARG) queueMicrotask(() => void loaded());
