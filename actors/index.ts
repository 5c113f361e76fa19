/** The standard actors, built on the kernel's public surface only. */
export { Supervisor } from './supervisor/handle.ts';
export type { StartOptions } from './supervisor/handle.ts';
export { DEFAULT_BACKOFF, DEFAULT_INTENSITY, backoffDelay, nextAttempt, recordRestart } from './supervisor/intensity.ts';
export type { Backoff, Intensity } from './supervisor/intensity.ts';
export type { ChildSpec, Restart, Strategy, SupervisorSpec } from './supervisor/spec.ts';
export { ChildExistsError, NoSuchChildError, RestartIntensityError, supervisor } from './supervisor/supervisor.ts';
export type { ChildInfo, SupervisorRequest } from './supervisor/supervisor.ts';
export { Pool, PoolClosedError, WorkerCrashedError, autoChunksize } from './pool/pool.ts';
export type { ApplyAsyncOptions, MapOptions, PoolOptions, TaskOptions } from './pool/pool.ts';
export { Command, OutputLimitError, commandHost, commandSpec, run, spawnCommand } from './command.ts';
export type { CommandOptions, OutputMessage, RunOptions } from './command.ts';
export { JoinableQueue, Queue, SimpleQueue } from './queue/queue.ts';
export type { QueueOptions, WaitOptions } from './queue/queue.ts';
export { BrokenPipeError, ClosedError, EOFError, PipeDirectionError, QueueEmptyError, QueueFullError, TaskDoneError } from './queue/errors.ts';
export { Connection, Pipe, wait } from './pipe.ts';
export type { PipeOptions } from './pipe.ts';
