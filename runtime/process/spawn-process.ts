import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { createRequire } from 'node:module';

let childProcess: typeof import('node:child_process') | undefined;

/**
 * node:child_process's spawn, the module required on first use: an actor
 * process that never spawns does not load it, and require() takes no turn
 * where an import() would go through a loader's hooks (tsx's, in a program
 * run with it: a round trip to their thread).
 */
export function spawnProcess(file: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  childProcess ??= createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  return childProcess.spawn(file, args, options);
}
