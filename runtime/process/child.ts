/**
 * An actor process, seen from its parent: starting it (locate the definition,
 * bundle its module, spawn `node host.mjs troupe-actor <name>`), its control
 * link, its lifecycle (ready, exit code, join, signals, graceful stop), and
 * the calls in flight into it, which fail with `ActorExitedError` if it dies.
 */
import type { ChildProcess } from 'node:child_process';
import { constants, getPriority } from 'node:os';
import type { Duplex } from 'node:stream';
import type { ActorDefinition } from '../behaviour.ts';
import { encode, errorFromWire, type Encoded } from '../codec.ts';
import { AbortError, SpawnError, invalidOption } from '../errors.ts';
import { MAIN_LOCAL_ID, actorId, nodeOf } from '../ids.ts';
import { FLAG_NOTICE, FRAME_ARGS, FRAME_CALL, FRAME_CANCEL, FRAME_EXIT, FRAME_REPLY, FRAME_REPLY_ERROR, FRAME_SEND, Link, PROTOCOL_VERSION, type LinkHandler, type SystemMessage } from '../link.ts';
import type { MailboxOptions } from '../mailbox.ts';
import { definitionKey, exitHooks, hosting, type ChildLink, type Node, type RestartEvent, type WatchEntry } from '../node.ts';
import { exitReason, type ExitReason } from '../exit-reason.ts';
import { fs } from '../fs.ts';
import { holdAlive, isForever } from '../timers.ts';
import { keepMainForDaemons } from '../keep-alive.ts';
import { ACTOR_ARG, RUNTIME_ACTOR_ARG, actorBundle, actorBundleIfFresh, runtimeActorBundleUnchecked, runtimeBundle, type ActorBundles } from './bundle.ts';
import type { SpareOrder } from './host.ts';
import { ActorRef } from '../ref.ts';
import { ChildRef, type ChildCore, type JoinOptions, type StopOptions } from './child-ref.ts';
import { groupAlive, procStat } from './proc-stat.ts';
import { spawnProcess } from './spawn-process.ts';

export const DEFAULT_STOP_TIMEOUT_MS = 5000;
/** How long trailing frames may lag the exit of the process (a leaked control fd never closes). */
const EXIT_DRAIN_MS = 200;

/** How an actor is ended when its parent ends it: a graceful stop of at most `ms`, a SIGKILL, or a stop with no deadline. */
export type Shutdown = number | 'brutal' | 'infinity';

export interface ProcessOptions {
  readonly name: string;
  readonly daemon: boolean;
  readonly shutdown: Shutdown;
  /** The signal the kernel sends the actor when its parent dies (KILL; TERM for an actor that must clean up, as a command's host). */
  readonly deathSignal: 'KILL' | 'TERM';
  readonly mailbox: MailboxOptions;
  readonly execArgv: readonly string[];
  readonly env: NodeJS.ProcessEnv | undefined;
  readonly cwd: string | undefined;
}

/** What the parent says about an actor before it starts, in the environment (see host.ts). */
export interface ActorInit {
  nodeId: string;
  name: string;
  identity: string;
  parent: [string, string];
  module: string;
  ordinal: number;
  mailbox: MailboxOptions;
  /** True when the kernel kills this process if its parent dies (no watchdog thread needed). */
  deathSignal: boolean;
  /** The parent's pid: a watchdog compares with it (the process may be orphaned before it starts). */
  parentPid: number;
  /**
   * `deathSignal: 'TERM'`: how long the orphaned actor's own SIGTERM listeners
   * may take to end it before it is killed (its `shutdown` ms, 5000 unless a
   * number). Null for the default, KILL.
   */
  orphanGraceMs: number | null;
  /** The definitions this process's ancestors run, its parent's last (see refuseSpawnAtImport). */
  lineage: string[];
}

export const INIT_ENV = 'TROUPE_ACTOR';

/** An orphan's grace under deathSignal TERM: its shutdown's ms; a 'brutal' one none; an 'infinity' one the default, not for ever. */
function orphanGrace(shutdown: Shutdown): number {
  return shutdown === 'brutal' ? 0 : shutdown === 'infinity' ? 5000 : shutdown;
}

type Frame = [kind: number, to: string, from: string, callId: number, flags: number, payload: Uint8Array, attachments: readonly Buffer[]];

const live = new Set<ActorProcess>();

/** setpriv, where it exists, unless `TROUPE_DEATH_SIGNAL=off` asks for the watchdog thread instead. */
const SETPRIV =
  process.platform === 'linux' && process.env.TROUPE_DEATH_SIGNAL !== 'off' ? (['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p)) ?? null) : null;

export class ActorProcess implements ChildCore, ChildLink, LinkHandler {
  readonly nodeId: string;
  readonly ref: ChildRef;
  readonly daemon: boolean;
  readonly ready: Promise<void>;
  readonly #node: Node;
  readonly #def: ActorDefinition;
  readonly #options: ProcessOptions;
  readonly #identity: string;
  readonly #args: Encoded;
  #resolveReady!: () => void;
  #rejectReady!: (err: Error) => void;
  #settledReady = false;
  #child: ChildProcess | null = null;
  #link: Link | null = null;
  #queued: Frame[] | null = [];
  #descendants: readonly number[] = [];
  /** Calls forwarded into this process and not answered yet, by `${caller}#${callId}`. */
  readonly #inflight = new CallsInFlight();
  /** For an actor that acknowledges calls (see Node.taken): by caller, the last call it said it took. */
  readonly #takenUpTo = new Map<string, number>();
  #exitCode: number | null = null;
  #error: Error | undefined;
  #exited: Promise<number>;

  get exited(): Promise<number> {
    return this.#exited;
  }
  #resolveExited!: (code: number) => void;
  #onStopped: (() => void) | null = null;
  #stopRequested = false;
  /** Who is told when this actor ends: monitors by `${watcher}#${number}`, links by `${watcher}#link`. */
  readonly #watchers = new Map<string, { watcher: string; monitor: number; link: boolean }>();
  /** The watchers of the actors below this one, as its process last reported them. */
  #below = new Map<string, WatchEntry>();
  /** Watches of actors below this one sent into its process and not reported back yet, by watchKey. */
  readonly #belowSent = new Map<string, WatchEntry>();
  /** Why the actor ended, once its process said so: it may still wait for its own children (see 'ended'). */
  #endReason: ExitReason | null = null;

  constructor(node: Node, def: ActorDefinition, args: readonly unknown[], options: ProcessOptions) {
    this.#node = node;
    this.#def = def;
    this.#options = options;
    this.daemon = options.daemon;
    // Encoded now, so a value that cannot cross fails at the spawn call site; for the child it is
    // for (a pipe end in them is held by the child from now: see encodingFor).
    const announce: (() => void)[] = [];
    this.#args = encode(args, 'args', node.nextChildActorId(), announce);
    const { nodeId, identity } = node.nextChild();
    this.nodeId = nodeId;
    this.#identity = identity;
    const name = options.name || `${def.impl.name || 'actor'}-${identity}`;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => {});
    this.#exited = new Promise<number>((resolve) => (this.#resolveExited = resolve));
    this.ref = new ChildRef(actorId(nodeId, MAIN_LOCAL_ID), name, node.self, this, options.mailbox.overflow === 'block');
    node.addChild(this);
    // Known to this node now: a pipe end in the args says who holds it (see encodingFor).
    for (const fn of announce) fn();
    live.add(this);
    if (this.daemon && node.parentless) keepMainForDaemons(() => [...live].some((child) => child.daemon));
    // The next spawn of the root finds a spare host, once the root spawns again what ended (see
    // wantSpares); started once this actor is up (or failed to start, however early), so as not to slow its start.
    if (node.parentless) {
      const key = definitionKey(def);
      if (key !== null && endedDefinitions.has(key)) wantSpares();
      void this.ready.then(spareOnceStarted, spareOnceStarted);
    }
    void this.#start();
  }

  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** Spawned and not yet ready (nor failed to start). */
  get starting(): boolean {
    return !this.#settledReady;
  }

  get exitCode(): number | null {
    return this.#exitCode;
  }

  get error(): Error | undefined {
    return this.#error;
  }

  isAlive(): boolean {
    return this.#exitCode === null;
  }

  pids(): readonly number[] {
    const pid = this.pid;
    return pid === null || this.#exitCode !== null ? this.#descendants : [...this.#descendants, pid];
  }

  // ---- starting --------------------------------------------------------

  /**
   * Starts the process: within spawn() itself when the actor's bundles are
   * built and unchanged (the usual case: the process starts a few ms sooner,
   * ahead of whatever the caller does next), else once they are built.
   */
  #start(): void {
    const module = this.#def.module;
    const cwd = this.#options.cwd;
    let found: ActorBundles | null = null;
    let check: (() => boolean) | null = null;
    try {
      if (module !== undefined && (cwd === undefined || isDirectory(cwd))) {
        // One of troupe's own: spawned first, its runtime checked while its node starts (see runtimeActorBundleUnchecked).
        const unchecked = runtimeActorBundleUnchecked(module);
        if (unchecked !== null) ({ bundles: found, check } = unchecked);
        else found = actorBundleIfFresh(module);
      }
    } catch {
      // Found again, or reported, on the way that waits.
    }
    if (found !== null) this.#launch(found, true, check);
    else void this.#build();
  }

  async #build(): Promise<void> {
    const name = this.ref.name;
    const module = this.#def.module;
    let found: ActorBundles;
    try {
      if (module === undefined) {
        throw new SpawnError(`Cannot start actor ${name}: the stack did not say which module defined it. Define actors with actor(…) at the top level of a module file.`, name);
      }
      found = await actorBundle(module);
    } catch (err) {
      this.#failStart(err instanceof SpawnError ? err : new SpawnError(`Cannot start actor ${name}: its module ${module} failed to build: ${messageOf(err)}`, name, { cause: err }));
      return;
    }
    if (this.#exitCode !== null) return;
    const cwd = this.#options.cwd;
    if (cwd !== undefined && !isDirectory(cwd)) {
      const what = fs.existsSync(cwd) ? 'is not a directory' : 'does not exist';
      this.#failStart(new SpawnError(`Cannot start actor ${name}: its working directory ${cwd} ${what}. Pass an existing directory as \`cwd\`.`, name));
      return;
    }
    this.#launch(found, false);
  }

  /**
   * Spawns the process (or hands the actor to a spare host). `inSpawn`: spawn() has not returned yet, and a failure is told once it has.
   * `check`: whether the bundles are still fresh, not asked yet (see #start): asked before a spare is taken, else once the process is spawned.
   */
  #launch({ bundle, runtime, inRuntime }: ActorBundles, inSpawn: boolean, check: (() => boolean) | null = null): void {
    const name = this.ref.name;
    const module = this.#def.module!;
    if (check !== null && this.#node.parentless && sparePid() !== null) {
      if (!check()) return void this.#build();
      check = null;
    }
    // The spare must run the very runtime this actor's bundle imports, or the process would hold two.
    // Nothing waits between #build's check of exitCode (or the constructor) and here: the actor cannot have ended meanwhile.
    const taken = this.#node.parentless ? takeSpare(this.#options, runtime) : null;
    const adopted = taken?.child ?? null;
    let child: ChildProcess;
    try {
      const init: ActorInit = {
        nodeId: this.nodeId,
        name,
        identity: this.#identity,
        parent: [this.#node.self.id, this.#node.self.name],
        module,
        ordinal: this.#def.ordinal,
        mailbox: { ...this.#options.mailbox },
        deathSignal: SETPRIV !== null,
        parentPid: process.pid,
        orphanGraceMs: this.#options.deathSignal === 'KILL' ? null : orphanGrace(this.#options.shutdown),
        lineage: hosting.running === null ? [] : [...hosting.lineage, definitionKey(hosting.running) ?? '?'],
      };
      const argv = [...this.#options.execArgv, bundle, inRuntime ? RUNTIME_ACTOR_ARG : ACTOR_ARG, name];
      if (adopted !== null) {
        // Already running, with the runtime loaded: it becomes this actor as a cold start would.
        adopted.stdin!.end(`${JSON.stringify({ init, argv } satisfies SpareOrder)}\n`);
        adopted.ref();
        (adopted.stdio[3] as Duplex & { ref(): void }).ref();
        child = adopted;
      } else {
        // Where setpriv exists (util-linux, on every Debian), the kernel SIGKILLs
        // the actor the moment its parent dies, even mid-way through a synchronous
        // loop; setpriv execs node in place, so the pid is the actor's.
        child = spawnProcess(SETPRIV ?? process.execPath, SETPRIV === null ? argv : ['--pdeathsig', this.#options.deathSignal, '--', process.execPath, ...argv], {
          stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
          env: { ...(this.#options.env ?? process.env), [INIT_ENV]: JSON.stringify(init) },
          cwd: this.#options.cwd,
          windowsHide: true,
          // A session of its own: Ctrl-C at the terminal reaches the root alone,
          // which then stops the tree in order (see embed.ts).
          detached: true,
        });
      }
    } catch (err) {
      const error = new SpawnError(`Cannot start actor ${name}: ${messageOf(err)}`, name, { cause: err });
      if (inSpawn) queueMicrotask(() => this.#failStart(error));
      else this.#failStart(error);
      return;
    }
    if (check !== null && !check()) {
      // The runtime changed since its build: this process has run nothing but the runtime, and was sent
      // nothing (the args go once the check passed). It goes, and the actor starts from a new build.
      child.on('error', () => {});
      child.kill('SIGKILL');
      void this.#build();
      return;
    }
    this.#child = child;
    child.on('error', (err) => {
      // No process came (no 'exit' will either): the actor ends here.
      if (child.pid === undefined) {
        const code = (err as NodeJS.ErrnoException).code;
        const hint = code === 'EMFILE' || code === 'ENFILE' ? ' (too many open files: close some, or raise the limit, `ulimit -n`)' : '';
        this.#failStart(new SpawnError(`Cannot start actor ${name}: ${err.message}${hint}`, name, { cause: err }));
        this.#finish(1);
      }
    });
    child.on('exit', (code, signal) => this.#onProcessExit(code, signal));
    // Out of file descriptors, Node gives up before it makes the pipes: its 'error' (next tick) ends the actor.
    const stream = child.stdio?.[3] as Duplex | undefined;
    if (stream === undefined || stream === null) return;
    const link = new Link(stream, this, `actor ${name} (pid ${child.pid})`);
    this.#link = link;
    if (this.daemon) {
      // A daemon does not keep its parent alive (the parent ends it at exit),
      // but its start does, so that awaiting `ready` never ends the program.
      void this.ready.then(() => {
        child.unref();
        (stream as Duplex & { unref(): void }).unref();
      }, () => {});
    }
    link.sendSystem({ t: 'hello', v: PROTOCOL_VERSION });
    link.sendMessage(FRAME_ARGS, this.ref.id, this.#node.self.id, 0, this.#args);
    const queued = this.#queued ?? [];
    this.#queued = null;
    for (const frame of queued) this.forward(...frame);
    this.#node.reportPids();
    try {
      this.#node.emit('spawn', this.ref);
    } catch (err) {
      // A listener's error is the listener's: it neither undoes this spawn nor comes out of the spawn() call.
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  /** The actor will not run: `ready` rejects; with no process yet, it ends now with `exitCode`. */
  #failStart(error: SpawnError, exitCode = 1): void {
    if (this.#settledReady) return;
    this.#settledReady = true;
    this.#error ??= error;
    this.#rejectReady(error);
    if (this.#child === null && this.#exitCode === null) this.#finish(exitCode);
  }

  // ---- the link --------------------------------------------------------

  forward(kind: number, to: string, from: string, callId: number, flags: number, payload: Uint8Array, attachments: readonly Buffer[]): void {
    if (this.#queued !== null) {
      if (kind === FRAME_CANCEL) {
        const at = this.#queued.findIndex(([k, , f, c]) => k === FRAME_CALL && f === from && c === callId);
        if (at !== -1) this.#queued.splice(at, 1);
        return;
      }
      this.#queued.push([kind, to, from, callId, flags, payload, attachments]);
      return;
    }
    if (kind === FRAME_CALL) this.#inflight.add(from, callId, to);
    else if (kind === FRAME_CANCEL) {
      this.#inflight.delete(from, callId);
      // This node is the last to track it when the target is this process's own actor.
      if (nodeOf(to) === this.nodeId) return;
    }
    this.#link!.forward(kind, to, from, callId, flags, payload, attachments);
  }

  /** Calls forwarded into this process and not answered yet (for specs and diagnostics). */
  get callsInFlight(): number {
    return this.#inflight.size;
  }

  onMessage(_link: Link, kind: number, to: string, from: string, callId: number, flags: number, payload: Uint8Array, attachments: readonly Buffer[]): void {
    if (kind === FRAME_REPLY || kind === FRAME_REPLY_ERROR) this.#inflight.delete(to, callId);
    // A watcher told that an actor below ended: this node no longer owes it that news.
    else if (kind === FRAME_EXIT || (kind === FRAME_SEND && flags & FLAG_NOTICE)) this.#told(watchKey(to, callId, kind === FRAME_EXIT, from));
    this.#node.routeFromChild(kind, to, from, callId, flags, payload, attachments);
  }

  onSystem(_link: Link, message: SystemMessage): void {
    switch (message.t) {
      case 'hello':
        return;
      case 'took': {
        const from = String(message.from);
        this.#takenUpTo.set(from, Math.max(this.#takenUpTo.get(from) ?? 0, Number(message.upTo)));
        return;
      }
      case 'ready':
        if (!this.#settledReady) {
          this.#settledReady = true;
          this.#resolveReady();
        }
        return;
      case 'spawn-error': {
        const cause = errorFromWire(message.error as Parameters<typeof errorFromWire>[0]);
        const code = message.code === 'ERR_SPAWN_AT_IMPORT' ? 'ERR_SPAWN_AT_IMPORT' : 'ERR_SPAWN';
        this.#failStart(new SpawnError(String(message.message), this.ref.name, { cause, code }));
        return;
      }
      case 'crash':
        this.#error = errorFromWire(message.error as Parameters<typeof errorFromWire>[0]);
        return;
      case 'ended':
        this.#ended(Number(message.code));
        return;
      case 'pids':
        this.#descendants = (message.pids as number[]) ?? [];
        this.#node.reportPids();
        return;
      case 'stopped':
        this.#onStopped?.();
        return;
      case 'restart':
        this.#node.emitRestart(message.event as RestartEvent);
        return;
      case 'watchers':
        this.#below = new Map(((message.list as WatchEntry[]) ?? []).map((entry) => [watchKey(entry.watcher, entry.monitor, entry.link, entry.actor.id), entry]));
        for (const key of this.#below.keys()) this.#belowSent.delete(key);
        this.#node.reportWatchers();
        return;
      default:
        return;
    }
  }

  onClose(_link: Link, error: Error | undefined): void {
    if (error !== undefined && this.#exitCode === null) {
      // A child that writes garbage can no longer be controlled: end it.
      this.#error ??= error;
      this.#node.emit('error', error);
      this.signal('SIGKILL');
    }
    this.#drained?.();
  }

  #drained: (() => void) | null = null;

  #onProcessExit(code: number | null, signal: NodeJS.Signals | null): void {
    const exitCode = code ?? -(constants.signals[signal as keyof typeof constants.signals] ?? 0);
    const link = this.#link;
    if (link === null || link.closed) {
      this.#finish(exitCode);
      return;
    }
    // Frames the child wrote before exiting may still be in the pipe: read them first.
    const timer = setTimeout(() => this.#finish(exitCode), EXIT_DRAIN_MS);
    this.#drained = () => {
      clearTimeout(timer);
      this.#finish(exitCode);
    };
  }

  #finish(exitCode: number): void {
    if (this.#exitCode !== null) return;
    this.#exitCode = exitCode;
    this.#drained = null;
    live.delete(this);
    this.#link?.close();
    // Frames still waiting for a process that never came: calls fail, sends become dead letters.
    const queued = this.#queued ?? [];
    this.#queued = null;
    if (!this.#settledReady) {
      this.#settledReady = true;
      const err =
        this.#error instanceof SpawnError
          ? this.#error
          : new SpawnError(`Actor ${this.ref.name} exited with code ${exitCode} before it was ready.`, this.ref.name, { cause: this.#error });
      this.#rejectReady(err);
    }
    this.#node.removeChild(this.nodeId);
    if (this.#node.parentless) {
      const key = definitionKey(this.#def);
      if (key !== null) endedDefinitions.add(key);
    }
    for (const [kind, to, from, callId, flags, payload, attachments] of queued) {
      if (kind === FRAME_CALL) this.#inflight.add(from, callId, to);
      else this.#node.deadLetter(kind, to, from, flags, payload, attachments, 'exited');
    }
    // An actor that acknowledges the calls it takes never ran those it did not say it took.
    const untaken = this.#def.acksCalls === true ? (call: { from: string; callId: number }) => call.callId > (this.#takenUpTo.get(call.from) ?? 0) : undefined;
    // Calls to its process (the actor, or a queue or lock it made) end with its code; calls to actors
    // in processes below it end as their watchers are told below (not with its code).
    const calls = [...this.#inflight.all()];
    const inProcess = (call: { to: string }): boolean => nodeOf(call.to) === this.nodeId;
    this.#node.failCalls(calls.filter(inProcess), exitCode, this.reason(), untaken);
    this.#node.failCalls(
      calls.filter((call) => !inProcess(call)),
      null,
      'killed',
    );
    this.#inflight.clear();
    this.#resolveExited(exitCode);
    const reason = this.reason();
    this.#tellWatchers(reason);
    // The actors below it ended with it (killed by the kernel, or on their pipe's EOF), and nobody else can say so.
    for (const { watcher, monitor, link, actor } of this.#watchesBelow()) this.#node.sendDown(watcher, monitor, actor, 'killed', link);
    this.#below.clear();
    this.#belowSent.clear();
    this.#node.emit('exit', { ref: this.ref, exitCode, error: this.#error, reason });
  }

  // ---- monitors and links ----------------------------------------------

  watch(watcher: string, monitor: number, link: boolean): void {
    // Ended already (its process may still wait for its children): as Erlang answers a monitor or
    // link of a dead process, noproc, whatever it ended with; its watchers then were told that.
    if (this.#exitCode !== null || this.#endReason !== null) {
      this.#node.sendDown(watcher, monitor, this.ref, 'noproc', link);
      return;
    }
    this.#watchers.set(`${watcher}#${link ? 'link' : monitor}`, { watcher, monitor, link });
    this.#node.reportWatchers();
  }

  unwatch(watcher: string, monitor: number, link: boolean): void {
    if (this.#watchers.delete(`${watcher}#${link ? 'link' : monitor}`)) this.#node.reportWatchers();
    if (link) this.#node.sendUnlinked(watcher, this.ref);
  }

  watchBelow(watcher: string, monitor: number, link: boolean, actor: ActorRef, watching: boolean): void {
    const key = watchKey(watcher, monitor, link, actor.id);
    if (!watching) this.#told(key);
    // One reported already (a link made again) is not counted twice.
    else if (!this.#below.has(key)) this.#belowSent.set(key, { watcher, monitor, link, actor });
  }

  subtreeWatchers(): WatchEntry[] {
    const own = [...this.#watchers.values()].map((w) => ({ ...w, actor: this.ref }));
    return [...own, ...this.#watchesBelow()];
  }

  /** The watches of actors below this one: those its process reported, and those sent in since. */
  #watchesBelow(): WatchEntry[] {
    // A report takes the watches it has out of #belowSent, and watchBelow adds none it has: no key is in both.
    return [...this.#below.values(), ...this.#belowSent.values()];
  }

  /** A watcher of an actor below was told it ended, or took its watch back. */
  #told(key: string): void {
    this.#belowSent.delete(key);
    this.#below.delete(key);
  }

  /**
   * The actor ended: its behaviour returned or threw, or it called `ctx.exit(n)`;
   * its process may still wait for its children, as Python's does. Its
   * monitors and links are told now, as Erlang tells them when a process
   * ends: a child linked to it must not wait for news its parent's end waits on.
   */
  #ended(code: number): void {
    if (this.#endReason !== null || this.#exitCode !== null) return;
    this.#endReason = exitReason(code, this.#error, this.#stopRequested);
    this.#tellWatchers(this.#endReason);
  }

  #tellWatchers(reason: ExitReason): void {
    for (const { watcher, monitor, link } of this.#watchers.values()) this.#node.sendDown(watcher, monitor, this.ref, reason, link);
    this.#watchers.clear();
  }

  /** Why the actor ended (Erlang's exit reason); `noproc` while it has not. */
  reason(): ExitReason {
    if (this.#endReason !== null) return this.#endReason;
    return this.#exitCode === null ? 'noproc' : exitReason(this.#exitCode, this.#error, this.#stopRequested);
  }

  // ---- lifecycle -------------------------------------------------------

  async join(options: JoinOptions): Promise<number | null> {
    const { signal } = options;
    let { timeout } = options;
    if (timeout !== undefined && (typeof timeout !== 'number' || Number.isNaN(timeout))) {
      throw invalidOption('timeout', 'a number of milliseconds (0 or less: do not wait)', timeout);
    }
    // As Python's join(-1) (test_terminate): a negative timeout does not wait.
    if (timeout !== undefined && timeout < 0) timeout = 0;
    if (this.#exitCode !== null) return this.#exitCode;
    if (signal?.aborted) throw new AbortError(`join() on actor ${this.ref.name} was aborted.`, { cause: signal.reason });
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    // A daemon keeps nothing alive: a program awaiting its end must not end first (with its await unsettled).
    const release = this.daemon ? holdAlive() : undefined;
    try {
      return await Promise.race<number | null>([
        this.#exited,
        ...(timeout === undefined || isForever(timeout) ? [] : [new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeout)))]),
        ...(signal === undefined
          ? []
          : [
              new Promise<never>((_, reject) => {
                onAbort = () => reject(new AbortError(`join() on actor ${this.ref.name} was aborted.`, { cause: signal.reason }));
                signal.addEventListener('abort', onAbort, { once: true });
              }),
            ]),
      ]);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      release?.();
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Ends the descendants (SIGKILL), then this process with `signal` (and, with a SIGKILL, the groups of programs below). */
  signal(signal: 'SIGTERM' | 'SIGKILL'): void {
    if (this.#exitCode !== null) return;
    const groups = this.#killDescendants(signal === 'SIGKILL');
    if (this.#child === null) {
      // Not started yet: it never will be, and it ends as if the signal had reached it.
      this.#failStart(new SpawnError(`Actor ${this.ref.name} was ended by ${signal} before it started.`, this.ref.name), -constants.signals[signal]);
      return;
    }
    this.#signalChild(signal);
    this.#killGroups(groups);
  }

  async stop(options: StopOptions): Promise<number> {
    const { timeout = DEFAULT_STOP_TIMEOUT_MS } = options;
    if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) throw invalidOption('timeout', 'a number of milliseconds >= 0', timeout);
    if (this.#exitCode !== null) return this.#exitCode;
    this.#stopRequested = true;
    const deadline = isForever(timeout) ? undefined : setTimeout(() => this.signal('SIGKILL'), timeout);
    try {
      await this.ready.catch(() => {});
      if (this.#exitCode === null && this.#link !== null) {
        this.#onStopped = () => this.signal('SIGTERM');
        this.#link.sendSystem({ t: 'stop', timeoutMs: timeout });
      }
      return await this.#exited;
    } finally {
      clearTimeout(deadline);
      this.#onStopped = null;
    }
  }

  /** How long it is given to end after SIGTERM before it is killed: its `shutdown` (none for 'brutal'; null, for ever, for 'infinity'). */
  get killAfterMs(): number | null {
    const how = this.#options.shutdown;
    return how === 'brutal' ? 0 : how === 'infinity' ? null : how;
  }

  /**
   * Ends the actor as its `shutdown` option says (OTP's child shutdown):
   * `brutal` kills it; a number stops it gracefully within that many ms;
   * `infinity` stops it gracefully with no deadline. Resolves the exit code.
   */
  async shutdown(): Promise<number> {
    const how = this.#options.shutdown;
    if (how === 'brutal') {
      this.#stopRequested = true;
      this.signal('SIGKILL');
      return (await this.join({}))!;
    }
    return this.stop({ timeout: how === 'infinity' ? Infinity : how });
  }

  /**
   * SIGKILLs the descendants the child last reported, each only if it is
   * still below the child: a pid that ended since its report may already
   * name an unrelated process (pids are reused, within seconds on a busy
   * machine).
   */
  /**
   * Signals the child through its ChildProcess, which does nothing once the
   * child is reaped: between its exit and `exitCode` being set (the pipe is
   * drained first), its pid may already name another process.
   */
  #signalChild(signal: NodeJS.Signals): void {
    try {
      this.#child?.kill(signal);
    } catch {
      // Already gone.
    }
  }

  /**
   * SIGKILLs the descendant processes, and returns the process groups of
   * programs below (as -pgid) when `groups`: for a SIGKILL of the child,
   * which leaves it no time to end them (a SIGTERM lets it end its programs
   * gracefully, actors/command.ts). All are found before any is killed:
   * killing a process reparents what was below it. A group is taken while
   * its leader is still below, so the number surely names that group (and
   * stays its own while any member lives).
   */
  #killDescendants(groups: boolean): number[] {
    const root = this.#child?.pid;
    // Without `groups` (a SIGTERM), the group of a program this actor runs itself is its own to end (a
    // command host gives the program its time); the group of one a host below runs goes with that host,
    // which is SIGKILLed here and can end nothing. Only while its leader lives, a child of that host:
    // then the number surely names that group.
    const killedWithHost = (group: number): boolean => {
      const host = parentPid(-group);
      return host !== null && host !== root && this.#descendants.includes(host);
    };
    // A group whose leader has ended (a program that left work in the background, which its host waits
    // on) is still that group while any member lives: its number cannot be given out again till then.
    const ours = (pid: number): boolean => root === undefined || isBelow(Math.abs(pid), root) || (pid < 0 && !alive(-pid) && groupAlive(-pid));
    const doomed = this.#descendants.filter((pid) => (groups || pid > 0 || killedWithHost(pid)) && ours(pid));
    for (const pid of doomed) if (pid > 0) killQuietly(pid, 'SIGKILL');
    return doomed.filter((pid) => pid < 0);
  }

  /**
   * Program groups go after the child: killed first, a program could end a
   * moment before its command host, and the host end as it does when its
   * program ends (after a SIGTERM, -15) rather than killed (-9).
   */
  #killGroups(groups: readonly number[]): void {
    for (const group of groups) killQuietly(group, 'SIGKILL');
  }

  /** At process exit: end this actor and its tree now (daemons are terminated, as Python does). */
  endAtExit(): void {
    const groups = this.#killDescendants(!this.daemon);
    this.#signalChild(this.daemon ? 'SIGTERM' : 'SIGKILL');
    this.#killGroups(groups);
  }
}

/** The parent of `pid` (Linux /proc), or null when it cannot be read. */
function parentPid(pid: number): number | null {
  try {
    return Number(procStat(pid)[1]);
  } catch {
    return null;
  }
}

function isDirectory(path: string): boolean {
  return fs.statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
}

/** Whether process `pid` exists (a zombie counts: its number is still taken). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether `ancestor` is among the parents of `pid` (Linux /proc); true where that cannot be read, as before. */
function isBelow(pid: number, ancestor: number): boolean {
  let at = pid;
  for (let depth = 0; depth < 64; depth++) {
    let ppid: number;
    try {
      ppid = Number(procStat(at)[1]);
    } catch (err) {
      // Gone (nothing to kill), or no /proc on this system.
      return (err as NodeJS.ErrnoException).code !== 'ENOENT' && !fs.existsSync('/proc/self');
    }
    if (ppid === ancestor) return true;
    if (ppid <= 1) return false;
    at = ppid;
  }
  return false;
}

function killQuietly(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

process.on('exit', () => {
  for (const p of live) p.endAtExit();
  spare?.child.kill('SIGKILL');
});

// ---- spare hosts ---------------------------------------------------------

/** The argument that starts the runtime bundle as a spare host (runtime-entry.ts). */
export const SPARE_ARG = 'troupe-spare';

/**
 * A process started ahead of need, with node up and the runtime loaded,
 * waiting on stdin for the actor it will become (host.ts `runSpare`): a
 * spawn that takes it skips node's start-up and the runtime's load, as
 * Python's forkserver skips the interpreter's. A root process keeps one once
 * it spawns again an actor whose like has ended (a restart, a pool worker
 * replaced, a spawn in a loop): those are the spawns a spare serves, where a
 * program that starts its actors (a pool's workers) once would only pay a
 * process, and its start's CPU time amid its first work
 * (`TROUPE_SPARE_HOST=off` turns spares off); it dies with
 * the root (the parent-death signal, or EOF on its stdin). A spawn takes it
 * only when the spare would be the same process a cold start makes: default
 * `env`, `cwd`, `execArgv` and death signal; the environment, working
 * directory, user and group ids unchanged since it started; the same runtime
 * bundle.
 */
interface Spare {
  readonly child: ChildProcess;
  readonly runtime: string;
  readonly env: string;
  readonly cwd: string;
  /** The ids it runs as: a root that changed them (setuid, setgid) must not hand an actor the old ones. */
  readonly ids: string;
}

let spare: Spare | null = null;
let spareStarting = false;
const SPARES = process.env.TROUPE_SPARE_HOST !== 'off';
/** The definitions (by definitionKey) of the root's actors that have ended. */
const endedDefinitions = new Set<string>();

/**
 * How many spare hosts this process started and how many spawns took one,
 * and whether it keeps one (for specs and diagnostics).
 */
export const spareHosts = { started: 0, taken: 0, wanted: false };

/** The root spawned again what ended: from now on it keeps a spare host. */
function wantSpares(): void {
  spareHosts.wanted = true;
}

/** The spare host's pid, if one is waiting (for specs). */
export function sparePid(): number | null {
  return spare?.child.pid ?? null;
}

function environment(): string {
  return JSON.stringify(process.env);
}

/**
 * What a process inherits from its parent, besides its environment and
 * directory, that the program may change after its spare started: a spare
 * taken must be the very process a cold start would make (a umask of 077
 * set since must not leave the actor's files readable by all).
 */
function ids(): string {
  return `${process.getuid?.()}:${process.geteuid?.()}:${process.getgid?.()}:${process.getegid?.()}:${process.getgroups?.().join(',')}:${process.umask()}:${getPriority()}`;
}

function takeSpare(options: ProcessOptions, runtime: string): Spare | null {
  const s = spare;
  if (s === null) return null;
  const fits = options.env === undefined && options.cwd === undefined && options.execArgv.length === 0 && options.deathSignal === 'KILL';
  if (!fits) return null;
  spare = null;
  if (!waiting(s.child) || s.runtime !== runtime || s.env !== environment() || s.cwd !== process.cwd() || s.ids !== ids()) {
    s.child.kill('SIGKILL');
    return null;
  }
  spareHosts.taken++;
  return s;
}

/** Whether a spare is still there to take: not exited, nor dead with its exit event still to come (a zombie). */
function waiting(child: ChildProcess): boolean {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return false;
  if (process.platform !== 'linux') return true;
  try {
    return procStat(child.pid)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** How long a spare waits for the actors starting with it: one slow to start (a long top-level await) does not keep it away. */
const SPARE_WAITS_MS = 1000;
/** How long after an actor became ready its spare waits: the actor's first messages (a pool worker's first answers) come first. */
const SPARE_AFTER_READY_MS = 50;
let spareWait: ReturnType<typeof setTimeout> | null = null;

/**
 * Starts the spare a moment after an actor became ready once no actor of
 * this process is starting, or SPARE_WAITS_MS after one became ready: its
 * fork blocks this process for some milliseconds (tens, for a large
 * program) and its start takes a core, which actors starting together (a
 * pool's workers) would otherwise wait for as they start, and the actor
 * just started as its first messages come.
 */
function spareOnceStarted(): void {
  if (!spareHosts.wanted) return;
  const starting = [...live].some((child) => child.starting);
  if (starting && spareWait !== null) return; // a start is set already: a run of spawns does not put it off
  if (spareWait !== null) clearTimeout(spareWait);
  spareWait = setTimeout(() => {
    spareWait = null;
    // One began to start meanwhile: wait for it, as for any.
    if (!starting && [...live].some((child) => child.starting)) spareOnceStarted();
    else void startSpare();
  }, starting ? SPARE_WAITS_MS : SPARE_AFTER_READY_MS).unref();
}

async function startSpare(): Promise<void> {
  if (!SPARES || spare !== null || spareStarting) return;
  spareStarting = true;
  try {
    const { index: runtime, kernel } = await runtimeBundle();
    if (spare !== null) return;
    // The kernel alone: an actor of the actors layer loads that over it (host.ts runSpare).
    const argv = [kernel, SPARE_ARG];
    const child = spawnProcess(SETPRIV ?? process.execPath, SETPRIV === null ? argv : ['--pdeathsig', 'KILL', '--', process.execPath, ...argv], {
      stdio: ['pipe', 'inherit', 'inherit', 'pipe'],
      windowsHide: true,
      detached: true,
    });
    // A spare that dies waiting (or that is killed as it is taken) is simply not there.
    child.on('error', () => {});
    child.stdin!.on('error', () => {});
    child.on('exit', () => {
      if (spare?.child === child) spare = null;
    });
    // Waiting, it keeps nothing alive; taken, it is ref'd again.
    child.unref();
    (child.stdin as Duplex & { unref(): void }).unref();
    (child.stdio[3] as Duplex & { unref(): void }).unref();
    spare = { child, runtime, env: environment(), cwd: process.cwd(), ids: ids() };
    spareHosts.started++;
  } catch {
    // No spare: spawns start cold, as they always can.
  } finally {
    spareStarting = false;
  }
}

/** The actor processes this process started and that have not ended, in start order. */
export function children(): ActorProcess[] {
  return [...live];
}

/**
 * Ends this process's children as Python's exit does (its `_exit_function`):
 * daemons are terminated, the others waited for.
 */
export async function endChildrenAtExit(): Promise<void> {
  // SIGTERM, as Python terminates daemonic children at exit; one that outlives its `shutdown` time
  // (it ignores the signal, or is stuck) is killed then, as OTP does, rather than hold the exit for ever.
  const kills: ReturnType<typeof setTimeout>[] = [];
  for (const child of children()) {
    if (!child.daemon || !child.isAlive()) continue;
    child.signal('SIGTERM');
    const ms = child.killAfterMs;
    if (ms !== null) kills.push(setTimeout(() => child.signal('SIGKILL'), ms));
  }
  try {
    await joinChildren(() => true);
  } finally {
    for (const kill of kills) clearTimeout(kill);
  }
}

/** Waits for the children `which` picks to end. */
export async function joinChildren(which: (child: ActorProcess) => boolean): Promise<void> {
  await Promise.all(children().filter(which).map((child) => child.join({})));
}
exitHooks.beforeExit = endChildrenAtExit;

interface InFlight {
  readonly from: string;
  readonly callId: number;
  readonly to: string;
}

/**
 * The calls forwarded into a child and not answered yet, failed if it dies.
 * Keyed by call number (a caller's own counter, so two callers may share
 * one): a number key spares a string built and hashed per call.
 */
class CallsInFlight {
  readonly #byId = new Map<number, InFlight | InFlight[]>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(from: string, callId: number, to: string): void {
    const call: InFlight = { from, callId, to };
    const there = this.#byId.get(callId);
    if (there === undefined) this.#byId.set(callId, call);
    else if (Array.isArray(there)) there.push(call);
    else this.#byId.set(callId, [there, call]);
    this.#size++;
  }

  delete(from: string, callId: number): void {
    const there = this.#byId.get(callId);
    if (there === undefined) return;
    if (!Array.isArray(there)) {
      if (there.from !== from) return;
      this.#byId.delete(callId);
    } else {
      const at = there.findIndex((c) => c.from === from);
      if (at === -1) return;
      there.splice(at, 1);
      if (there.length === 1) this.#byId.set(callId, there[0]!);
    }
    this.#size--;
  }

  *all(): IterableIterator<InFlight> {
    for (const there of this.#byId.values()) {
      if (Array.isArray(there)) yield* there;
      else yield there;
    }
  }

  clear(): void {
    this.#byId.clear();
    this.#size = 0;
  }
}

/** A watch's key: who watches (monitor number, or the link) which actor. */
function watchKey(watcher: string, monitor: number, link: boolean, actor: string): string {
  return `${watcher}#${link ? 'link' : monitor}@${actor}`;
}
