/**
 * The entry of an actor process: `node host.mjs troupe-actor <name>`.
 *
 * It opens the control pipe (fd 3), takes the parent's hello (IDs, the bundle
 * to load, the export name) and the args, loads the actor's module, says
 * ready, runs the behaviour, and exits with Python's exit codes. If the
 * parent goes away, for any reason, it ends its own tree and exits.
 */
import { writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { Actor, definitionAt, type ActorFunction } from '../behaviour.ts';
import { decode, errorToWire } from '../codec.ts';
import { SpawnError } from '../errors.ts';
import { FRAME_ARGS, Link, PROTOCOL_VERSION, type LinkHandler, type SystemMessage } from '../link.ts';
import type { MailboxOptions } from '../mailbox.ts';
import { Node, hosting, installNode } from '../node.ts';
import { ActorRef } from '../ref.ts';
import { children } from './child.ts';
import { startWatchdog, watchPids } from './watchdog.ts';

const name = process.argv[3] ?? 'actor';
process.title = `troupe-actor ${name}`;
process.setSourceMapsEnabled(true);

interface Hello extends SystemMessage {
  nodeId: string;
  name: string;
  identity: string;
  parent: [string, string];
  daemon: boolean;
  bundle: string;
  module: string;
  ordinal: number;
  mailbox: MailboxOptions;
}

let node: Node | null = null;
let hello: Hello | null = null;
let stopping: Promise<void> | null = null;
let finishing = false;

const socket = new Socket({ fd: 3, readable: true, writable: true });

const bootstrap: LinkHandler = {
  onMessage(_link, kind, to, from, callId, flags, payload, attachments) {
    if (kind === FRAME_ARGS) {
      void start(decode(payload, attachments, flags) as unknown[]);
      return;
    }
    node?.onMessage(link, kind, to, from, callId, flags, payload, attachments);
  },
  onSystem(_link, message) {
    if (message.t === 'hello') {
      hello = message as Hello;
      node = new Node({ id: hello.nodeId, name: hello.name, identity: hello.identity, parent: new ActorRef(hello.parent[0], hello.parent[1]), mailbox: hello.mailbox });
      installNode(node);
      node.onPids = watchPids;
      node.attachParent(link, onParentSystem, orphaned);
      link.label = `parent of ${hello.name}`;
      link.sendSystem({ t: 'hello', v: PROTOCOL_VERSION, pid: process.pid });
      return;
    }
    onParentSystem(message);
  },
  onClose(_link, error) {
    orphaned(error);
  },
};

const link = new Link(socket, bootstrap, 'parent');

function onParentSystem(message: SystemMessage): void {
  if (message.t === 'stop') stopping ??= stop(Number(message.timeoutMs));
}

/** The parent is gone (or spoke garbage): end the whole tree below us, now. */
function orphaned(_error: Error | undefined): void {
  process.exit(1);
}

async function start(args: unknown[]): Promise<void> {
  const h = hello!;
  const n = node!;
  let def: ReturnType<typeof definitionAt>;
  hosting.loading = h.name;
  try {
    await import(pathToFileURL(h.bundle).href);
    def = definitionAt(h.module, h.ordinal);
  } catch (err) {
    hosting.loading = null;
    const code = err instanceof SpawnError && err.code === 'ERR_SPAWN_AT_IMPORT' ? err.code : 'ERR_SPAWN';
    const message =
      code === 'ERR_SPAWN_AT_IMPORT' ? err instanceof Error ? err.message : String(err) : `Cannot start actor ${h.name}: its module threw while loading: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
    return failStart(message, err, code);
  }
  hosting.loading = null;
  if (def === undefined) {
    return failStart(
      `Cannot start actor ${h.name}: loading ${h.module} again did not define actor #${h.ordinal + 1} of that module. Call actor(…) at the top level of the module, never conditionally.`,
      new Error('definition not found'),
      'ERR_SPAWN',
    );
  }
  link.sendSystem({ t: 'ready' });
  void startWatchdog();
  try {
    let result: unknown;
    if (def.style === 'class') {
      const instance = new (def.impl as new () => Actor)();
      Object.defineProperty(instance, 'ctx', { value: n.context, enumerable: false });
      n.context.onStop(() => instance.onStop());
      result = await instance.run(...args);
    } else {
      result = await (def.impl as ActorFunction<unknown[], unknown, unknown>)(n.context, ...args);
    }
    void result;
    await finish(0, undefined);
  } catch (err) {
    await finish(1, err);
  }
}

async function failStart(message: string, error: unknown, code: string): Promise<never> {
  process.stderr.write(`troupe: ${message}\n${error instanceof Error && error.stack ? indent(error.stack) + '\n' : ''}`);
  link.sendSystem({ t: 'spawn-error', message, code, error: errorToWire(error) });
  await flushed();
  process.exit(1);
}

/** The behaviour ended: report, wait for children as Python does, then exit. */
async function finish(code: number, error: unknown): Promise<void> {
  if (finishing) return;
  finishing = true;
  const n = node!;
  if (code !== 0) {
    // As Python prints a child's traceback: the one report we always print.
    process.stderr.write(`Actor ${n.self.name} (${n.self.id}, pid ${process.pid}) failed:\n${error instanceof Error ? error.stack ?? String(error) : String(error)}\n`);
    link.sendSystem({ t: 'crash', error: errorToWire(error) });
  }
  if (stopping !== null) await stopping;
  n.closeMailbox();
  for (const child of children()) if (child.daemon) child.signal('SIGTERM');
  await Promise.all(children().map((child) => child.join({})));
  await flushed();
  process.exit(code);
}

/** Graceful stop: children first (in reverse order), then the stop hooks, then the inbox ends. */
async function stop(timeoutMs: number): Promise<void> {
  const n = node!;
  n.stopController.abort(new Error('stop requested'));
  const budget = Number.isFinite(timeoutMs) ? Math.max(0, timeoutMs - 50) : 5000;
  for (const child of children().reverse()) await child.stop({ timeout: budget }).catch(() => {});
  for (const hook of n.context.stopHooks) {
    try {
      await hook();
    } catch (err) {
      process.stderr.write(`Actor ${n.self.name}: stop hook threw: ${err instanceof Error ? err.stack : String(err)}\n`);
    }
  }
  n.closeMailbox();
  // Give a behaviour that was waiting on its inbox one turn to return by itself.
  await new Promise((resolve) => setImmediate(resolve));
  if (!finishing) link.sendSystem({ t: 'stopped' });
}

function flushed(): Promise<void> {
  link.flush();
  return new Promise((resolve) => socket.write(Buffer.alloc(0), () => resolve()));
}

function indent(text: string): string {
  return text.replace(/^/gm, '    ');
}

process.on('uncaughtException', (err) => {
  if (node === null || hello === null) {
    process.stderr.write(`troupe: actor host failed: ${err.stack ?? String(err)}\n`);
    process.exit(70);
  }
  void finish(1, err);
});

// A behaviour that calls process.exit(n) must not lose what it sent just before.
process.on('exit', () => {
  if (socket.writableLength > 0) return;
  for (const chunk of link.takeUnwritten()) {
    let off = 0;
    for (let tries = 0; off < chunk.byteLength && tries < 1000; tries++) {
      try {
        off += writeSync(3, chunk, off);
      } catch {
        break;
      }
    }
  }
});
