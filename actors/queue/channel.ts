/**
 * A channel: the state of one queue (or one direction of a pipe), as its
 * service keeps it. Items wait in order; gets and puts that cannot be served
 * wait with a deadline kept here, so the service alone decides whether a wait
 * was served or timed out, and no item is ever handed to a caller that gave up.
 *
 * Nothing handed out is forgotten until its consumer confirms it: items sent
 * to a consumer are in flight until its handle acknowledges them (or hands
 * them back), and with `joinable` they are then held until `taskDone()`. When
 * a consumer dies, what it had in flight or held goes back to the front of
 * the queue, in order.
 *
 * An item keeps the number it was first handed out with: numbers follow the
 * order of the puts, so items handed back (by one consumer or several, in
 * any order) wait ahead of the rest, in the order they were put.
 */
import type { ServiceCall } from '../../runtime/index.ts';
import { isForever } from '../../runtime/timers.ts';

/** How a channel answers a refused or abandoned wait. */
export type Refusal = { readonly e: 'full' | 'empty' | 'closed' | 'aborted' | 'toomany' | 'broken' | 'ownclosed'; readonly n?: number };
/** What a get is answered with: items numbered from `s`, or by `q` when their numbers skip (items handed back). */
export type Batch = { readonly s: number; readonly v: unknown[]; readonly q?: readonly number[] };

/** The number of a batch's item `i`. */
export function seqAt(batch: Batch, i: number): number {
  return batch.q === undefined ? batch.s + i : batch.q[i]!;
}

/** An item handed back, with the number it was handed out with. */
interface Returned {
  readonly seq: number;
  readonly value: unknown;
}

interface Wait {
  readonly from: string;
  readonly call: ServiceCall;
  readonly token: number | undefined;
  timer: NodeJS.Timeout | undefined;
}
interface GetWait extends Wait {
  readonly max: number;
}
interface PutWait extends Wait {
  /** Items of one put request, all in order; those before `next` are in. */
  readonly values: readonly unknown[];
  next: number;
}

/** An answer to a get stops adding items once their buffers and strings reach this many bytes. */
const BATCH_BYTES = 1 << 20;
const EMPTY: Refusal = { e: 'empty' };
const CLOSED: Refusal = { e: 'closed' };
const ABORTED: Refusal = { e: 'aborted' };
const TOO_MANY: Refusal = { e: 'toomany' };

export class Channel {
  readonly #maxsize: number;
  readonly #joinable: boolean;
  /** Items never handed out, in the order they were put, from `#head`. */
  #items: unknown[] = [];
  #head = 0;
  /** Items handed back, by their numbers (all older than `#items`), from `#frontHead`: handed out again first. */
  #front: Returned[] = [];
  #frontHead = 0;
  readonly #gets: GetWait[] = [];
  readonly #puts: PutWait[] = [];
  readonly #joins: Wait[] = [];
  readonly #peeks: Wait[] = [];
  /** Per consumer: items sent and not yet acknowledged, by number. */
  readonly #inflight = new Map<string, Map<number, unknown>>();
  /** Per consumer (joinable only): items acknowledged and not yet marked done. */
  readonly #held = new Map<string, Map<number, unknown>>();
  #nextSeq = 1;
  #unfinished = 0;
  /** taskDone() calls from processes that held no item, not yet matched to one (see `down`). */
  #credits = 0;
  #closed = false;
  /** Told of each item that comes, and of each that leaves for good or never got in (see flights.ts), with the actor that confirmed it, if one did. */
  readonly #onArrive: ((value: unknown) => void) | undefined;
  readonly #onDrop: ((value: unknown, by: string | undefined) => void) | undefined;

  /** `maxsize` 0 is unbounded. */
  constructor(maxsize: number, joinable: boolean, track?: { arrive(value: unknown): void; drop(value: unknown, by: string | undefined): void }) {
    this.#maxsize = maxsize;
    this.#joinable = joinable;
    this.#onArrive = track?.arrive;
    this.#onDrop = track?.drop;
  }

  get size(): number {
    return this.#front.length - this.#frontHead + this.#items.length - this.#head;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get full(): boolean {
    return this.#maxsize > 0 && this.size >= this.#maxsize;
  }

  /** Items put and not yet marked done (joinable). */
  get unfinished(): number {
    return this.#unfinished;
  }

  /**
   * Closed, drained, nothing in flight or held, every item marked done
   * (joinable: `join()` and `unfinished()` of a freed queue answer as if
   * they were) and nobody waiting: the service may go.
   */
  get finished(): boolean {
    // Items held with every item done (marked by another process, as credits) are done: they do not keep it.
    const held = this.#held.size === 0 || (this.#joinable && this.#unfinished === 0);
    return this.#closed && this.size === 0 && (!this.#joinable || this.#unfinished === 0) && this.#inflight.size === 0 && held && this.#gets.length === 0 && this.#joins.length === 0 && this.#peeks.length === 0;
  }

  put(from: string, call: ServiceCall, values: readonly unknown[], ms: number | undefined, token: number | undefined): void {
    if (this.#onArrive !== undefined) for (const value of values) this.#onArrive(value);
    if (this.#closed) {
      this.#drop(values, 0);
      return call.reply({ e: 'closed', n: 0 } satisfies Refusal);
    }
    let next = 0;
    if (this.#puts.length === 0) {
      while (next < values.length && !this.full) this.#items.push(values[next++]);
      this.#unfinished += next;
      if (next > 0) this.#serveGets();
    }
    if (next === values.length) return call.reply(true);
    if (ms === 0) {
      this.#drop(values, next);
      return call.reply({ e: 'full', n: next } satisfies Refusal);
    }
    const wait: PutWait = { from, call, token, timer: undefined, values, next };
    this.#wait(this.#puts, wait, ms, () => ({ e: 'full', n: wait.next }) satisfies Refusal);
  }

  get(from: string, call: ServiceCall, max: number, ms: number | undefined, token: number | undefined): void {
    if (this.size > 0 && this.#gets.length === 0) return this.#hand(from, call, max);
    if (this.#drainedFor(from)) return call.reply(CLOSED);
    if (ms === 0) return call.reply(EMPTY);
    this.#wait(this.#gets, { from, call, token, timer: undefined, max }, ms, () => EMPTY);
  }

  /** Answers `true` as soon as an item is there or the channel is closed (a get would not wait), `false` at the deadline. */
  peek(from: string, call: ServiceCall, ms: number | undefined, token: number | undefined): void {
    if (this.size > 0 || this.#closed) return call.reply(true);
    if (ms === 0) return call.reply(false);
    this.#wait(this.#peeks, { from, call, token, timer: undefined }, ms, () => false);
  }

  /** A consumer confirms the items in `acks` (`[first, count]` pairs) and hands back those numbered `returns`. */
  settle(from: string, acks: readonly number[] | undefined, returns: readonly number[] | undefined): void {
    const mine = this.#inflight.get(from);
    if (mine === undefined) return;
    for (let i = 0; acks !== undefined && i + 1 < acks.length; i += 2) {
      for (let seq = acks[i]!, end = seq + acks[i + 1]!; seq < end; seq++) {
        if (!mine.has(seq)) continue;
        if (this.#joinable) this.#mapOf(this.#held, from).set(seq, mine.get(seq));
        else this.#onDrop?.(mine.get(seq), from);
        mine.delete(seq);
      }
    }
    if (returns !== undefined && returns.length > 0) {
      const back: Returned[] = [];
      for (const seq of returns) {
        if (!mine.has(seq)) continue;
        back.push({ seq, value: mine.get(seq) });
        mine.delete(seq);
      }
      this.#requeue(back);
    }
    if (mine.size === 0) this.#inflight.delete(from);
    if (this.#closed) this.#serveGets();
  }

  /** The caller gave up the wait it tagged `token`: answered `aborted` if it still waits. */
  cancel(from: string, token: number): void {
    for (const list of [this.#gets, this.#puts, this.#joins, this.#peeks] as Wait[][]) {
      const at = list.findIndex((w) => w.from === from && w.token === token);
      if (at === -1) continue;
      const [wait] = list.splice(at, 1);
      clearTimeout(wait!.timer);
      this.#dropPut(wait!);
      wait!.call.reply('values' in wait! ? { e: 'aborted', n: (wait as PutWait).next } : ABORTED);
      return;
    }
  }

  /** Ends every wait of `from` for items (gets, peeks) as aborted: it closed its copy of what it waited on. */
  cancelWaitsOf(from: string): void {
    for (const list of [this.#gets, this.#peeks] as Wait[][]) {
      for (let i = list.length - 1; i >= 0; i--) {
        const wait = list[i]!;
        if (wait.from !== from) continue;
        list.splice(i, 1);
        clearTimeout(wait.timer);
        wait.call.reply(ABORTED);
      }
    }
  }

  /** No more puts: waiting puts are refused, and waiting gets too once the items are gone. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const wait of this.#puts.splice(0)) {
      this.#dropPut(wait);
      this.#refuse(wait, { e: 'closed', n: wait.next } satisfies Refusal);
    }
    this.#serveGets();
  }

  /**
   * A caller's process ended: its waits are dropped, and what it had in
   * flight goes back to the front. What it held (joinable: taken, not marked
   * done) goes back too if it ended abnormally (it may have died mid-task);
   * if it returned normally, its held items were consumed, as in Python (a
   * sentinel a worker took does not come back).
   *
   * Items marked done from elsewhere (`#credits`) are matched here: a held
   * item consumed takes one; an item that goes back takes one and is counted
   * unfinished again, so that the count and the items always agree.
   */
  down(from: string, normal = false): void {
    for (const list of [this.#gets, this.#puts, this.#joins, this.#peeks] as Wait[][]) {
      for (let i = list.length - 1; i >= 0; i--) {
        if (list[i]!.from !== from) continue;
        clearTimeout(list[i]!.timer);
        this.#dropPut(list[i]!);
        list.splice(i, 1);
      }
    }
    const held = this.#held.get(from);
    const back = new Map<number, unknown>([...(normal ? [] : (held ?? [])), ...(this.#inflight.get(from) ?? [])]);
    if (normal && held !== undefined) {
      this.#credits = Math.max(0, this.#credits - held.size);
      for (const value of held.values()) this.#onDrop?.(value, from);
    }
    this.#held.delete(from);
    this.#inflight.delete(from);
    if (this.#joinable) {
      const recounted = Math.min(this.#credits, back.size);
      this.#credits -= recounted;
      this.#unfinished += recounted;
    }
    if (back.size > 0) this.#requeue(Array.from(back, ([seq, value]) => ({ seq, value })));
    else this.#serveGets();
  }

  /**
   * Marks one item done (joinable): the caller's oldest held item. From a
   * process that holds none (Python lets any process call task_done(), say
   * a parent its workers report to) it counts, and becomes a credit against
   * the items other processes hold or have on their way: which one it was
   * for, nobody can tell, so none is dropped for it (see `down`).
   */
  taskDone(from: string, call: ServiceCall): void {
    if (this.#unfinished === 0) return call.reply(TOO_MANY);
    this.#unfinished--;
    const mine = this.#held.get(from);
    if (mine !== undefined) {
      const seq = mine.keys().next().value!;
      this.#onDrop?.(mine.get(seq), from);
      mine.delete(seq);
      if (mine.size === 0) this.#held.delete(from);
    } else {
      let outstanding = 0;
      for (const map of [this.#held, this.#inflight]) for (const items of map.values()) outstanding += items.size;
      this.#credits = Math.min(this.#credits + 1, outstanding);
    }
    if (this.#unfinished === 0) for (const wait of this.#joins.splice(0)) this.#refuse(wait, true);
    call.reply(true);
    this.#serveGets();
  }

  /**
   * Whether a get from `from` finds the channel closed for good: closed,
   * empty, and no other process has items in flight or held that could come
   * back (if it died) for `from` to take.
   */
  #drainedFor(from: string): boolean {
    if (!this.#closed || this.size > 0) return false;
    for (const map of [this.#inflight, this.#held]) for (const [who, items] of map) if (who !== from && items.size > 0) return false;
    return true;
  }

  /** Answers `true` once every item put has been marked done, `false` at the deadline. */
  join(from: string, call: ServiceCall, ms: number | undefined, token: number | undefined): void {
    if (this.#unfinished === 0) return call.reply(true);
    if (ms === 0) return call.reply(false);
    this.#wait(this.#joins, { from, call, token, timer: undefined }, ms, () => false);
  }

  /** Ends every wait (the service is going away, or the items with it). */
  dispose(answer: unknown): void {
    for (const wait of this.#puts) this.#dropPut(wait);
    for (const list of [this.#gets, this.#puts, this.#joins, this.#peeks] as Wait[][]) for (const wait of list.splice(0)) this.#refuse(wait, answer);
    if (this.#onDrop === undefined) return;
    // What it kept goes too.
    this.#drop(this.#items, this.#head);
    for (let i = this.#frontHead; i < this.#front.length; i++) this.#onDrop(this.#front[i]!.value, undefined);
    for (const map of [this.#inflight, this.#held]) for (const items of map.values()) for (const value of items.values()) this.#onDrop(value, undefined);
    this.#items = [];
    this.#head = 0;
    this.#front = [];
    this.#frontHead = 0;
    this.#inflight.clear();
    this.#held.clear();
  }

  /** `values` from `start` leave without having been kept (a put refused or given up), or with what was kept. */
  #drop(values: readonly unknown[], start: number): void {
    if (this.#onDrop === undefined) return;
    for (let i = start; i < values.length; i++) this.#onDrop(values[i], undefined);
  }

  /** A wait that goes unserved: if it is a put's, the items it had not got in go. */
  #dropPut(wait: Wait): void {
    if ('values' in wait) this.#drop((wait as PutWait).values, (wait as PutWait).next);
  }

  #wait<W extends Wait>(list: W[], wait: W, ms: number | undefined, atDeadline: () => unknown): void {
    // Past what a timer holds (about 24.8 days) is for ever: Node would fire such a timer at once.
    if (ms !== undefined && !isForever(ms)) {
      wait.timer = setTimeout(() => {
        const at = list.indexOf(wait);
        if (at === -1) return;
        list.splice(at, 1);
        this.#dropPut(wait);
        wait.call.reply(atDeadline());
      }, ms);
      // A wait served for a caller keeps nothing alive here: the caller's own call does, in its process.
      // Held, it kept an actor that had returned alive to the deadline, and the wait timed out where it
      // should have failed as the queue went with that actor's process.
      wait.timer.unref();
    }
    list.push(wait);
  }

  #refuse(wait: Wait, answer: unknown): void {
    clearTimeout(wait.timer);
    wait.call.reply(answer);
  }

  /** Items handed back wait ahead of those never handed out, in the order they were put (their numbers). */
  #requeue(back: Returned[]): void {
    if (back.length === 0) return;
    back.sort((a, b) => a.seq - b.seq);
    const front = this.#front;
    const head = this.#frontHead;
    if (head === front.length) this.#front = back;
    else {
      // Both in order: merged in one pass.
      const merged: Returned[] = [];
      let i = head;
      let j = 0;
      while (i < front.length && j < back.length) merged.push(front[i]!.seq < back[j]!.seq ? front[i++]! : back[j++]!);
      while (i < front.length) merged.push(front[i++]!);
      while (j < back.length) merged.push(back[j++]!);
      this.#front = merged;
    }
    this.#frontHead = 0;
    this.#serveGets();
  }

  /** Sends up to `max` items to a consumer; they stay in flight until it confirms them. */
  #hand(from: string, call: ServiceCall, max: number): void {
    if (this.#frontHead < this.#front.length) return this.#handBack(from, call, max);
    const n = this.#batchSize(Math.min(max, this.size));
    const values = this.#items.slice(this.#head, this.#head + n);
    for (let i = this.#head; i < this.#head + n; i++) this.#items[i] = undefined;
    this.#head += n;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    const s = this.#nextSeq;
    this.#nextSeq += n;
    const inflight = this.#mapOf(this.#inflight, from);
    for (let i = 0; i < n; i++) inflight.set(s + i, values[i]);
    call.reply({ s, v: values } satisfies Batch);
    this.#admitPuts();
  }

  /**
   * Items handed back go out again with their own numbers, named in the
   * answer (`q`) where they skip; never with items not handed out before
   * (the consumer takes a batch as one run of the queue's order).
   */
  #handBack(from: string, call: ServiceCall, max: number): void {
    const front = this.#front;
    const start = this.#frontHead;
    let end = start;
    let bytes = 0;
    let gaps = false;
    while (end < front.length && end - start < max && bytes < BATCH_BYTES) {
      if (end > start && front[end]!.seq !== front[end - 1]!.seq + 1) gaps = true;
      bytes += bytesOf(front[end++]!.value);
    }
    const inflight = this.#mapOf(this.#inflight, from);
    const values: unknown[] = [];
    for (let k = start; k < end; k++) {
      inflight.set(front[k]!.seq, front[k]!.value);
      values.push(front[k]!.value);
    }
    const s = front[start]!.seq;
    const q = gaps ? front.slice(start, end).map((item) => item.seq) : undefined;
    // Taken by moving the head; the array is cut down once half of it is behind it.
    for (let k = start; k < end; k++) front[k] = undefined as never;
    this.#frontHead = end;
    if (end === front.length) {
      this.#front = [];
      this.#frontHead = 0;
    } else if (end > 1024 && end * 2 > front.length) {
      this.#front = front.slice(end);
      this.#frontHead = 0;
    }
    call.reply((q === undefined ? { s, v: values } : { s, v: values, q }) satisfies Batch);
    this.#admitPuts();
  }

  /** How many of the first `n` items never handed out go in one answer: all, unless large buffers among them pass BATCH_BYTES. */
  #batchSize(n: number): number {
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      bytes += bytesOf(this.#items[this.#head + i]);
      if (bytes >= BATCH_BYTES) return i + 1;
    }
    return n;
  }

  #serveGets(): void {
    if (this.#peeks.length > 0 && (this.size > 0 || this.#closed)) for (const wait of this.#peeks.splice(0)) this.#refuse(wait, true);
    while (this.size > 0 && this.#gets.length > 0) {
      const wait = this.#gets.shift()!;
      clearTimeout(wait.timer);
      this.#hand(wait.from, wait.call, wait.max);
    }
    for (let i = this.#gets.length - 1; i >= 0; i--) {
      const wait = this.#gets[i]!;
      if (!this.#drainedFor(wait.from)) continue;
      this.#gets.splice(i, 1);
      this.#refuse(wait, CLOSED);
    }
  }

  #admitPuts(): void {
    while (this.#puts.length > 0 && !this.full) {
      const wait = this.#puts[0]!;
      this.#items.push(wait.values[wait.next++]);
      this.#unfinished++;
      if (wait.next < wait.values.length) continue;
      this.#puts.shift();
      clearTimeout(wait.timer);
      wait.call.reply(true);
    }
    if (this.size > 0 && this.#gets.length > 0) this.#serveGets();
  }

  #mapOf(maps: Map<string, Map<number, unknown>>, from: string): Map<number, unknown> {
    let map = maps.get(from);
    if (map === undefined) maps.set(from, (map = new Map()));
    return map;
  }
}

/** The bytes an item adds to a batch: its buffer's or string's length (other values count as none). */
function bytesOf(item: unknown): number {
  if (ArrayBuffer.isView(item)) return item.byteLength;
  return typeof item === 'string' ? item.length : 0;
}
