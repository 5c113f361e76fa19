/**
 * Embedding troupe in a program or service: the root node, its signals, and
 * an orderly end. On SIGINT or SIGTERM the root stops its actors, newest
 * first, each as its `shutdown` option says, within a budget, then exits with
 * 130 or 143 as a shell expects. A second signal ends everything at once.
 * An uncaught error ends it as Python's exit does: its non-daemon children
 * are waited for (unless `uncaught: 'exit'`).
 */
import { inspect } from 'node:util';
import { TroupeError, checkOptions, invalidOption } from './errors.ts';
import { currentNode, type Node } from './node.ts';
import { children, endChildrenAtExit } from './process/child.ts';

export const DEFAULT_SHUTDOWN_BUDGET_MS = 10_000;

/** `startNode(options)`: how the main program's node behaves. */
export interface NodeOptions {
  /** Stop the tree and exit on SIGINT/SIGTERM (default true). */
  readonly handleSignals?: boolean;
  /** Milliseconds the whole orderly shutdown may take before everything left is killed (default 10,000). */
  readonly shutdownBudgetMs?: number;
  /**
   * After an uncaught error or unhandled rejection in the program: `'wait'`
   * (default) prints it, terminates the daemon children and waits for the
   * others, then exits with 1, as Python does; `'exit'` leaves it to Node,
   * which exits at once, the children ended with it (a service that should
   * go down at once).
   */
  readonly uncaught?: 'wait' | 'exit';
}

let installed = false;
let budgetMs = DEFAULT_SHUTDOWN_BUDGET_MS;
let stopping: Promise<void> | null = null;

/**
 * Starts (or returns) this program's root node. Optional: the root starts on
 * first use anyway, with the default options; call this first to choose them.
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` for a bad option.
 */
export function startNode(options: NodeOptions = {}): Node {
  checkOptions(options, 'options', 'an object of node options ({ handleSignals, shutdownBudgetMs, uncaught })', 'startNode() options', ['handleSignals', 'shutdownBudgetMs', 'uncaught']);
  const { handleSignals = true, shutdownBudgetMs = DEFAULT_SHUTDOWN_BUDGET_MS, uncaught = 'wait' } = options;
  if (typeof handleSignals !== 'boolean') throw invalidOption('handleSignals', 'a boolean', handleSignals);
  if (typeof shutdownBudgetMs !== 'number' || !(shutdownBudgetMs >= 0)) throw invalidOption('shutdownBudgetMs', 'a number of milliseconds >= 0', shutdownBudgetMs);
  if (uncaught !== 'wait' && uncaught !== 'exit') throw invalidOption('uncaught', "'wait' or 'exit'", uncaught);
  budgetMs = shutdownBudgetMs;
  const node = currentNode();
  if (handleSignals) installSignals();
  else uninstallSignals();
  exitOnUncaught = uncaught === 'exit';
  if (exitOnUncaught) leaveUncaught();
  // Back to 'wait' after an 'exit', once it has children: joined again now, not at its next spawn.
  else if (joinedUncaught && node.parentless) joinUncaught();
  return node;
}

/**
 * Installs the root's signal handling once, unless startNode() said not to,
 * and its handling of an uncaught error. Called at every spawn.
 */
export function ensureRootHandlers(): void {
  if (!declined) installSignals();
  if (!exitOnUncaught && currentNode().parentless) joinUncaught();
}

function joinUncaught(): void {
  joinedUncaught = true;
  onUncaught().copies.add(THIS_COPY);
}

/** This copy has spawned with the uncaught handling on (see startNode). */
let joinedUncaught = false;

/** `startNode({ uncaught: 'exit' })` was called: Node's own handling of an uncaught error. */
let exitOnUncaught = false;

/** One copy of troupe in this process: its children, and how it ends them as Python's exit does. */
interface Copy {
  readonly children: typeof children;
  /** The program failed with `error`: its watchers are told, its daemons ended, the other children waited for. */
  readonly end: (error?: unknown) => Promise<void>;
}

const THIS_COPY: Copy = {
  children,
  end: (error) => {
    // Calls queued, or coming, to the program fail now, rather than wait on a program that waits for its children.
    currentNode().refuseCalls(1, error);
    currentNode().rootEnded(1, error);
    return endChildrenAtExit();
  },
};

/** This copy no longer waits on an uncaught error; with no copy left that does, Node handles it again. */
function leaveUncaught(): void {
  const shared = onUncaught(false);
  if (shared === undefined) return;
  shared.copies.delete(THIS_COPY);
  if (shared.copies.size === 0) shared.remove();
}

/**
 * The handling of an uncaught error, one per process whatever the number of
 * troupe copies in it (two versions in a package tree): each joins it with its
 * children, and one handler ends them all. A copy that installed its own
 * would count the others' as the program's and step aside, and the error
 * would be swallowed.
 */
function onUncaught(): Shared;
function onUncaught(create: false): Shared | undefined;
function onUncaught(create = true): Shared | undefined {
  // Versioned: a copy whose Shared has another shape keeps its own.
  const key = Symbol.for('troupe.uncaught/1');
  const global = globalThis as { [key]?: Shared };
  const there = global[key];
  if (there !== undefined || !create) return there;
  const copies = new Set<Copy>();
  let failing = false;
  let epipeReported = false;
  /**
   * An uncaught error (or unhandled rejection) in the root program that the
   * program does not handle itself: ended as Python ends after an uncaught
   * exception in the main code. The error is printed, daemon children are
   * terminated, the others waited for, then the program exits with 1. Node
   * alone would exit at once, and every child with it: work lost.
   */
  const handler = (err: unknown): void => {
    // A handler of the program's own decides, as it would without troupe.
    if (process.listeners('uncaughtException').some((listener) => listener !== handler)) return;
    // Ctrl-C or SIGTERM is stopping the program: what its stop made fail (a pool's tasks, a call to a
    // child it stopped: troupe's errors), unhandled, is no failure of the program's, and is not
    // printed; any other error is. Either way it ends with 130 or 143 as the signal says (before: a
    // traceback of the stop's own error, and exit code 1).
    if ((globalThis as Record<symbol, unknown>)[SIGNALLED] !== undefined) {
      if (!(err instanceof TroupeError)) process.stderr.write(`${inspect(err)}\n\nNode.js ${process.version}\n`);
      return;
    }
    // As Node prints it (less the source line it quotes). One EPIPE at most: when it is the program's
    // own output that lost its reader (`prog 2>&1 | head`), stderr is often that same pipe, and each
    // report would fail again, as another uncaught error, for ever.
    const epipe = (err as NodeJS.ErrnoException | null)?.code === 'EPIPE';
    if (!epipe || !epipeReported) process.stderr.write(`${inspect(err)}\n\nNode.js ${process.version}\n`);
    if (epipe) epipeReported = true;
    process.exitCode = 1;
    if (failing) return;
    failing = true;
    const waited = [...copies].flatMap((copy) => copy.children().filter((child) => !child.daemon && child.isAlive()));
    if (waited.length > 0) {
      // Python waits without a word; a program that seems to hang says why.
      const names = waited.map((child) => `${child.ref.name} (${child.pid === null ? 'starting' : `pid ${child.pid}`})`).join(', ');
      process.stderr.write(`troupe: the program failed; waiting for its non-daemon children to finish, as Python does: ${names}. Ctrl-C stops them.\n`);
    }
    void Promise.all([...copies].map((copy) => copy.end(err))).then(() => process.exit(1));
  };
  process.on('uncaughtException', handler);
  return (global[key] = {
    copies,
    remove: () => {
      process.off('uncaughtException', handler);
      delete global[key];
    },
  });
}

interface Shared {
  readonly copies: Set<Copy>;
  /** Takes the handler away: Node handles an uncaught error again. */
  readonly remove: () => void;
}

let declined = false;

function installSignals(): void {
  declined = false;
  if (installed || currentNode().parentless === false) return;
  installed = true;
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
}

function uninstallSignals(): void {
  declined = true;
  if (!installed) return;
  installed = false;
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigterm);
}

const onSigint = (): void => void onSignal(130);
const onSigterm = (): void => void onSignal(143);

/** Set, process-wide (every troupe copy in it), once a signal began to stop the program: its exit code. */
const SIGNALLED = Symbol.for('troupe.signalled');

async function onSignal(exitCode: number): Promise<void> {
  (globalThis as Record<symbol, unknown>)[SIGNALLED] ??= exitCode;
  if (stopping !== null) {
    // A second signal: no more waiting.
    process.exit(exitCode);
  }
  stopping = stopTree(budgetMs);
  await stopping;
  process.exit(exitCode);
}

/**
 * Stops every actor this process started, newest first, each as its
 * `shutdown` option says; whatever is left at `budgetMs` is killed.
 * Resolves when all have ended.
 */
export async function stopTree(budget: number = budgetMs): Promise<void> {
  if (typeof budget !== 'number' || Number.isNaN(budget) || budget < 0) throw invalidOption('stopTree() budget', 'a number of milliseconds ≥ 0', budget);
  currentNode().stopping = true;
  const deadline = setTimeout(() => {
    for (const child of children()) child.signal('SIGKILL');
  }, budget);
  try {
    for (const child of children().reverse()) await child.shutdown().catch(() => {});
  } finally {
    clearTimeout(deadline);
    // A program that called it and goes on may start actors again.
    currentNode().stopping = false;
  }
}
