/**
 * The node: troupe's runtime inside one OS process. It hosts the process's
 * own actor (the user's main program in the root; the hosted behaviour in an
 * actor process), routes messages by ID prefix between its parent link and
 * its children, keeps the table of pending calls, and emits events.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'eventemitter3';
import { FLAG_HANDLES, decode, detached, encode, errorFromWire, errorToWire, type Encoded } from './codec.ts';
import { Context, type ContextHost } from './context.ts';
import { AbortError, ActorExitedError, InvalidArgumentError, LinkedExitError, MailboxFullError, NEVER_TAKEN, NoSuchActorError, RemoteError, TimeoutError, TroupeError } from './errors.ts';
import { MAIN_LOCAL_ID, actorId, childNodeId, localOf, mintRootNodeId, nodeOf, routeFrom, type NodeId } from './ids.ts';
import { FLAG_ADMIT, FLAG_NOTICE, FRAME_CALL, FRAME_CANCEL, FRAME_DEMONITOR, FRAME_EXIT, FRAME_MONITOR, FRAME_REPLY, FRAME_REPLY_ERROR, FRAME_SEND, type Link, type LinkHandler, type SystemMessage } from './link.ts';
import { describeReason, exitReason, isAbnormal, type Down, type ExitReason, type ExitSignal } from './exit-reason.ts';
import { KIND_CALL, Letter, Mailbox, type MailboxOptions, type TakenCall } from './mailbox.ts';
import { ActorRef, installRefKernel, type RefKernel } from './ref.ts';
import { isForever } from './timers.ts';
import { REGISTRY_LOCAL_ID, Registry } from './registry.ts';
import type { ChildRef } from './process/child-ref.ts';
import type { Service, ServiceCall, ServiceHandler } from './service.ts';

/** Why a message could not be delivered. */
export type DeadLetterReason = 'exited' | 'noproc' | 'mailbox-full' | 'stopping';

/** A message that could not be delivered (the `deadLetter` event). */
export interface DeadLetter {
  readonly to: string;
  readonly from: string;
  readonly reason: DeadLetterReason;
  /** The message, decoded; undefined if it did not decode here. */
  readonly message: unknown;
}

/** A child of this process ended (the `exit` event). */
export interface ExitEvent {
  readonly ref: ChildRef;
  readonly exitCode: number;
  /** The uncaught error that ended the actor, rebuilt with its remote stack. */
  readonly error: Error | undefined;
  /** Why it ended, as monitors are told. */
  readonly reason: ExitReason;
}

/** A supervisor in this process restarted a child. */
export interface RestartEvent {
  readonly supervisor: ActorRef;
  readonly child: string;
  /** 1 for the first restart of a run of failures (see the supervisor's backoff). */
  readonly attempt: number;
  readonly reason: ExitReason;
}

/** The events of `node()`: a child spawned, a child ended, a supervisor's restart, a message that could not be delivered. */
export interface NodeEvents {
  spawn: (ref: ChildRef) => void;
  exit: (event: ExitEvent) => void;
  restart: (event: RestartEvent) => void;
  deadLetter: (letter: DeadLetter) => void;
  error: (error: Error) => void;
}

/** Data of an error reply: who failed and how. */
interface ReplyFailure {
  readonly type: 'remote' | 'exited' | 'noproc' | 'mailbox-full';
  readonly actorId: string;
  readonly error?: ReturnType<typeof errorToWire>;
  readonly exitCode?: number | null;
  /** Why an actor that ended first ended (`describeReason`), when known. */
  readonly reason?: string;
  /** The actor ended without taking the call from its mailbox: it never ran (see Node.taken). */
  readonly untaken?: boolean;
}

interface PendingCall {
  readonly to: ActorRef;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout | undefined;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
}

const EMPTY = new Uint8Array(0);
/** `null`, encoded: the answer to an admitted send. */
const NULL_REPLY = encode(null, 'reply').payload;

/** Told of every message that could not be delivered (see setLostLetterHook). */
let lostLetterHook: ((message: unknown) => void) | null = null;

/**
 * @internal Lets the actors layer see what a message that could not be
 * delivered held (a send to an actor gone, a call to a service gone): a copy
 * of a pipe end in flight in it has landed nowhere (see pipe.ts).
 */
export function setLostLetterHook(hook: (message: unknown) => void): void {
  lostLetterHook = hook;
}

/** A message that did not reach `to`, decoded for its event and hook: held in trust, as a service's are (a pipe end in it does not become this process's). */
function decodeLost(payload: Uint8Array, attachments: readonly Buffer[], flags: number, to: string): unknown {
  try {
    return decode(payload, attachments, flags, false, to);
  } catch {
    return undefined;
  }
}
const LOCAL = Symbol('local');
const EXITED = Symbol('exited');
/** How many ended children a node remembers the end of (see #endedChildren). */
const ENDED_KEPT = 1024;
const NOWHERE = Symbol('nowhere');
/** Where a message for an ID goes next. */
type Hop = typeof LOCAL | typeof EXITED | typeof NOWHERE | { forward: ChildLink['forward'] };

/** How a node reaches a child node: an actor process, seen from its parent. */
export interface ChildLink {
  readonly nodeId: NodeId;
  /** The lifecycle handle `spawn` returned for the child. */
  readonly ref: ChildRef;
  /** Delivers a frame to the child (queued until the process is up). */
  forward(kind: number, to: string, from: string, callId: number, flags: number, payload: Uint8Array, attachments: readonly Buffer[]): void;
  /**
   * The child's pid and its descendants', for ending a tree; deepest first.
   * A negative entry -g is the process group g of a program an actor runs
   * (led by pid g): see `Node.ownGroup`.
   */
  pids(): readonly number[];
  /** Tells `watcher` (monitor number `monitor`, or a link) when the child's actor ends. */
  watch(watcher: string, monitor: number, link: boolean): void;
  unwatch(watcher: string, monitor: number, link: boolean): void;
  /** Why the child's actor ended (Erlang's exit reason); `noproc` while it has not. */
  reason(): ExitReason;
  /**
   * A watch of `actor`, below the child, is on its way into the child's
   * process (or taken back): should the process die before it reports the
   * watch, the watcher is told all the same.
   */
  watchBelow(watcher: string, monitor: number, link: boolean, actor: ActorRef, watching: boolean): void;
  /** The watchers of the child's actor and of every actor below it. */
  subtreeWatchers(): WatchEntry[];
}

/** Someone watching an actor: told when it ends. */
export interface WatchEntry {
  readonly watcher: string;
  readonly monitor: number;
  readonly link: boolean;
  readonly actor: ActorRef;
}

/** Replies settled in one turn of the event loop before the next waits for a turn: I/O is not starved by a loop of local calls. */
const REPLIES_PER_TURN = 1000;

/**
 * The runtime of one process (`node()`): its actors, its children, its links
 * to parent and children, and its events (`spawn`, `exit`, `restart`,
 * `deadLetter`). The main program's node is made on first use, or by
 * `startNode(options)`.
 */
export class Node extends EventEmitter<NodeEvents> implements RefKernel, ContextHost, LinkHandler {
  readonly id: NodeId;
  /** The actor this process runs: the main program in the root. */
  readonly self: ActorRef;
  readonly mailbox: Mailbox;
  readonly context: Context;
  readonly stopController = new AbortController();
  /**
   * @internal This node is stopping the actors below it (a signal to the
   * program, a stop of this actor): what replaces its workers (a pool) starts
   * no more.
   */
  stopping = false;
  /** `1`, `2:1`…: the spawn path, used to name actors like Python names processes. */
  readonly identity: string;
  #parent: Link | null = null;
  #onParentSystem: ((message: SystemMessage) => void) | null = null;
  #onParentClose: ((error: Error | undefined) => void) | null = null;
  readonly #children = new Map<NodeId, ChildLink>();
  readonly #hops = new Map<string, Hop>();
  #childCount = 0;
  readonly #calls = new Map<number, PendingCall>();
  #nextCall = 1;
  #pidsReported = false;
  #watchersReported = false;
  /** Told, once per turn, the pids below this node (the orphan watch keeps them). */
  onPids: ((pids: number[]) => void) | null = null;
  /** Process groups of programs run in this process (see ownGroup). */
  readonly #groups = new Set<number>();
  /** An actor linked to this node's actor ended abnormally, and exits are not trapped: this actor must end. */
  onLinkedExit: ((error: LinkedExitError) => void) | null = null;
  /** How this process ends on `ctx.exit()`; an actor process's host sets it to flush its pipe first. */
  onExitRequest: ((code: number | NodeJS.Signals) => Promise<never>) | null = null;
  /** Whether a linked actor's end comes as an `exit` message instead of ending this actor. */
  trapExits = false;
  /** This process's actor acknowledges the calls it takes (its definition's `acksCalls`): see taken(). */
  acksCalls = false;
  /** The calls acknowledged last: those of `#ackedFrom` up to `#ackedUpTo`. */
  #ackedFrom = '';
  #ackedUpTo = 0;
  #nextMonitor = 1;
  /**
   * Actors this node's actor unlinked, until the node that watched them for
   * it says the link is gone there (see sendUnlinked), or it links them
   * again: an exit signal of theirs on its way meanwhile is ignored, as OTP's
   * unlink/1 promises.
   */
  readonly #unlinked = new Set<string>();
  /** Replies settled since the event loop last had a turn, about (see REPLIES_PER_TURN). */
  #repliesThisTurn = 0;
  /** This actor's monitors that have not fired nor been taken back: a down for another is dropped as it comes (OTP's demonitor/1). */
  readonly #monitors = new Set<number>();
  /** Watchers of this node's own actor, kept only by a root (an actor process's are kept by its parent). */
  readonly #ownWatchers = new Map<string, { watcher: string; monitor: number; link: boolean }>();
  /** The root program ended (it waits for its children now): why, for watches that come later. */
  #rootEnded: ExitReason | null = null;
  readonly #services = new Map<number, ServiceHandler>();
  /** How the last ENDED_KEPT children ended: a call sent to one of them later is told why. */
  readonly #endedChildren = new Map<NodeId, { exitCode: number | null; reason: ExitReason }>();
  /** How this node's actor ended, once its mailbox closed for that (or, in the root, it failed): calls coming later are told. */
  #closedWith: { exitCode: number; reason: ExitReason } | null = null;
  /** The root failed: calls to it are refused, its sends and exit messages still taken (see refuseCalls). */
  #refusingCalls = false;
  /**
   * Calls this node's actor took and has not answered: failed if it ends while its process waits on
   * (see failTakenCalls). Their records, not their letters: a call never answered keeps a few bytes
   * here (as its caller's pending call does there), not its message.
   */
  readonly #taken = new Set<TakenCall>();
  #nextLocal = REGISTRY_LOCAL_ID + 1;
  /** The tree's name registry, on the root only (see registry.ts). */
  #registry: ServiceHandler | null = null;

  constructor(options: { id?: NodeId; name?: string; identity?: string; parent?: ActorRef | null; mailbox?: MailboxOptions } = {}) {
    super();
    this.id = options.id ?? mintRootNodeId();
    this.identity = options.identity ?? '';
    const selfId = actorId(this.id, MAIN_LOCAL_ID);
    this.self = new ActorRef(selfId, options.name ?? 'main', options.mailbox?.overflow === 'block');
    this.mailbox = new Mailbox(selfId, options.mailbox);
    this.context = new Context(this.self, options.parent ?? null, this.mailbox, this, this.stopController.signal);
  }

  /** True for a root node (the user's program), false in an actor process. */
  get parentless(): boolean {
    return this.#parent === null;
  }

  /** Stops every actor this node started, newest first, each as its `shutdown` says. `await using node = startNode()` calls it. */
  async [Symbol.asyncDispose](): Promise<void> {
    const { stopTree } = await import('./embed.ts');
    await stopTree();
  }

  /** Connects this node to its parent (in an actor process). */
  attachParent(link: Link, onSystem: (message: SystemMessage) => void, onClose: (error: Error | undefined) => void): void {
    this.#parent = link;
    this.#hops.clear();
    this.#onParentSystem = onSystem;
    this.#onParentClose = onClose;
  }

  /**
   * Starts a service: an actor without a process of its own, served by this
   * node, whose sends and calls go to `handler` (see service.ts). Queues,
   * pipes and locks are services. `close()` frees it; later sends are dead
   * letters and calls fail with `NoSuchActorError`.
   */
  service(name: string, handler: ServiceHandler): Service {
    const local = this.#nextLocal++;
    const id = actorId(this.id, local);
    this.#services.set(local, handler);
    return {
      ref: new ActorRef(id, name),
      monitor: (target) => {
        const monitor = this.#nextMonitor++;
        this.#watchFrame(FRAME_MONITOR, target, id, monitor, false);
        return monitor;
      },
      demonitor: (target, monitor) => this.#watchFrame(FRAME_DEMONITOR, target, id, monitor, false),
      close: () => void this.#services.delete(local),
    };
  }

  /**
   * A ref that other actors can send to, whose messages go to `handler` in
   * this process instead of a mailbox (a command's output goes to its owner
   * this way). `close()` frees it; later messages are dead letters.
   */
  receiver(name: string, handler: (message: unknown, from: string) => void): { ref: ActorRef; close(): void } {
    return this.service(name, (message, from, call) => {
      if (call === undefined) handler(message, from);
      else call.fail(new InvalidArgumentError(`${name} takes sends only; it cannot answer a call.`));
    });
  }

  /** How many services this node serves now (queues, pipes, locks… made here and not yet closed). */
  get openServices(): number {
    return this.#services.size;
  }

  /** Emits a restart event here and on every node above, so the root hears of restarts anywhere in its tree. */
  emitRestart(event: RestartEvent): void {
    this.emit('restart', event);
    this.#parent?.sendSystem({ t: 'restart', event });
  }

  /** The ID the actor of the next child spawned here will have (`nextChild()` then gives its node). */
  nextChildActorId(): string {
    return actorId(childNodeId(this.id, this.#childCount + 1), MAIN_LOCAL_ID);
  }

  /** Reserves the next child node ID (`<this>.<n>`) and the identity for its name. */
  nextChild(): { nodeId: NodeId; identity: string } {
    const n = ++this.#childCount;
    return { nodeId: childNodeId(this.id, n), identity: this.identity === '' ? String(n) : `${this.identity}:${n}` };
  }

  addChild(child: ChildLink): void {
    this.#children.set(child.nodeId, child);
    this.#hops.clear();
  }

  /** The children of this process that have not ended, in the order they were spawned (see `activeChildren`). */
  activeChildren(): ChildRef[] {
    // A child leaves the map as it ends.
    return [...this.#children.values()].map((child) => child.ref);
  }

  removeChild(nodeId: NodeId): void {
    const child = this.#children.get(nodeId);
    if (child !== undefined) {
      this.#endedChildren.set(nodeId, { exitCode: child.ref.exitCode, reason: child.reason() });
      if (this.#endedChildren.size > ENDED_KEPT) this.#endedChildren.delete(this.#endedChildren.keys().next().value!);
    }
    this.#children.delete(nodeId);
    this.#hops.clear();
    this.reportPids();
    this.reportWatchers();
  }

  /**
   * Tells the parent, once per turn, every watcher of every actor below this
   * node. Should this node's process die, its parent tells them that those
   * actors are gone: a process cannot report its own death, nor its children's.
   */
  reportWatchers(): void {
    if (this.#parent === null || this.#watchersReported) return;
    this.#watchersReported = true;
    queueMicrotask(() => {
      this.#watchersReported = false;
      const list: WatchEntry[] = [];
      for (const child of this.#children.values()) list.push(...child.subtreeWatchers());
      this.#parent?.sendSystem({ t: 'watchers', list });
    });
  }

  /** Every pid below this node: children and their descendants, and (negated) the groups of programs run here. */
  descendantPids(): number[] {
    const out: number[] = [];
    for (const child of this.#children.values()) out.push(...child.pids());
    for (const pgid of this.#groups) out.push(-pgid);
    return out;
  }

  /**
   * Counts process group `pgid`, a program this process runs (led by pid
   * `pgid`), among what lies below this node: a parent that kills this
   * process (`kill()`, a stop's deadline) kills the group too, right after
   * it (see ActorProcess#killGroups), which this process could not do once
   * SIGKILLed. Returns the call that forgets it,
   * for when the leader has been reaped.
   * @internal
   */
  ownGroup(pgid: number): () => void {
    this.#groups.add(pgid);
    this.reportPids();
    return () => {
      if (this.#groups.delete(pgid)) this.reportPids();
    };
  }

  /** Tells the parent, once per turn, which pids live below this node. */
  reportPids(): void {
    if (this.#parent === null || this.#pidsReported) return;
    this.#pidsReported = true;
    queueMicrotask(() => {
      this.#pidsReported = false;
      const pids = this.descendantPids();
      this.onPids?.(pids);
      this.#parent?.sendSystem({ t: 'pids', pids });
    });
  }

  // ---- sending ---------------------------------------------------------

  send(to: ActorRef, message: unknown): void {
    const encoded = encode(message, 'message', to.id);
    this.#route(FRAME_SEND, to.id, this.self.id, 0, encoded.flags, encoded.payload, encoded.attachments);
  }

  /**
   * A send to a `'block'` mailbox: travels as a call flagged FLAG_ADMIT, which
   * the target's node answers once the message is in the mailbox. Resolves
   * then, or when the target turns out to be gone (the message is then a dead
   * letter, as any send to a gone actor).
   */
  sendAdmitted(to: ActorRef, message: unknown): Promise<void> {
    const encoded = encode(message, 'message', to.id);
    const callId = this.#nextCallId();
    return new Promise<void>((resolve) => {
      const done = (): void => resolve();
      this.#calls.set(callId, { to, resolve: done, reject: done, timer: undefined, signal: undefined, onAbort: undefined });
      this.#route(FRAME_CALL, to.id, this.self.id, callId, encoded.flags | FLAG_ADMIT, encoded.payload, encoded.attachments);
    });
  }

  #nextCallId(): number {
    const callId = this.#nextCall++;
    if (this.#nextCall > 0xffffffff) this.#nextCall = 1;
    return callId;
  }

  call(to: ActorRef, message: unknown, timeoutMs: number, signal: AbortSignal | undefined): Promise<unknown> {
    let encoded: Encoded;
    try {
      encoded = encode(message, 'message', to.id);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.callEncoded(to, encoded, timeoutMs, signal);
  }

  /**
   * @internal A call whose message the caller encoded already (`encode(message, 'message')`):
   * what it checked is what goes, where a second encoding could differ (a getter read twice).
   */
  callEncoded(to: ActorRef, encoded: Encoded, timeoutMs: number, signal: AbortSignal | undefined): Promise<unknown> {
    if (signal?.aborted) return Promise.reject(new AbortError(`call() to actor ${to.name} (${to.id}) was aborted before it was sent.`, { cause: signal.reason }));
    const callId = this.#nextCallId();
    return new Promise((resolve, reject) => {
      const timer =
        isForever(timeoutMs)
          ? undefined
          : setTimeout(() => {
              this.#cancel(to, callId);
              this.#settle(callId)?.reject(
                new TimeoutError(`call() to actor ${to.name} (${to.id}) got no reply within ${timeoutMs} ms. Raise \`timeout\` if the work takes longer; a late reply is dropped.`, timeoutMs),
              );
            }, timeoutMs);
      const onAbort =
        signal &&
        ((): void => {
          this.#cancel(to, callId);
          this.#settle(callId)?.reject(new AbortError(`call() to actor ${to.name} (${to.id}) was aborted.`, { cause: signal.reason }));
        });
      signal?.addEventListener('abort', onAbort!, { once: true });
      this.#calls.set(callId, { to, resolve, reject, timer, signal, onAbort });
      this.#route(FRAME_CALL, to.id, this.self.id, callId, encoded.flags, encoded.payload, encoded.attachments);
    });
  }

  /** Tells the node that tracks call `callId` (the target's parent) that nobody waits for it any more. */
  #cancel(to: ActorRef, callId: number): void {
    this.#route(FRAME_CANCEL, to.id, this.self.id, callId, 0, EMPTY, []);
  }

  /** Answers a call taken from this node's mailbox. */
  reply(letter: Letter, value: unknown): void {
    this.answer(letter.from, letter.callId, this.self.id, value); // throws SerializationError before marking it replied
    letter.replied = true;
    if (letter.taken !== null) this.#taken.delete(letter.taken);
  }

  /**
   * This node's actor took `letter` from its mailbox. An actor that
   * acknowledges calls tells its parent, before its code sees the call, that
   * it took its caller's calls up to the last now in its mailbox: written to
   * the pipe now, or waited for when the pipe is full (the promise returned),
   * so that the kernel holds it whatever kills the process next. A call its
   * parent was not told of when the process died never ran: the caller's
   * `ActorExitedError` says so (see `neverTaken`), and a pool sends the task
   * to another worker. Null: go on at once.
   */
  taken(letter: Letter): Promise<void> | null {
    if (letter.isCall && letter.taken === null && !letter.replied) this.#taken.add((letter.taken = { from: letter.from, callId: letter.callId, deferred: false }));
    if (!this.acksCalls || !letter.isCall || this.#parent === null) return null;
    if (letter.from === this.#ackedFrom && letter.callId <= this.#ackedUpTo) return null;
    const upTo = Math.max(letter.callId, this.mailbox.lastCallFrom(letter.from));
    this.#ackedFrom = letter.from;
    this.#ackedUpTo = upTo;
    this.#parent.sendSystem({ t: 'took', from: letter.from, upTo });
    return this.#parent.flushNow() ? null : this.#parent.flushed();
  }

  /** Answers a call with the error its handler threw; the caller gets a `RemoteError`. */
  replyError(letter: Letter, error: unknown): void {
    letter.replied = true;
    if (letter.taken !== null) this.#taken.delete(letter.taken);
    this.answerError(letter.from, letter.callId, this.self.id, error);
  }

  /** Answers call `callId` of `caller` on behalf of actor `answerer` (this node's actor or one of its services). */
  answer(caller: string, callId: number, answerer: string, value: unknown): void {
    const encoded = encode(value, 'reply', caller);
    this.#route(FRAME_REPLY, caller, answerer, callId, encoded.flags, encoded.payload, encoded.attachments);
  }

  /** Fails call `callId` of `caller`: it rejects with a `RemoteError` whose cause is `error`. */
  answerError(caller: string, callId: number, answerer: string, error: unknown): void {
    this.#fail(caller, callId, { type: 'remote', actorId: answerer, error: errorToWire(error) });
  }

  #settle(callId: number): PendingCall | undefined {
    const pending = this.#calls.get(callId);
    if (pending === undefined) return undefined;
    this.#calls.delete(callId);
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort);
    return pending;
  }

  // ---- monitors and links -----------------------------------------------

  exit(code: number | NodeJS.Signals): Promise<never> {
    if (this.onExitRequest !== null) return this.onExitRequest(code);
    // The root: as Python's sys.exit(n), its non-daemon children first (see exitHooks).
    if (typeof code === 'number') {
      this.closeMailbox(code & 0xff); // as in an actor process (see ActorHost#exitWhenFlushed)
      this.rootEnded(code & 0xff);
      return exitHooks.beforeExit().then(() => process.exit(code));
    }
    return endBySignal(code);
  }

  /** @internal Resolves once what this process has sent up to its parent is written (at once in the root): a sender's backpressure. */
  parentWritten(): Promise<void> {
    return this.#parent?.flushed() ?? Promise.resolve();
  }

  /** Watches `target` for this node's actor; a `down` message comes when it ends. Returns the monitor's number. */
  monitor(target: ActorRef): number {
    const monitor = this.#nextMonitor++;
    this.#monitors.add(monitor);
    this.#watchFrame(FRAME_MONITOR, target, this.self.id, monitor, false);
    return monitor;
  }

  demonitor(target: ActorRef, monitor: number): void {
    this.#monitors.delete(monitor);
    this.#watchFrame(FRAME_DEMONITOR, target, this.self.id, monitor, false);
  }

  /** Links this node's actor and `target` both ways. */
  link(target: ActorRef): void {
    this.#unlinked.delete(target.id);
    this.#watchFrame(FRAME_MONITOR, target, this.self.id, 0, true);
    this.#watchFrame(FRAME_MONITOR, this.self, target.id, 0, true);
  }

  unlink(target: ActorRef): void {
    this.#unlinked.add(target.id);
    this.#watchFrame(FRAME_DEMONITOR, target, this.self.id, 0, true);
    this.#watchFrame(FRAME_DEMONITOR, this.self, target.id, 0, true);
  }

  /**
   * A monitor carries the target's name as the watcher knows it: a node that
   * answers `noproc` for an actor it no longer knows names it so, as OTP's
   * 'DOWN' names what monitor/2 was given.
   */
  #watchFrame(kind: number, target: ActorRef, watcher: string, monitor: number, link: boolean): void {
    const encoded = encode(kind === FRAME_MONITOR ? { link, name: target.name } : { link }, 'monitor');
    this.#route(kind, target.id, watcher, monitor, encoded.flags, encoded.payload, encoded.attachments);
  }

  /**
   * A monitor or demonitor on its way to the node that owns the target's
   * lifecycle: the target's parent for an actor process, since a process
   * cannot report its own death.
   */
  #onWatch(kind: number, to: string, from: string, monitor: number, flags: number, payload: Uint8Array, attachments: readonly Buffer[]): void {
    const { link, name } = decode(payload, attachments, flags) as { link: boolean; name?: string };
    // Known to this node by ID alone (ended and forgotten, below a process that died, or below a child
    // that has not reported its watches yet): named as the watcher named it.
    const gone = (): ActorRef => new ActorRef(to, typeof name === 'string' ? name : to);
    const target = nodeOf(to);
    if (to === this.self.id) {
      if (this.#parent !== null) {
        this.#parent.forward(kind, to, from, monitor, flags, payload, attachments);
      } else if (kind === FRAME_MONITOR) {
        // The root has ended, and only waits for its children: as for any actor that has ended, noproc.
        if (this.#rootEnded !== null) this.sendDown(from, monitor, this.self, 'noproc', link);
        else this.#ownWatchers.set(`${from}#${link ? 'link' : monitor}`, { watcher: from, monitor, link });
      } else {
        this.#ownWatchers.delete(`${from}#${link ? 'link' : monitor}`);
        if (link) this.sendUnlinked(from, this.self);
      }
      return;
    }
    const route = routeFrom(this.id, target);
    const child = route.kind === 'child' ? this.#children.get(route.child) : undefined;
    if (route.kind === 'child' && route.child === target && localOf(to) === MAIN_LOCAL_ID) {
      if (child === undefined) {
        if (kind === FRAME_MONITOR) this.sendDown(from, monitor, gone(), 'noproc', link);
        else if (link) this.sendUnlinked(from, gone());
      } else if (kind === FRAME_MONITOR) child.watch(from, monitor, link);
      else child.unwatch(from, monitor, link);
      return;
    }
    if (child !== undefined) {
      child.watchBelow(from, monitor, link, gone(), kind === FRAME_MONITOR);
      child.forward(kind, to, from, monitor, flags, payload, attachments);
    } else if (route.kind === 'up' && this.#parent !== null && !this.#parent.closed) this.#parent.forward(kind, to, from, monitor, flags, payload, attachments);
    else if (kind === FRAME_MONITOR) this.sendDown(from, monitor, gone(), 'noproc', link);
    else if (link) this.sendUnlinked(from, gone());
  }

  /** The tree's name registry, served by the root as a service at its well-known ID (made on first use). */
  #registryService(): ServiceHandler {
    if (this.#registry === null) {
      const id = actorId(this.id, REGISTRY_LOCAL_ID);
      const registry = new Registry((ref) => this.#watchFrame(FRAME_MONITOR, ref, id, this.#nextMonitor++, false));
      this.#registry = (message, _from, call) => {
        if (call === undefined) registry.onDown(message);
        else call.reply(registry.handle(message as Parameters<Registry['handle']>[0]));
      };
    }
    return this.#registry;
  }

  /**
   * The root program has ended (`exit(n)`, an uncaught error) and now waits
   * for its non-daemon children: the actors that monitor it or link to it are
   * told now, as an actor process's are when it waits for its children, so
   * that one linked to it ends (or hears of it) rather than wait for a
   * program that waits for it.
   */
  rootEnded(code: number, error?: unknown): void {
    if (this.#parent !== null || this.#rootEnded !== null) return;
    const reason = exitReason(code, error instanceof Error ? error : undefined, false);
    this.#rootEnded = reason;
    this.failTakenCalls(code, error);
    for (const { watcher, monitor, link } of this.#ownWatchers.values()) this.sendDown(watcher, monitor, this.self, reason, link);
    this.#ownWatchers.clear();
  }

  /** Tells `watcher` that `actor` ended: a `down` message, or an exit signal for a link. */
  sendDown(watcher: string, monitor: number, actor: ActorRef, reason: ExitReason, link: boolean): void {
    if (link) {
      const encoded = encode({ type: 'exit', actor, reason } satisfies ExitSignal, 'exit signal');
      this.#route(FRAME_EXIT, watcher, actor.id, 0, encoded.flags, encoded.payload, encoded.attachments);
    } else {
      const encoded = encode({ type: 'down', monitor, actor, reason } satisfies Down, 'down message');
      // The monitor's number rides in the call ID: nodes on the way forget the watch as it passes (see watchBelow).
      this.#route(FRAME_SEND, watcher, actor.id, monitor, encoded.flags | FLAG_NOTICE, encoded.payload, encoded.attachments);
    }
  }

  /**
   * Tells `watcher` that its link to `actor` is undone at the node that
   * watched `actor` for it: an exit signal of that link sent before this one
   * came ahead of it, on the same way, and none comes after.
   */
  sendUnlinked(watcher: string, actor: ActorRef): void {
    const encoded = encode({ type: 'unlinked', actor: { id: actor.id, name: actor.name } }, 'unlink');
    this.#route(FRAME_EXIT, watcher, actor.id, 0, encoded.flags, encoded.payload, encoded.attachments);
  }

  /** A linked actor ended: a message if exits are trapped; otherwise this actor ends too, unless it returned normally. */
  #onExitSignal(flags: number, payload: Uint8Array, attachments: readonly Buffer[]): void {
    const signal = decode(payload, attachments, flags) as ExitSignal | { type: 'unlinked'; actor: ExitSignal['actor'] };
    if (signal.type === 'unlinked') {
      this.#unlinked.delete(signal.actor.id);
      return;
    }
    if (this.#unlinked.has(signal.actor.id)) return;
    if (this.trapExits) {
      const encoded = encode(signal, 'exit signal');
      this.#deliver(FRAME_SEND, this.self.id, signal.actor.id, 0, encoded.flags | FLAG_NOTICE, encoded.payload, encoded.attachments, true);
      return;
    }
    // The root has ended (it only waits for its children): as to any process that has ended, an exit
    // signal ends nothing now (a child its end took down, linked back to it, says so as it goes). One
    // that traps exits still gets the message above: its loops may run on after an uncaught error.
    if (this.#rootEnded !== null) return;
    if (!isAbnormal(signal.reason)) return;
    const error = new LinkedExitError(
      `Actor ${this.self.name} ended because actor ${signal.actor.name} (${signal.actor.id}), linked to it, ended: ${describeReason(signal.reason)}. Set ctx.trapExits = true to get an exit message instead.`,
      signal.actor.id,
      signal.reason,
    );
    if (this.onLinkedExit !== null) this.onLinkedExit(error);
    else
      queueMicrotask(() => {
        // The root's main program is linked like any actor: it ends as an uncaught error would end it.
        throw error;
      });
  }

  // ---- routing ---------------------------------------------------------

  /** A frame from a link: the parent's, or a child's (`via`). */
  onMessage(_link: Link, kind: number, to: string, from: string, callId: number, flags: number, payload: Uint8Array, attachments: readonly Buffer[]): void {
    this.#route(kind, to, from, callId, flags, payload, attachments);
  }

  onSystem(_link: Link, message: SystemMessage): void {
    this.#onParentSystem?.(message);
  }

  onClose(_link: Link, error: Error | undefined): void {
    this.#onParentClose?.(error);
  }

  /** Routes a frame that arrived from a child link. */
  routeFromChild(kind: number, to: string, from: string, callId: number, flags: number, payload: Uint8Array, attachments: readonly Buffer[]): void {
    this.#route(kind, to, from, callId, flags, payload, attachments);
  }

  #route(kind: number, to: string, from: string, callId: number, flags: number, payload: Uint8Array, attachments: readonly Buffer[]): void {
    if (kind === FRAME_MONITOR || kind === FRAME_DEMONITOR) {
      this.#onWatch(kind, to, from, callId, flags, payload, attachments);
      return;
    }
    if (to === this.self.id) {
      this.#deliver(kind, to, from, callId, flags, payload, attachments, true);
      return;
    }
    // The next hop of an ID is cached: parsing IDs on every message costs more than the rest of routing.
    let hop = this.#hops.get(to);
    if (hop === undefined) {
      const route = routeFrom(this.id, nodeOf(to));
      if (route.kind === 'local') hop = LOCAL;
      else if (route.kind === 'up') hop = this.#parent !== null ? this.#parent : NOWHERE;
      else hop = this.#children.get(route.child) ?? (route.n <= this.#childCount ? EXITED : NOWHERE);
      if (this.#hops.size > 10_000) this.#hops.clear();
      this.#hops.set(to, hop);
    }
    if (hop === LOCAL) this.#deliver(kind, to, from, callId, flags, payload, attachments);
    else if (hop === EXITED) this.#undeliverable(kind, to, from, callId, flags, payload, attachments, 'exited');
    else if (hop === NOWHERE || (hop === this.#parent && this.#parent.closed)) this.#undeliverable(kind, to, from, callId, flags, payload, attachments, 'noproc');
    else hop.forward(kind, to, from, callId, flags, payload, attachments);
  }

  #deliver(kind: number, to: string, from: string, callId: number, flags: number, payload: Uint8Array, attachments: readonly Buffer[], isMain = false): void {
    if (kind === FRAME_EXIT) {
      this.#onExitSignal(flags, payload, attachments);
      return;
    }
    if (kind === FRAME_CANCEL) return;
    if (kind === FRAME_REPLY || kind === FRAME_REPLY_ERROR) {
      const pending = this.#settle(callId);
      if (pending === undefined) {
        // Late (timed out or aborted already): dropped, what it held with it. Its handles are decoded
        // whether or not the hook is set yet: a pipe end loads the actors layer, which sets it, and disowns itself.
        if (flags & FLAG_HANDLES) {
          const lost = decodeLost(payload, attachments, flags, to);
          lostLetterHook?.(lost);
        }
        return;
      }
      let value: unknown;
      try {
        value = decode(payload, attachments, flags);
      } catch (err) {
        pending.reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      const settle =
        kind === FRAME_REPLY
          ? () => pending.resolve(value)
          : () => {
              // Whatever rebuilding the failure throws fails this call: it must never go up into the link.
              let error: unknown;
              try {
                error = callError(pending.to, value as ReplyFailure);
              } catch (err) {
                error = err;
              }
              pending.reject(error instanceof Error ? error : new Error(String(error)));
            };
      // A call to a service of this process is answered within the call: a loop of awaited local calls
      // (polling whereis() in the root) would never let the event loop run, nor hear that a child ended.
      // Past REPLIES_PER_TURN replies since it last did, the next one waits for it.
      // (Counted from the last reset: a reset is scheduled once a hundred came, not every turn.)
      if (++this.#repliesThisTurn === 100) setImmediate(() => (this.#repliesThisTurn = 0));
      if (this.#repliesThisTurn > REPLIES_PER_TURN) setImmediate(settle);
      else settle();
      return;
    }
    // Sent from this process: what the receiver keeps must not be memory its sender may change again.
    // (An answer is not copied: a service of this process hands over what it answers with, as a
    // queue's get hands over the copy it took at the put.)
    if (attachments.length > 0) attachments = detached(attachments);
    if (!isMain && localOf(to) !== MAIN_LOCAL_ID) {
      const local = localOf(to);
      const service = local === REGISTRY_LOCAL_ID && this.#parent === null ? this.#registryService() : this.#services.get(local);
      if (service !== undefined && (kind === FRAME_SEND || kind === FRAME_CALL)) this.#serve(service, kind, to, from, callId, flags, payload, attachments);
      else this.#undeliverable(kind, to, from, callId, flags, payload, attachments, 'noproc');
      return;
    }
    if (kind === FRAME_CALL && flags & FLAG_ADMIT) {
      this.#admit(to, from, callId, flags & ~FLAG_ADMIT, payload, attachments);
      return;
    }
    if (flags & FLAG_NOTICE) {
      // A down's callId is its monitor's number (exit messages have none): one taken back is dropped.
      if (callId !== 0 && !this.#monitors.delete(callId)) return;
      // A down or exit message: never refused for room, nor lost (OTP's are signals, not messages).
      this.mailbox.putNotice(new Letter(kind, from, 0, flags & ~FLAG_NOTICE, payload, attachments));
      return;
    }
    if (kind === FRAME_CALL && this.#refusingCalls) {
      this.#undeliverable(kind, to, from, callId, flags, payload, attachments, 'stopping');
      return;
    }
    const letter = new Letter(kind, from, callId, flags, payload, attachments);
    let accepted: boolean;
    try {
      accepted = this.mailbox.put(letter);
    } catch (err) {
      if (!(err instanceof MailboxFullError)) throw err;
      this.#undeliverable(kind, to, from, callId, flags, payload, attachments, 'mailbox-full');
      return;
    }
    if (!accepted) this.#undeliverable(kind, to, from, callId, flags, payload, attachments, this.mailbox.closed ? 'stopping' : 'mailbox-full');
  }

  /** Hands a send or call to a service. What it throws goes back to the caller, or becomes an `error` event: never into the transport. */
  #serve(service: ServiceHandler, kind: number, to: string, from: string, callId: number, flags: number, payload: Uint8Array, attachments: readonly Buffer[]): void {
    const call = kind === FRAME_CALL ? new ServiceAnswer(this, to, from, callId) : undefined;
    try {
      service(decode(payload, attachments, flags, true), from, call);
    } catch (err) {
      if (call !== undefined && !call.answered) call.fail(err);
      else this.emit('error', err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** A send to this node's `'block'` mailbox: answered once it is in, which is when its sender's `send()` resolves. */
  #admit(to: string, from: string, callId: number, flags: number, payload: Uint8Array, attachments: readonly Buffer[]): void {
    const admitted = (): void => this.#route(FRAME_REPLY, from, to, callId, 0, NULL_REPLY, []);
    let accepted: boolean;
    try {
      accepted = this.mailbox.put(new Letter(FRAME_SEND, from, 0, flags, payload, attachments), admitted);
    } catch (err) {
      if (!(err instanceof MailboxFullError)) throw err;
      accepted = false;
    }
    if (accepted) return;
    this.#undeliverable(FRAME_SEND, to, from, 0, flags, payload, attachments, this.mailbox.closed ? 'stopping' : 'mailbox-full');
    admitted();
  }

  #undeliverable(kind: number, to: string, from: string, callId: number, flags: number, payload: Uint8Array, attachments: readonly Buffer[], reason: DeadLetterReason): void {
    if (kind === FRAME_CALL && flags & FLAG_ADMIT) {
      // A send that waited for room: a dead letter like any send, and its sender is released.
      this.#undeliverable(FRAME_SEND, to, from, 0, flags & ~FLAG_ADMIT, payload, attachments, reason);
      this.#fail(from, callId, { type: 'exited', actorId: to });
    } else if (kind === FRAME_CALL) {
      if (flags & FLAG_HANDLES) {
        const lost = decodeLost(payload, attachments, flags, to);
        lostLetterHook?.(lost);
      }
      // Sent to an actor already gone: it never took the call (see taken()). Told why it ended, when known.
      const ended = reason === 'exited' ? this.#endOf(to) : reason === 'stopping' && to === this.self.id ? this.#closedWith : null;
      const why = ended === null ? {} : { exitCode: ended.exitCode, ...whyEnded(ended.reason) };
      this.#fail(from, callId, { type: reason === 'noproc' ? 'noproc' : reason === 'mailbox-full' ? 'mailbox-full' : 'exited', actorId: to, ...why, untaken: true });
    } else if (kind === FRAME_SEND) {
      const message = decodeLost(payload, attachments, flags, to);
      lostLetterHook?.(message);
      this.emit('deadLetter', { to, from, reason, message });
    }
    // Replies to a caller that is gone are dropped: nobody is waiting.
  }

  /** How the ended child that `to` lived in ended, if this node still remembers. */
  #endOf(to: string): { exitCode: number | null; reason: ExitReason } | null {
    // The child's own actor only: a grandchild, or a service of the child's process, ended its own way.
    if (localOf(to) !== MAIN_LOCAL_ID) return null;
    const route = routeFrom(this.id, nodeOf(to));
    return route.kind === 'child' && route.child === nodeOf(to) ? (this.#endedChildren.get(route.child) ?? null) : null;
  }

  /** A send that cannot be delivered becomes a dead letter event (for frames held back elsewhere, as for a child that never started). */
  deadLetter(kind: number, to: string, from: string, flags: number, payload: Uint8Array, attachments: readonly Buffer[], reason: DeadLetterReason): void {
    this.#undeliverable(kind, to, from, 0, flags, payload, attachments, reason);
  }

  /** Sends an error reply for call `callId` to `caller`. */
  #fail(caller: string, callId: number, failure: ReplyFailure): void {
    let encoded: Encoded;
    try {
      encoded = encode(failure, 'error reply');
    } catch (err) {
      // errorToWire makes an error that can be sent; what is left (a field whose errors refer back
      // to it through plain objects) still fails the call alone, not the process that answers it.
      const message = `the error could not be sent: ${(err as Error).message}`;
      encoded = encode({ ...failure, error: failure.error === undefined ? undefined : { name: 'SerializationError', r: 1, message, stack: failure.error.stack } }, 'error reply');
    }
    this.#route(FRAME_REPLY_ERROR, caller, failure.actorId, callId, encoded.flags, encoded.payload, encoded.attachments);
  }

  /**
   * Fails the calls that were forwarded into a child that has now ended, with
   * why it ended (the error it died of as the rejection's `cause`), as OTP's
   * caller exits with the server's reason.
   */
  failCalls(calls: Iterable<{ from: string; callId: number; to: string }>, exitCode: number | null, reason: ExitReason, untaken?: (call: { from: string; callId: number }) => boolean): void {
    const why = whyEnded(reason);
    for (const call of calls) this.#fail(call.from, call.callId, { type: 'exited', actorId: call.to, exitCode, ...why, ...(untaken?.(call) === true ? { untaken: true } : {}) });
  }

  /**
   * The actor has ended and its process waits for its children: the calls it
   * took and did not answer are answered with `ActorExitedError` (why it
   * ended), as OTP's callers are when the server ends. One of those children
   * may be the caller, waiting on a parent that waits on it. A call put off
   * with `ctx.deferReply()` is left to the work that holds it (its answer may
   * come after the down, see supervision.md).
   */
  failTakenCalls(code: number, error?: unknown): void {
    const why = whyEnded(exitReason(code, error instanceof Error ? error : undefined, false));
    for (const call of this.#taken) {
      if (call.deferred) continue;
      // Answered now: a reply its left work sends later is dropped, as any late reply is.
      this.#taken.delete(call);
      this.#fail(call.from, call.callId, { type: 'exited', actorId: this.self.id, exitCode: code, ...why });
    }
  }

  /**
   * The root program failed and now waits for its children: the calls queued
   * for it, and those that come later, are answered with `ActorExitedError`
   * (why it failed): a child calling it would wait on a program that waits on
   * it. Its mailbox stays open for sends and exit messages, which loops it
   * left running (a program that traps exits) still take, as Python's threads
   * run on after the main one failed.
   */
  refuseCalls(code: number, error?: unknown): void {
    if (this.#refusingCalls) return;
    this.#refusingCalls = true;
    const reason = exitReason(code, error instanceof Error ? error : undefined, false);
    this.#closedWith ??= { exitCode: code, reason };
    this.#failUntaken(this.mailbox.takeCalls(), code, reason);
  }

  /**
   * Ends the mailbox; calls still queued in it are answered with
   * `ActorExitedError`, saying why when the actor is ending by `code` and
   * `error` (as the calls its parent fails, see failCalls).
   */
  closeMailbox(code: number | null = null, error?: unknown): void {
    const reason = code === null ? null : exitReason(code, error instanceof Error ? error : undefined, false);
    if (code !== null) this.#closedWith ??= { exitCode: code, reason: reason! };
    this.#failUntaken(this.mailbox.close(), code, reason);
  }

  /** Answers the calls among `letters`, which this node's actor never took, with `ActorExitedError` (why it ended, when known). */
  #failUntaken(letters: readonly Letter[], code: number | null, reason: ExitReason | null): void {
    const why = reason === null ? {} : whyEnded(reason);
    for (const letter of letters) {
      if (letter.kind === KIND_CALL) this.#fail(letter.from, letter.callId, { type: 'exited', actorId: this.self.id, exitCode: code, ...why, untaken: true });
    }
  }
}

/** A call to a service, answered once (see ServiceCall). */
class ServiceAnswer implements ServiceCall {
  answered = false;
  readonly #node: Node;
  readonly #service: string;
  readonly from: string;
  readonly #callId: number;

  constructor(node: Node, service: string, from: string, callId: number) {
    this.#node = node;
    this.#service = service;
    this.from = from;
    this.#callId = callId;
  }

  reply(value: unknown): void {
    if (this.answered) return;
    this.answered = true;
    try {
      this.#node.answer(this.from, this.#callId, this.#service, value);
    } catch (err) {
      this.#node.answerError(this.from, this.#callId, this.#service, err);
    }
  }

  fail(error: unknown): void {
    if (this.answered) return;
    this.answered = true;
    this.#node.answerError(this.from, this.#callId, this.#service, error);
  }
}

/** What a failed call is told of an actor that ended: why, and the error it died of. */
function whyEnded(reason: ExitReason): { reason: string; error?: ReturnType<typeof errorToWire> } {
  return typeof reason === 'object' && 'error' in reason ? { reason: describeReason(reason), error: errorToWire(reason.error) } : { reason: describeReason(reason) };
}

function callError(to: ActorRef, failure: ReplyFailure): Error {
  const who = `actor ${to.name} (${to.id})`;
  switch (failure.type) {
    case 'remote': {
      const cause = failure.error ? errorFromWire(failure.error) : new Error('unknown error');
      return new RemoteError(`${who} failed to handle the call: ${cause.name}: ${cause.message}`, {
        actorId: to.id,
        remoteName: cause.name,
        remoteStack: cause.stack ?? '',
        cause,
      });
    }
    case 'exited': {
      const code = typeof failure.exitCode === 'number' ? `exit code ${failure.exitCode}` : '';
      const why = failure.reason !== undefined && failure.reason !== `exit code ${failure.exitCode}` ? failure.reason : '';
      const said = [code, why].filter((part) => part !== '').join(': ');
      const error = new ActorExitedError(
        `${who} ended before it ${failure.untaken === true ? 'took the call' : 'replied'}${said === '' ? '' : ` (${said})`}. Check ref.exitCode and ref.error, or restart it under a supervisor.`,
        to.id,
        failure.error === undefined ? undefined : { cause: errorFromWire(failure.error) },
      );
      if (failure.untaken === true) Object.defineProperty(error, NEVER_TAKEN, { value: true });
      return error;
    }
    case 'noproc':
      return new NoSuchActorError(`${who} does not exist: no actor with that ID was ever started where the ID says it lives.`, to.id);
    case 'mailbox-full':
      return new MailboxFullError(`The mailbox of ${who} is full; the call was refused. Raise \`mailbox.max\` or slow the callers down.`, to.id);
    default:
      return new TroupeError('ERR_PROTOCOL', `${who}: unknown failure reply`);
  }
}

// ---- the process's node ---------------------------------------------------

let current: Node | null = null;

/** Set while an actor process imports the module it hosts: spawning then is the `__main__` guard mistake. */
export const hosting: {
  loading: string | null;
  /** The definition this actor process runs; null in the root. */
  running: unknown;
  /** The definitions its ancestor actor processes run (`module#ordinal`), the parent's last. */
  lineage: readonly string[];
} = { loading: null, running: null, lineage: [] };

/** A definition's address, as a lineage names it. */
export function definitionKey(definition: unknown): string | null {
  const def = definition as { module?: unknown; ordinal?: unknown } | null;
  return typeof def?.module === 'string' && typeof def.ordinal === 'number' ? `${def.module}#${def.ordinal}` : null;
}

/**
 * What an actor process's module started as it loaded, and what that went
 * on to do (an `async main()` past its first `await`, a timer), carries the
 * module's name here: a spawn from it of the very actor the process runs,
 * or of one its ancestors run (`hosting.running`, `hosting.lineage`), is the
 * `__main__` guard mistake too, made later, and would repeat in every such
 * process (a bomb goes round a finite set of definitions). Other spawns from
 * it are allowed: a module-level emitter that a behaviour's listener spawns
 * from runs in the context of whatever feeds it, which may well have started
 * at import.
 *
 * Entered only in actor processes (the root never pays for it), and only
 * while a module loads, unless it started work that outlives its loading
 * (see `leftWork`): tracking async context costs every `await` of the
 * process (see docs/performance.md).
 */
export const importing = new AsyncLocalStorage<string | undefined>();

/**
 * The kinds of handle and request this process has, counted: what code
 * started between two counts. Not immediates: the runtime sets its own as it
 * writes, and one a module set as it loaded runs before the tracking stops
 * (see stopTrackingSoon), so a spawn from it is refused all the same.
 */
export function workCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) if (kind !== 'Immediate') counts.set(kind, (counts.get(kind) ?? 0) + 1);
  for (const [kind, n] of runtimeWork) counts.set(kind, (counts.get(kind) ?? 0) - n);
  return counts;
}

/** Handles the runtime itself opened at a time a module may be loading (the host's control socket): no module's work. */
const runtimeWork = new Map<string, number>();

/** Runs `open`, whose handles are the runtime's own: `workCounts` leaves them out. */
export function openAsRuntime<T>(open: () => T): T {
  const before = workCounts();
  const opened = open();
  for (const [kind, n] of workCounts()) {
    const more = n - (before.get(kind) ?? 0);
    if (more > 0) runtimeWork.set(kind, (runtimeWork.get(kind) ?? 0) + more);
  }
  return opened;
}

/** Whether `after` counts more of some kind than `before`: something started in between (a timer, a read, a socket). */
export function leftWork(before: Map<string, number>, after: Map<string, number>): boolean {
  for (const [kind, n] of after) if (n > (before.get(kind) ?? 0)) return true;
  return false;
}

/**
 * Stops tracking, once a module has loaded without starting work that
 * outlives its loading: nothing it started can spawn later, and the process's
 * awaits are not slowed for nothing. In a later turn, so that what the module
 * queued as it loaded (an `await` of a value already there) has run first.
 */
export function stopTrackingSoon(startedWork: boolean): void {
  // One module that left work keeps the tracking on for good (another one's load must not end it).
  if (startedWork) keepTracking = true;
  else setImmediate(() => keepTracking || importing.disable());
}
let keepTracking = false;

/** This process's node, created (as the root) on first use. */
export function currentNode(): Node {
  current ??= new Node();
  return current;
}

const endingHooks = new Set<() => void>();

/**
 * Registers `hook` to run, synchronously, as this actor process ends (its
 * behaviour returned or threw, `ctx.exit`, `process.exit`): what it must
 * still send goes with the process's last writes. A queue client sends the
 * acks it holds for the end of the turn, so that an item its consumer took
 * just before returning counts as taken.
 */
export function onProcessEnding(hook: () => void): void {
  endingHooks.add(hook);
}

/** Runs the hooks of onProcessEnding; one that throws does not stop the others. */
export function runEndingHooks(): void {
  for (const hook of endingHooks) {
    try {
      hook();
    } catch {
      // Only sends: a process that cannot send any more has nobody to tell.
    }
  }
}

/** What the root does before `ctx.exit(n)` ends it: child.ts sets it to end its children as Python does. */
export const exitHooks: { beforeExit: () => Promise<void> } = { beforeExit: () => Promise.resolve() };

/** Ends this process by `signal`, as if sent from outside: its handlers (ours, the program's) are removed first. */
export function endBySignal(signal: NodeJS.Signals): Promise<never> {
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
  return new Promise<never>(() => {});
}

/** Installs the node of an actor process, before any user code runs. */
export function installNode(node: Node): void {
  current = node;
}

installRefKernel(currentNode);
