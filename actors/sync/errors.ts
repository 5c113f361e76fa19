/**
 * The errors of locks, semaphores, barriers and shared values. Each is
 * registered with the codec, so one raised by a service in another process
 * reaches the caller as itself.
 */
import { TroupeError, registerOwnErrorClasses } from '../../runtime/index.ts';
import { ClosedError } from '../queue/errors.ts';

/** An actor released (or waited on, or notified) a lock that another actor holds, or that it does not hold. */
export class NotOwnerError extends TroupeError {
  /** What was misused: `Lock`, `RLock`, `Condition`… */
  readonly handle: string;
  constructor(message: string, handle: string) {
    super('ERR_NOT_OWNER', message);
    this.handle = handle;
  }
}

/** A Lock released while nobody held it, or a BoundedSemaphore released past its initial value. */
export class ReleasedTooManyError extends TroupeError {
  readonly handle: string;
  constructor(message: string, handle: string) {
    super('ERR_RELEASED_TOO_MANY', message);
    this.handle = handle;
  }
}

/** A Barrier was broken (`abort()`, `reset()`, a wait's timeout, a party that ended or gave up, an action that threw) while this party waited, or before it came. */
export class BrokenBarrierError extends TroupeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_BROKEN_BARRIER', message, options);
  }
}

/** A shared Value or Array was given an index out of range or an element of the wrong type. */
export class SharedValueError extends TroupeError {
  constructor(message: string) {
    super('ERR_SHARED_VALUE', message);
  }
}

/**
 * The primitive's creator closed it; waits still pending when it closed, and
 * later calls, fail with this. A `ClosedError`, as a closed queue's is, so
 * one `instanceof ClosedError` catches both.
 */
export class SyncClosedError extends ClosedError {
  readonly handle: string;
  constructor(message: string, handle: string) {
    super(message);
    this.handle = handle;
  }
}

registerOwnErrorClasses([NotOwnerError, ReleasedTooManyError, BrokenBarrierError, SharedValueError, SyncClosedError]);
