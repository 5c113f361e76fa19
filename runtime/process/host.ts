/**
 * The actor-process side of troupe: what runs in `node actor.mjs troupe-actor <name>`.
 *
 * An actor process runs its actor's bundle (bundle.ts), which imports the
 * runtime (and with it this host), then the actor's module, then calls
 * `loaded()`. The host reads what the parent says of the actor (IDs, the
 * definition's address) from its environment, so the module loads while the
 * first frames are still on their way; it opens the control pipe (fd 3),
 * takes the args, says ready, runs the behaviour, and exits with Python's
 * exit codes. If the parent goes away, for any reason, it ends its own tree
 * and exits.
 */
import { fs } from '../fs.ts';
import type { Socket, SocketConstructorOpts } from 'node:net';
import type { Duplex } from 'node:stream';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import { constants } from 'node:os';
import { Actor, definitionAt, type ActorFunction } from '../behaviour.ts';
import { decode, errorToWire } from '../codec.ts';
import { ENDS_AS_SHUTDOWN, LinkedExitError, REPORTED, SpawnError, endedReceive } from '../errors.ts';
import { FRAME_ARGS, Link, PROTOCOL_VERSION, type SystemMessage } from '../link.ts';
import { Node, endBySignal, hosting, importing, installNode, leftWork, openAsRuntime, runEndingHooks, stopTrackingSoon, workCounts } from '../node.ts';
import { ActorRef } from '../ref.ts';
import { INIT_ENV, children, endChildrenAtExit, joinChildren, type ActorInit } from './child.ts';
import { loadBundle } from './import-url.ts';
import { RUNTIME_ACTOR_ARG } from './bundle.ts';
import { mapStacksOf } from './stacks.ts';
import { startWatchdog, watchPids } from './watchdog.ts';
import { holdAlive } from '../timers.ts';

/** The control pipe to the parent. */
const CONTROL_FD = 3;

/** At most this long, an ending actor waits for its stdout's and stderr's readers to take what it wrote. */
const STDIO_DRAIN_MS = 10_000;

/**
 * Ends the daemon children once the event loop has run dry (what a returned
 * behaviour left running is done), and keeps the process until they have
 * ended: their handles keep nothing alive. Then the loop runs dry again, and
 * the process exits as it would have.
 */
function endDaemonsWhenIdle(): void {
  let ending = false;
  process.on('beforeExit', () => {
    if (ending || !children().some((child) => child.daemon && child.isAlive())) return;
    ending = true;
    const release = holdAlive();
    void endChildrenAtExit().finally(release);
  });
}

class ActorHost {
  readonly #init: ActorInit;
  readonly #node: Node;
  readonly #link: Link;
  /** The args frame, decoded only once the whole runtime has loaded (handle kinds register as their modules load). */
  readonly #args: Promise<() => unknown[]>;
  #stopping: Promise<void> | null = null;
  /**
   * Where the actor's end stands:
   * - `running`: its behaviour runs;
   * - `returned`: it returned, and its process waits for its non-daemon
   *   children, then for the work it left running (#leftWorkDone). Its exit
   *   code is not decided yet: that work may still fail it, or call
   *   `ctx.exit()`;
   * - `abandoned`: it returned, and its left work is no longer waited for
   *   (a linked actor failed, or that work failed once its end was reported);
   *   the process ends with 0 once its children have;
   * - `decided`: its exit code is decided (it failed, `ctx.exit()` was
   *   called, or its left work failed), and the one path that decided it
   *   ends the process. Every other path checks this after each wait, and
   *   an error after this is printed and changes nothing (#failedLater).
   */
  #end: 'running' | 'returned' | 'abandoned' | 'decided' = 'running';
  /** Ends #finish's wait for the left work (see #leftWorkDone): set while it waits. */
  #leftWorkWait: (() => void) | null = null;
  /** What the process had started before its module loaded (see loaded()). */
  #workBeforeImport = new Map<string, number>();
  /** The exit code the parent was told while the process still ran (see #endedBeforeChildren): null until then. */
  #reported: number | null = null;
  /** An error after the behaviour's end was printed: later ones are not (an interval that throws on every tick). */
  #laterErrorShown = false;
  /** The control socket has read something (see #readWaiting). */
  #socketRead = false;
  /** The args frame has come. */
  #argsIn = false;

  constructor(init: ActorInit) {
    this.#init = init;
    process.title = `troupe-actor ${init.name}`;
    mapStacksOf(pathToFileURL(process.argv[1]!).href);
    // The runtime's own frames too (a pool worker's, the host's), when it runs from its bundle.
    const runtimeScripts = (globalThis as Record<symbol, unknown>)[Symbol.for('troupe.runtime-scripts')];
    if (Array.isArray(runtimeScripts)) for (const script of runtimeScripts as string[]) mapStacksOf(script);
    const node = new Node({ id: init.nodeId, name: init.name, identity: init.identity, parent: new ActorRef(init.parent[0], init.parent[1]), mailbox: init.mailbox });
    this.#node = node;
    installNode(node);
    node.onPids = watchPids;
    node.onLinkedExit = (error) => {
      // Its behaviour has returned, and its process waits for its children or for what it left
      // running: the link's news means the left work is not waited for. Once its end is decided,
      // the news changes nothing.
      if (this.#end === 'returned') this.#abandonLeftWork();
      else if (this.#end === 'running') void this.#finish(1, error);
    };
    node.onExitRequest = (code) => this.#exitWhenFlushed(code);
    let gotArgs!: (args: () => unknown[]) => void;
    this.#args = new Promise((resolve) => (gotArgs = resolve));
    // Reads land in buffers the link chooses: a large frame, in place (see
    // FrameReader). The socket asks for its first buffer before the link exists.
    let link: Link | undefined;
    const onread = {
      buffer: () => link?.readTarget() ?? Buffer.allocUnsafe(64 * 1024),
      callback: (n: number, buffer: Uint8Array) => {
        this.#socketRead = true;
        link!.readDone(buffer as Buffer, n);
      },
    };
    // The socket is opened after the process's first turn, or as soon as it must wait to read: until
    // then the frames go to the fd and come from it directly (see #readWaiting). Loading node:net and
    // opening the socket take about 5 ms, which the actor's ready and its first answer no longer wait for.
    // Opened perhaps while a module loads (an ES module's top-level await, a task's): not counted as its work (see leftWork).
    const open = (): Duplex =>
      openAsRuntime(() => {
        const { Socket } = createRequire(import.meta.url)('node:net') as typeof import('node:net');
        return new Socket({ fd: CONTROL_FD, readable: true, writable: true, onread } as SocketConstructorOpts);
      });
    link = new Link(
      { fd: CONTROL_FD, open },
      {
        onMessage: (_link, kind, to, from, callId, flags, payload, attachments) => {
          if (kind === FRAME_ARGS) {
            this.#argsIn = true;
            gotArgs(() => decode(payload, attachments, flags) as unknown[]);
          } else node.onMessage(this.#link, kind, to, from, callId, flags, payload, attachments);
        },
        // The parent's hello carries nothing but the protocol version, which the link checked.
        onSystem: (_link, message) => {
          if (message.t !== 'hello') this.#onParentSystem(message);
        },
        onClose: () => this.#orphaned(),
      },
      `parent of ${init.name}`,
    );
    this.#link = link;
    // After the turn in which the actor starts and answers what it was sent first (answers written at
    // the end of that turn go out first): the loop's second check phase.
    setImmediate(() => setImmediate(() => link.stream()));
    // An actor answering a run of messages writes its answers once per turn, none held behind a long handler.
    link.guardWrites();
    node.attachParent(link, (message) => this.#onParentSystem(message), () => this.#orphaned());
    link.sendSystem({ t: 'hello', v: PROTOCOL_VERSION, pid: process.pid });
    hosting.loading = init.name;
    hosting.lineage = init.lineage ?? [];
    process.on('uncaughtException', this.#onUncaught);
    // A behaviour that calls process.exit(n) must not lose what it sent just before.
    process.on('exit', () => {
      // Reported ended as it began to wait for its non-daemon children, and now ending as its loop
      // emptied: with the code its watchers were told, whatever its left work set process.exitCode
      // (or passed process.exit()) to, as for a ctx.exit() of that work (see #exitWhenFlushed).
      if ((this.#end === 'returned' || this.#end === 'abandoned') && this.#reported !== null) process.exitCode = this.#reported;
      runEndingHooks();
      this.#link.flushSync();
    });
    // Last, after the runtime's own handles (the pipe to the parent): what the module starts as it
    // loads is marked as the module's, up to loaded() (see importing, spawn()).
    this.#workBeforeImport = workCounts();
    importing.enterWith(`the module of actor ${init.name}`);
  }

  /** The actor's module has loaded: find the definition, wait for the args, run. */
  async loaded(): Promise<void> {
    const init = this.#init;
    hosting.loading = null;
    // From here on, the behaviour's own code (see importing).
    importing.enterWith(undefined);
    stopTrackingSoon(leftWork(this.#workBeforeImport, workCounts()));
    const def = definitionAt(init.module, init.ordinal);
    hosting.running = def ?? null;
    if (def === undefined) {
      return this.#failStart(
        `Cannot start actor ${init.name}: loading ${init.module} again did not define actor #${init.ordinal + 1} of that module. Call actor(…) at the top level of the module, never conditionally.`,
        new Error('definition not found'),
        'ERR_SPAWN',
      );
    }
    this.#node.acksCalls = def.acksCalls === true;
    // The parent wrote the args right after starting us: read what is already
    // there now, rather than after the event loop's first turn.
    this.#readWaiting();
    const args = (await this.#args)();
    writeCodeCacheNow();
    this.#link.sendSystem({ t: 'ready' });
    // Written now, not at the end of this turn: a behaviour that computes before it first awaits
    // (or never awaits) would hold it back, and with it whoever waits on `ready`.
    this.#link.flush();
    // Without a parent-death signal, a thread watches for the parent's death (see watchdog.ts); with
    // deathSignal TERM too, to end an orphan after its grace, busy or not.
    if (!this.#init.deathSignal || this.#init.orphanGraceMs !== null) startWatchdog(this.#init.parentPid, this.#init.orphanGraceMs, !this.#init.deathSignal);
    const ctx = this.#node.context;
    try {
      if (def.style === 'class') {
        const instance = new (def.impl as new () => Actor)();
        Object.defineProperty(instance, 'ctx', { value: ctx, enumerable: false });
        ctx.onStop(() => instance.onStop());
        await instance.run(...args);
      } else {
        await (def.impl as ActorFunction<unknown[], unknown, unknown>)(ctx, ...args);
      }
      await this.#finish(0, undefined);
    } catch (err) {
      const stoppedWaiting = this.#stoppedBy(err);
      await this.#finish(stoppedWaiting ? 0 : 1, stoppedWaiting ? undefined : err);
    }
  }

  /**
   * Whether `error` is how a stop looks from inside, not a failure: a wait
   * the stop cut short, in receive() (troupe's AbortError), or on
   * `ctx.signal`, which the stop aborts (Node's AbortError, caused by the
   * signal's reason, or that reason itself, as fetch() rejects).
   */
  #stoppedBy(error: unknown): boolean {
    if (this.#stopping === null) return false;
    if (endedReceive(error)) return true;
    // troupe's AbortError and Node's both carry the signal's reason as their cause: an abort of the
    // program's own (its own controller, aborted during the stop) has another, and is a failure.
    const reason: unknown = this.#node.stopController.signal.reason;
    return error === reason || (error instanceof Error && error.name === 'AbortError' && (error as { cause?: unknown }).cause === reason);
  }

  #readWaiting(): void {
    // Only before the socket's first read: after it, the socket holds the buffer its next read fills (a
    // large frame's next part, in place), which a read here would fill first and the socket then overwrite.
    if (this.#socketRead) return;
    const buffer = this.#link.readTarget();
    let n = 0;
    try {
      // Before the socket opens, the fd blocks: this waits for the parent's first frames, which it
      // writes as it starts the process (or for EOF, should it die first).
      n = fs.readSync(CONTROL_FD, buffer, 0, buffer.byteLength, null);
    } catch {
      // EAGAIN: nothing there yet; the socket reads it when it comes.
    }
    if (n > 0) this.#link.readDone(buffer, n);
    // The rest of the args, or the parent's EOF, is the socket's to wait for.
    if (!this.#argsIn) this.#link.stream();
  }

  #onParentSystem(message: SystemMessage): void {
    if (message.t === 'stop') this.#stopping ??= this.#stop(Number(message.timeoutMs));
  }

  /** The parent is gone (or spoke garbage): the exit handlers end the whole tree below us. */
  #orphaned(): void {
    // deathSignal TERM, and the program listens for SIGTERM: it cleans up and ends by itself, within
    // its grace; the watchdog thread kills it after that, busy or not.
    const grace = this.#init.orphanGraceMs;
    if (grace !== null && grace > 0 && process.listenerCount('SIGTERM') > 0) {
      setTimeout(() => process.exit(1), grace).unref();
      return;
    }
    this.#end = 'decided';
    process.exit(1);
  }

  readonly #onUncaught = (err: unknown): void => this.#uncaught(err);

  #uncaught(err: unknown): void {
    // A listener of the program's own decides, as in the main program and in a Node script (not while
    // the module loads: an actor that cannot start must say so, or its spawn would wait for ever).
    if (hosting.loading === null && process.listeners('uncaughtException').some((listener) => listener !== this.#onUncaught)) return;
    // Thrown by work the behaviour left running, after it returned, or after
    // its end was decided (see #failedLater).
    if (this.#end !== 'running') {
      void this.#failedLater(err);
      return;
    }
    // A wait on ctx.signal that the behaviour did not await, cut short by a stop: the stop goes on.
    if (this.#stoppedBy(err)) return;
    if (hosting.loading === null) {
      void this.#finish(1, err);
      return;
    }
    hosting.loading = null;
    if (err instanceof SpawnError && err.code === 'ERR_SPAWN_AT_IMPORT') {
      void this.#failStart(err.message, err, err.code);
    } else {
      const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      void this.#failStart(`Cannot start actor ${this.#init.name}: its module threw while loading: ${what}`, err, 'ERR_SPAWN');
    }
  }

  /** The process no longer waits for the work its behaviour left running, now or once its children have ended. */
  #abandonLeftWork(): void {
    this.#end = 'abandoned';
    this.#leftWorkWait?.();
  }

  /**
   * An error (uncaught, or thrown by the behaviour after a `ctx.exit()` it
   * did not await) once the behaviour has ended. After a return, with no end
   * reported yet, it fails the actor: the process ends with 1, as a Node
   * script's does. Otherwise, as Python prints a thread's exception and
   * leaves the exit code alone, it is printed and the code stays: the end
   * was decided (a failure, `ctx.exit()`), or reported to the watchers (the
   * process waits for its non-daemon children). Printed once: work that
   * throws again and again (an interval) is reported by its first error.
   */
  async #failedLater(error: unknown): Promise<void> {
    const node = this.#node;
    // A receive() left waiting, cut short as the end closed the mailbox: a consequence of the end, not a
    // failure (work that waits on troupe alone is not waited for). An abort of the program's own is one.
    if (endedReceive(error) || this.#stoppedBy(error)) return;
    const fails = (this.#end === 'returned' || this.#end === 'abandoned') && this.#reported === null;
    if (!this.#laterErrorShown) {
      this.#laterErrorShown = true;
      const when =
        this.#end === 'decided'
          ? 'after its end began, in work still running (its exit code stays)'
          : `after it returned, in work it left running${fails ? '' : ' (its end was reported already: its exit code stays)'}`;
      process.stderr.write(`Actor ${node.self.name} (${node.self.id}, pid ${process.pid}) failed ${when}:\n${error instanceof Error ? (error.stack ?? String(error)) : inspect(error)}\n`);
    }
    if (this.#end === 'decided') return;
    if (!fails) {
      // Not waiting on work the error broke: the process ends with the code reported, once its children have.
      this.#abandonLeftWork();
      return;
    }
    this.#end = 'decided';
    this.#leftWorkWait = null;
    this.#link.sendSystem({ t: 'crash', error: errorToWire(error) });
    await this.#everythingWritten();
    process.exit(1);
  }

  async #failStart(message: string, error: unknown, code: string): Promise<never> {
    this.#end = 'decided';
    process.stderr.write(`troupe: ${message}\n${error instanceof Error && error.stack ? indent(error.stack) + '\n' : ''}`);
    this.#link.sendSystem({ t: 'spawn-error', message, code, error: errorToWire(error) });
    await this.#everythingWritten();
    process.exit(1);
  }

  /** `ctx.exit(code)`: everything sent is written first, then the process ends with `code` (or by that signal). */
  async #exitWhenFlushed(code: number | NodeJS.Signals): Promise<never> {
    // Its end is decided already (a failure, an earlier ctx.exit()): the process ends as that says.
    if (this.#end === 'decided') return new Promise<never>(() => {});
    // Called by work its behaviour left, after the actor was reported ended: as Python's sys.exit() in
    // a thread, it does not change the exit code its watchers were told (see #failedLater).
    const reported = this.#reported;
    if (reported !== null) code = reported === -9 ? 'SIGKILL' : reported === -15 ? 'SIGTERM' : reported;
    // Called by its left work: #finish, waiting for it, leaves the exit to this.
    this.#end = 'decided';
    runEndingHooks();
    // As Python's sys.exit(n) in a child: its non-daemon children are waited for (a signal ends it
    // at once). Its mailbox is closed first, as on a return: a child calling it meanwhile gets
    // ActorExitedError rather than waiting on a parent that waits on it.
    if (typeof code === 'number') {
      this.#node.closeMailbox(code & 0xff);
      // As the exit status will be: 256 is 0, -1 is 255.
      this.#endedBeforeChildren(code & 0xff);
      await endChildrenAtExit();
    }
    await this.#everythingWritten();
    if (typeof code === 'number') process.exit(code);
    return endBySignalAfterExitListeners(code);
  }

  /**
   * The actor has ended, and its process is about to wait for children that
   * are not daemons: its monitors and links are told now (its parent does
   * that), not once those children end. One of them may be linked to it, or
   * wait for its news.
   */
  #endedBeforeChildren(code: number, error?: unknown): void {
    if (this.#reported !== null || !children().some((child) => !child.daemon && child.isAlive())) return;
    this.#reported = code;
    this.#link.sendSystem({ t: 'ended', code });
    // A child may be the caller of one it took and did not answer: it would wait on a parent that waits on it.
    this.#node.failTakenCalls(code, error);
  }

  /**
   * A behaviour that returned may have left work running: a timer, a write
   * stream ended but not flushed, a server. As a Node script's end waits for
   * what it started, and Python's child for its non-daemon threads, the
   * process lives on until nothing but its own pipe to the parent (unref'd
   * now) keeps its event loop alive, and then exits by itself, as a Node
   * script does: its 'beforeExit' listeners may start more work, and the
   * 'exit' listener writes what is left for the parent (nothing is pending
   * then: a pending write keeps the loop alive). The actor is alive
   * meanwhile: `stop()`, `terminate()` or its parent's end still end it, and
   * so does a linked actor's failure (see #leftWorkWait). An uncaught error
   * or `ctx.exit()` does not wait, as Node's uncaught errors and
   * `process.exit()` do not.
   */
  async #leftWorkDone(): Promise<void> {
    if (this.#stopping !== null || this.#end !== 'returned') return;
    // Only the work's own handles keep the process: work that waits on troupe alone (a call with no
    // deadline, a queue's get, a lock) is not waited for. Kept alive, a get left pending would take
    // the next item for a behaviour that has returned.
    const socket = this.#link.stream() as Socket;
    socket.unref();
    try {
      // Resolved only by a stop, a linked actor's end or an error of the left work (see #stop,
      // #abandonLeftWork, #failedLater): otherwise the process exits with the loop.
      await new Promise<void>((resolve) => {
        this.#leftWorkWait = () => {
          this.#leftWorkWait = null;
          resolve();
        };
      });
    } finally {
      socket.ref();
    }
  }

  /**
   * Before the process exits: what it sent is written to its parent, and what
   * it wrote to stdout and stderr has gone out. Node writes to a pipe as its
   * reader takes it, and `process.exit()` drops the rest (Python flushes its
   * streams as a process ends); a reader that takes nothing is given
   * STDIO_DRAIN_MS.
   */
  async #everythingWritten(): Promise<void> {
    await this.#link.flushed();
    const streams = [process.stdout, process.stderr].filter((stream) => stream.writableLength > 0 && stream.writable);
    if (streams.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(streams.map((stream) => new Promise<void>((resolve) => stream.write('', () => resolve())))),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, STDIO_DRAIN_MS))),
    ]);
    clearTimeout(timer);
  }

  /** The behaviour ended: report, wait for children as Python does, then exit. */
  async #finish(code: number, error: unknown): Promise<void> {
    if (this.#end !== 'running') {
      // It threw after a ctx.exit() it did not await: its end is decided already.
      if (code !== 0) void this.#failedLater(error);
      return;
    }
    const returned = code === 0 && error === undefined;
    this.#end = returned ? 'returned' : 'decided';
    runEndingHooks();
    const node = this.#node;
    // Ended by a link, as Erlang ends a process that does not trap exits: with the linked actor's
    // reason. `shutdown` and `killed` stay what they are (a transient child ended by a linked
    // sibling's shutdown is not restarted); any other reason is this actor's failure.
    const linked = error instanceof LinkedExitError ? error.reason : undefined;
    const asKilled = linked === 'killed';
    // Its error is reported (the parent's ref.error); its reason is `shutdown` (see ENDS_AS_SHUTDOWN).
    const asShutdown = code !== 0 && (linked === 'shutdown' || (typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[ENDS_AS_SHUTDOWN] === true));
    if (code !== 0) {
      // As Python prints a child's traceback: the one report we always print, but for an end a link
      // passed on that is no failure (OTP reports no `shutdown` either).
      // Nor an error its caller gets another way (REPORTED: a run() whose program cannot start).
      const reported = typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[REPORTED] === true;
      if (linked !== 'shutdown' && linked !== 'killed' && !reported) {
        process.stderr.write(`Actor ${node.self.name} (${node.self.id}, pid ${process.pid}) failed:\n${error instanceof Error ? (error.stack ?? String(error)) : inspect(error)}\n`);
      }
      this.#link.sendSystem({ t: 'crash', error: errorToWire(error) });
    }
    if (this.#stopping !== null) await this.#stopping;
    const ending = asKilled ? -9 : asShutdown ? -15 : code;
    // Calls still queued are told what its monitors will be: its error, `shutdown` or `killed`.
    node.closeMailbox(ending, asShutdown || asKilled ? undefined : error);
    this.#endedBeforeChildren(ending, asShutdown || asKilled ? undefined : error);
    // Ended by a link, as Erlang ends a linked process: at once, its children with it.
    if (error instanceof LinkedExitError) for (const child of children()) child.signal('SIGKILL');
    // Stopped: the children it started while the stop ran (its stop hooks, its loop) are stopped
    // too, as those before were, not waited for: nobody would stop them otherwise.
    if (this.#stopping !== null) for (const child of children().reverse()) await child.shutdown().catch(() => {});
    // As Python does: daemon children are terminated, the others waited for. A behaviour that returned
    // first lets the work it left run, as a Node script's end does: a pool's tasks, which keep it alive
    // while they run in daemon workers, among it. Its daemons are ended once that work is done (the
    // event loop has run dry), as the main program ends them at its exit.
    if (returned) {
      await joinChildren((child) => !child.daemon);
      endDaemonsWhenIdle();
      await this.#leftWorkDone();
      // Its stop hooks run to their end, when a stop cut the wait short.
      if (this.#stopping !== null) await this.#stopping;
      // Its left work failed (#failedLater) or called ctx.exit() (#exitWhenFlushed): that ends the process.
      if (this.#end === 'decided') return;
    }
    await endChildrenAtExit();
    await this.#everythingWritten();
    // Its left work failed, or called ctx.exit(), while this flushed (a stop had ended the wait).
    if (returned && this.#end === 'decided') return;
    if (asKilled || asShutdown) return endBySignalAfterExitListeners(asKilled ? 'SIGKILL' : 'SIGTERM');
    process.exit(code);
  }

  /** Graceful stop: children first (in reverse order), then the stop hooks, then the inbox ends. */
  async #stop(timeoutMs: number): Promise<void> {
    // A behaviour that returned and left work running is not waited for any longer: it is asked to end.
    this.#leftWorkWait?.();
    const node = this.#node;
    node.stopping = true;
    node.stopController.abort(new Error('stop requested'));
    void timeoutMs; // The parent ends this process at its own deadline; each child is ended as its `shutdown` says.
    await node.context.childrenStopper?.().catch(() => {});
    for (const child of children().reverse()) await child.shutdown().catch(() => {});
    for (const hook of node.context.stopHooks) {
      try {
        await hook();
      } catch (err) {
        process.stderr.write(`Actor ${node.self.name}: stop hook threw: ${err instanceof Error ? err.stack : String(err)}\n`);
      }
    }
    node.closeMailbox();
    // Give a behaviour that was waiting on its inbox one turn to return by itself.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.#end === 'running') this.#link.sendSystem({ t: 'stopped' });
  }
}

/**
 * Ends the process by its own `signal`, which runs no 'exit' listeners: they
 * run first (a command host ends its program's process group there), once,
 * as `process.exit()` runs them; one that throws or exits does not keep the
 * process from ending.
 */
function endBySignalAfterExitListeners(signal: NodeJS.Signals): Promise<never> {
  const exiting = process as unknown as { _exiting?: boolean; reallyExit: (code?: number) => void };
  if (!exiting._exiting) {
    // Node's own guard: a listener's process.exit() then runs no listener again, and ends the
    // process by the signal all the same (not with its exit code).
    exiting._exiting = true;
    exiting.reallyExit = () => void endBySignal(signal);
    for (const listener of process.listeners('exit')) {
      try {
        listener.call(process, 128 + (constants.signals[signal] ?? 0));
      } catch {
        // As with a throw in one at process.exit(): the process ends all the same.
      }
    }
  }
  return endBySignal(signal);
}

function indent(text: string): string {
  return text.replace(/^/gm, '    ');
}

// Only an actor process has this variable: anywhere else, importing the
// runtime does nothing here. It is removed so that programs the actor starts
// do not inherit it.
const init = process.env[INIT_ENV] === undefined ? null : (JSON.parse(process.env[INIT_ENV]!) as ActorInit);
delete process.env[INIT_ENV];
/**
 * How often a process started from a runtime build marks that build's
 * directory as in use: bundle.ts removes a superseded build an hour after its
 * directory last changed, and a process that runs the kernel alone may still
 * load the actors layer from it (or a source map) much later.
 */
const BUILD_IN_USE_MS = 20 * 60 * 1000;

function keepBuildInUse(): void {
  const dir = (globalThis as Record<symbol, unknown>)[Symbol.for('troupe.runtime-build')];
  if (typeof dir !== 'string') return;
  const touch = (): void => {
    try {
      const now = new Date();
      fs.utimesSync(dir, now, now);
    } catch {
      // A cache this process cannot write to is not swept by it either.
    }
  };
  // Off the start's path (a process's first timer costs about 0.6 ms to set up); never keeps it alive.
  setImmediate(() => {
    setTimeout(() => {
      touch();
      setInterval(touch, BUILD_IN_USE_MS).unref();
    }, 1000).unref();
  }).unref();
}
keepBuildInUse();

let host = init === null ? null : new ActorHost(init);

/**
 * A spare host (see child.ts `startSpare`): this process was started ahead
 * with the runtime loaded, and waits on stdin for the actor it will become.
 * Given it, it goes on exactly as a process started for that actor: the
 * host, then the actor's bundle (whose import of the runtime is this very
 * runtime). EOF first means the parent ended without needing it.
 */
export function runSpare(): void {
  process.title = 'troupe-spare';
  const line = readLineSync(0);
  if (line === null) process.exit(0);
  const { init: given, argv } = JSON.parse(line) as SpareOrder;
  process.argv.splice(1, process.argv.length - 1, ...argv);
  host = new ActorHost(given);
  // An actor of troupe's own: its module is in the kernel this spare runs, or in the actors layer
  // (argv[0]), loaded now over it (see kernel-entry.ts).
  if (argv[1] === RUNTIME_ACTOR_ARG) {
    loadBundle(argv[0]!);
    void loaded();
  }
  // A module that throws while loading reaches the host's uncaughtException handler, as at a cold start.
  else void loadBundle(argv[0]!);
}

/** What a parent writes to a spare host: the actor's init, and the argv a cold start would have had. */
export interface SpareOrder {
  readonly init: ActorInit;
  readonly argv: readonly string[];
}

/** One line from `fd`, blocking (the spare has nothing else to do); null at EOF. */
function readLineSync(fd: number): string | null {
  const chunks: Buffer[] = [];
  const buffer = Buffer.alloc(16 * 1024);
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(fd, buffer, 0, buffer.byteLength, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
      continue;
    }
    if (n === 0) return null;
    const got = Buffer.from(buffer.subarray(0, n));
    chunks.push(got);
    if (got.includes(10)) {
      const text = Buffer.concat(chunks).toString('utf8');
      return text.slice(0, text.indexOf('\n'));
    }
  }
}

/** How to write the code cache of each of the runtime's layers that this process is to write one for (see bundle.ts runtimeMain). */
const codeCacheWriters: (() => void)[] = [];
/** The actor became ready: a layer loaded after that writes its cache at once. */
let readyPassed = false;

/**
 * Called by a layer of the runtime bundle as it loads, when it found no
 * usable code cache: this process writes one (at its ready, or at once for
 * the actors layer loaded after it).
 */
export function codeCache(write: () => void): void {
  codeCacheWriters.push(write);
  if (readyPassed) writeCodeCacheNow();
}

/**
 * Writes the code caches now, as the actor becomes ready: only the first
 * process of a runtime build (or of a new node, or new flags) does, once,
 * and its `ready` waits for it (a few ms). Not later: the actors of a short
 * program are often SIGKILLed soon after their first answer (a pool's
 * terminate()), and a cache left for a later moment was then never written,
 * so every run of such a program compiled the runtime afresh (about 10 ms of
 * each actor's start).
 */
function writeCodeCacheNow(): void {
  readyPassed = true;
  for (const write of codeCacheWriters.splice(0)) {
    try {
      write();
    } catch {
      // A cache is only a speed-up: a directory we cannot write to just means none.
    }
  }
}

/**
 * Called by the actors layer once it has loaded into a process: its frames
 * are mapped in this process's stacks, as the kernel's are (an actor's host
 * maps those it finds loaded as it starts).
 */
export function mapRuntimeStacks(scriptUrl: string): void {
  if (host !== null) mapStacksOf(scriptUrl);
}

/** Called by an actor bundle once the actor's module has loaded. */
export function loaded(): Promise<void> {
  if (host === null) throw new Error(`troupe: loaded() runs in actor processes only (no ${INIT_ENV} in the environment)`);
  return host.loaded();
}
