/**
 * The entry of the runtime bundle that actor processes load: troupe's public
 * API (what actor modules import) and the host's `loaded()`, in one file, so
 * an actor module and its host share one runtime.
 */
export * from '../../index.ts';
export * from '../index.ts';
export { loaded as __troupeLoaded } from './host.ts';
