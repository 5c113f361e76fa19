/**
 * Actor and node IDs. A node's ID is the path of spawns that made it
 * (`Vx3k9TqA.2.1` is the first child of the second child of root `Vx3k9TqA`),
 * so any node can route by prefix, with no routing table: a target below us
 * goes to the child named by the next segment, anything else goes up.
 * An actor's ID is its node's ID and a local number: `Vx3k9TqA.2.1/0`.
 */
import { customAlphabet } from 'nanoid/non-secure';

// No '.', '/' or '-' in the alphabet: those separate the parts of an ID.
// A root ID only has to be unlikely to repeat, never secret: the non-secure
// generator spares every actor process from loading node:crypto at start.
const mintRoot = customAlphabet('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 10);

export type NodeId = string;
export type ActorId = string;

/** The node-local number of the actor a node hosts as its main behaviour. */
export const MAIN_LOCAL_ID = 0;

export function mintRootNodeId(): NodeId {
  return mintRoot();
}

export function childNodeId(parent: NodeId, n: number): NodeId {
  return `${parent}.${n}`;
}

export function actorId(node: NodeId, local: number): ActorId {
  return `${node}/${local}`;
}

export function nodeOf(id: ActorId): NodeId {
  const slash = id.lastIndexOf('/');
  return slash === -1 ? id : id.slice(0, slash);
}

export function localOf(id: ActorId): number {
  return Number(id.slice(id.lastIndexOf('/') + 1));
}

export function isActorId(value: unknown): value is ActorId {
  return typeof value === 'string' && /^[0-9A-Za-z]+(\.\d+)*\/\d+$/.test(value);
}

export type Route =
  | { readonly kind: 'local' }
  | { readonly kind: 'child'; readonly child: NodeId; readonly n: number }
  | { readonly kind: 'up' };

/** Where a message for `target` goes next, seen from node `self`. */
export function routeFrom(self: NodeId, target: NodeId): Route {
  if (target === self) return { kind: 'local' };
  if (target.length > self.length && target.startsWith(self) && target.charCodeAt(self.length) === 46 /* '.' */) {
    const rest = target.slice(self.length + 1);
    const dot = rest.indexOf('.');
    const segment = dot === -1 ? rest : rest.slice(0, dot);
    return { kind: 'child', child: `${self}.${segment}`, n: Number(segment) };
  }
  return { kind: 'up' };
}
