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
  /** The items kept that hold it: one copy travels as one object for every item of its message that holds it. */
  items: number;
}

/** The copies this process's services keep, by the Connection each was decoded into. */
const kept = new WeakMap<object, Flight>();
/** How many: while none, an item that leaves a channel is not looked through. */
let keeping = 0;

/** A service of this process keeps `end`, a copy in flight. */
export function keepInTrust(end: object, flight: Omit<Flight, 'items'>): void {
  kept.set(end, { ...flight, items: 0 });
  keeping++;
}

/** `value` came to a channel as one item: each copy in it is held by one item more. */
export function flightsArrive(value: unknown): void {
  if (keeping === 0) return;
  for (const [, flight] of flightsIn(value)) flight.items++;
}

/**
 * `value` leaves its channel for good (or never got in): each copy of a pipe
 * end in it that no other item holds has landed, taken by `by` (the actor
 * that confirmed it) or by nobody.
 */
export function landFlights(value: unknown, by: string | undefined): void {
  if (keeping === 0) return;
  for (const [end, flight] of flightsIn(value)) {
    if (--flight.items > 0) continue;
    kept.delete(end);
    keeping--;
    flight.ref.send(by === undefined ? { t: 'land', d: flight.d, f: flight.f } : { t: 'land', d: flight.d, f: flight.f, by });
  }
}

/** The copies kept in `value`, each once, found as the codec carries values (an error's cause and errors too). */
function flightsIn(value: unknown): [end: object, flight: Flight][] {
  const found: [object, Flight][] = [];
  if (typeof value !== 'object' || value === null) return found;
  const seen = new Set<object>();
  const stack: object[] = [value];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    const flight = kept.get(next);
    if (flight !== undefined) {
      found.push([next, flight]);
      continue;
    }
    if (ArrayBuffer.isView(next)) continue;
    const inside: unknown[] = next instanceof Map ? [...next.keys(), ...next.values()] : next instanceof Set ? [...next] : Object.values(next);
    if (next instanceof Error) inside.push(next.cause, ...(next instanceof AggregateError && Array.isArray(next.errors) ? next.errors : []));
    for (const child of inside) if (typeof child === 'object' && child !== null) stack.push(child);
  }
  return found;
}

/** How a channel tells of the items that come and go. */
export const TRACK_FLIGHTS = { arrive: flightsArrive, drop: landFlights } as const;

// A message that never reached its service (a put to a queue freed since) or actor: its copies land nowhere.
setLostLetterHook((message) => landFlights(message, undefined));
