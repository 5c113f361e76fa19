/**
 * Pipe ends in flight (see servePipe's `flights` in pipe.ts): copies of a
 * pipe end that a queue's or a pipe's service keeps for an actor to take.
 * The service's process holds none of them; each copy keeps its end open
 * until the item that holds it leaves its channel for good (confirmed by the
 * actor that took it, marked done, refused, or thrown away), when its pipe is
 * told the copy has landed. An item that goes back to the channel (its taker
 * died before it confirmed it) keeps its copy in flight.
 */
import { setLostLetterHook, type ActorRef } from '../../runtime/index.ts';

interface Flight {
  readonly ref: ActorRef;
  readonly d: 0 | 1;
  readonly f: string;
}

/** The copies this process's services keep, by the Connection each was decoded into. */
const kept = new WeakMap<object, Flight>();
/** How many: while none, an item that leaves a channel is not looked through. */
let keeping = 0;

/** A service of this process keeps `end`, a copy in flight. */
export function keepInTrust(end: object, flight: Flight): void {
  kept.set(end, flight);
  keeping++;
}

/**
 * `value` leaves its channel for good: each copy of a pipe end in it has
 * landed, taken by `by` (the actor that confirmed it) or by nobody.
 */
export function landFlights(value: unknown, by: string | undefined): void {
  if (keeping === 0 || typeof value !== 'object' || value === null) return;
  const seen = new Set<object>();
  const stack: object[] = [value];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    const flight = kept.get(next);
    if (flight !== undefined) {
      kept.delete(next);
      keeping--;
      flight.ref.send(by === undefined ? { t: 'land', d: flight.d, f: flight.f } : { t: 'land', d: flight.d, f: flight.f, by });
      continue;
    }
    if (ArrayBuffer.isView(next)) continue;
    const inside = next instanceof Map ? [...next.keys(), ...next.values()] : next instanceof Set ? [...next] : Object.values(next);
    for (const child of inside) if (typeof child === 'object' && child !== null) stack.push(child);
  }
}

// A message that never reached its service (a put to a queue freed since) or actor: its copies land nowhere.
setLostLetterHook((message) => landFlights(message, undefined));
