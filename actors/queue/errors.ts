/** The errors of queues and pipes; each crosses processes as itself. */
import { TroupeError, registerOwnErrorClasses } from '../../runtime/index.ts';

/** `put` found the queue full: at once (`putNowait`) or at its `timeout`. Python's `queue.Full`. */
export class QueueFullError extends TroupeError {
  constructor(message: string) {
    super('ERR_QUEUE_FULL', message);
  }
}

/** `get` found the queue empty: at once (`getNowait`) or at its `timeout`. Python's `queue.Empty`. */
export class QueueEmptyError extends TroupeError {
  constructor(message: string) {
    super('ERR_QUEUE_EMPTY', message);
  }
}

/**
 * The queue or pipe end is closed: `put` after `close()`, `get` on a closed
 * queue that is drained, any use of a pipe end after its own `close()`, or a
 * handle whose owner process has ended.
 */
export class ClosedError extends TroupeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CLOSED', message, options);
  }
}

/** `recv` on a pipe end whose peer closed or died, once the messages it sent are read. Python's `EOFError`. */
export class EOFError extends TroupeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_EOF', message, options);
  }
}

/** `send` on a pipe end whose peer closed or died. Python's `BrokenPipeError`. */
export class BrokenPipeError extends TroupeError {
  constructor(message: string) {
    super('ERR_BROKEN_PIPE', message);
  }
}

/** `send` on the read end of a one-way pipe, or `recv` on its write end. */
export class PipeDirectionError extends TroupeError {
  constructor(message: string) {
    super('ERR_WRONG_DIRECTION', message);
  }
}

/** `taskDone()` was called more times than items were put. */
export class TaskDoneError extends TroupeError {
  constructor(message: string) {
    super('ERR_TASK_DONE', message);
  }
}

registerOwnErrorClasses([QueueFullError, QueueEmptyError, ClosedError, EOFError, BrokenPipeError, PipeDirectionError, TaskDoneError]);
