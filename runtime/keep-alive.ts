/**
 * A main program whose top-level await waits on work only a daemon child will
 * do (a queue's `get()`, a `receive()`, a call): daemon children keep nothing
 * alive, so Node would end the program there, its await unsettled (exit code
 * 13), where Python's main thread blocks until the daemon answers. While the
 * main module is still evaluating and a daemon child lives, the program is
 * kept going, a short timer at a time, each time its event loop runs dry.
 * Once the main code has finished, daemons keep nothing alive, as Python's
 * are ended at exit; and with no daemon, nobody that troupe knows of could
 * answer, and Node's own end says so.
 */
let watching = false;

/**
 * Node's own listener, there while the main ES module evaluates: troupe is
 * imported by the main module, so it is registered by the time this loads.
 * Kept by reference, not looked up by its name, which a program's own exit
 * hook may share.
 */
const NODE_MAIN_EXIT = process.listeners('exit').find((listener) => listener.name === 'handleProcessExit');

/** Called at the first daemon child: from then on, each time the event loop runs dry, checks `daemonsAlive`. */
export function keepMainForDaemons(daemonsAlive: () => boolean): void {
  if (watching) return;
  watching = true;
  process.on('beforeExit', () => {
    if (daemonsAlive() && mainPending()) setTimeout(() => {}, 100);
  });
}

/**
 * Whether the main ES module is still evaluating (its top-level await
 * unsettled): Node registers this 'exit' listener for that time, and it is
 * what ends such a program with code 13. A CommonJS main has no top-level
 * await, and is never pending here.
 */
function mainPending(): boolean {
  return NODE_MAIN_EXIT !== undefined && process.listeners('exit').includes(NODE_MAIN_EXIT);
}
