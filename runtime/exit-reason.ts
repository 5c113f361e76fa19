/**
 * Why an actor ended, as monitors and links report it: Erlang's closed set of
 * exit reasons, mapped from what a process can tell its parent.
 */
import { invalidOption } from './errors.ts';

/** `normal`: returned; `shutdown`: stopped or terminated; `killed`: SIGKILL; `noproc`: was never there, or gone already. */
export type ExitReason =
  | 'normal'
  | 'shutdown'
  | 'killed'
  | 'noproc'
  | { readonly error: Error; readonly exitCode: number }
  | { readonly exitCode: number };

/** The exit reason for an actor process that ended with `exitCode` (see ChildRef.exitCode). */
export function exitReason(exitCode: number, error: Error | undefined, stopRequested: boolean): ExitReason {
  if (exitCode === 0) return stopRequested ? 'shutdown' : 'normal';
  if (exitCode === -9) return 'killed';
  if (exitCode === -15 || (stopRequested && exitCode < 0)) return 'shutdown';
  if (error !== undefined) return { error, exitCode };
  return { exitCode };
}

/** Whether a reason ends the actors linked to it: everything but a normal return. */
export function isAbnormal(reason: ExitReason): boolean {
  return reason !== 'normal';
}

/** A monitor's message: the watched actor ended (Erlang's `{'DOWN', Ref, process, Pid, Reason}`). */
export interface Down {
  readonly type: 'down';
  /** The number `ctx.monitor()` returned. */
  readonly monitor: number;
  /** The actor that ended, as a ref. */
  readonly actor: { readonly id: string; readonly name: string };
  readonly reason: ExitReason;
}

/** A linked actor ended, told to an actor that traps exits (Erlang's `{'EXIT', Pid, Reason}`). */
export interface ExitSignal {
  readonly type: 'exit';
  readonly actor: { readonly id: string; readonly name: string };
  readonly reason: ExitReason;
}

/** Whether a message is a monitor's `down` (see `ctx.monitor`). */
export function isDown(message: unknown): message is Down {
  return typeof message === 'object' && message !== null && (message as Down).type === 'down' && typeof (message as Down).monitor === 'number';
}

/** Whether a message is a linked actor's exit signal, as an actor that traps exits receives it (see `ctx.trapExits`). */
export function isExitSignal(message: unknown): message is ExitSignal {
  return typeof message === 'object' && message !== null && (message as ExitSignal).type === 'exit' && 'reason' in message && 'actor' in message;
}

/** `normal`, `killed`, `exit code 3`, `TypeError: boom`: a reason in a sentence. */
export function describeReason(reason: ExitReason): string {
  if (typeof reason === 'string') return reason;
  if (typeof reason !== 'object' || reason === null || !('error' in reason || 'exitCode' in reason)) {
    throw invalidOption('describeReason() reason', "an exit reason: 'normal', 'killed', 'shutdown', { exitCode } or { error }", reason);
  }
  if ('error' in reason) return `${reason.error.name}: ${reason.error.message}`;
  return `exit code ${reason.exitCode}`;
}
