/**
 * The entry of the runtime bundle that actor processes load: troupe's public
 * API (what actor modules import) over the kernel bundle (kernel-entry.ts),
 * whose modules it imports rather than holds, so an actor module and its
 * host share one runtime. The kernel starts the process (its arguments are
 * read there).
 */
export * from '../../index.ts';
export * from '../index.ts';
export { loaded as __troupeLoaded, codeCache as __troupeCodeCache, mapRuntimeStacks as __troupeMapStacks } from './host.ts';
