/**
 * A program waiting without a deadline (a call, a receive, a queue's get) on
 * work only a daemon child will do. Daemon children keep nothing alive, so
 * Node would end the program there, its await unsettled (exit code 13), where
 * Python's main thread blocks until the daemon answers. While such a wait is
 * open and a daemon child lives, this process is kept alive. With no daemon,
 * it is not: non-daemon children keep it alive themselves, and with no child
 * at all nobody could answer, and Node's own end says so.
 */
import { holdAlive } from './timers.ts';

let waits = 0;
let release: (() => void) | null = null;
/** Whether a daemon child of this process lives (set by process/child.ts). */
let daemonsAlive: () => boolean = () => false;

export function watchDaemons(alive: () => boolean): void {
  daemonsAlive = alive;
}

/** A wait without a deadline begins; the function returned ends it (once). */
export function openWait(): () => void {
  waits++;
  recheck();
  let open = true;
  return () => {
    if (!open) return;
    open = false;
    waits--;
    recheck();
  };
}

/** Holds or lets go, as the waits and the daemon children now stand. */
export function recheck(): void {
  const need = waits > 0 && daemonsAlive();
  if (need && release === null) release = holdAlive();
  else if (!need && release !== null) {
    release();
    release = null;
  }
}
