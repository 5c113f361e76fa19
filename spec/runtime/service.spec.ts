import { describe, expect, it } from 'vitest';
import { NoSuchActorError, RemoteError, isDown, node, spawn } from '../../index.ts';
import { adder, relay, startCounter } from '../fixtures/counter-handle.ts';
import { waiter } from '../fixtures/actors.ts';
import { reap } from '../helpers.ts';

describe('services and handles', () => {
  it('serve calls in this process, from a handle used here', async () => {
    const { counter, close } = startCounter();
    expect(await counter.add(2)).toBe(2);
    expect(await counter.add(3)).toBe(5);
    close();
  });

  it('travel as handles into a child and on to a grandchild, which call the service', async () => {
    const { counter, close } = startCounter();
    const child = reap(spawn(adder, { args: [counter, 50] }));
    const grand = reap(spawn(relay, { args: [counter, 30] }));
    expect(await child.join({ timeout: 20_000 })).toBe(0);
    expect(await grand.join({ timeout: 20_000 })).toBe(0);
    expect(await counter.add(0)).toBe(80);
    close();
  });

  it('send what the handler throws back to the caller as a RemoteError with the cause', async () => {
    const { counter, close } = startCounter();
    const err = await counter.ref.call({ fail: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).cause).toBeInstanceOf(RangeError);
    expect(await counter.add(1)).toBe(1);
    close();
  });

  it('are freed by close(): the count of open services drops and later calls fail with NoSuchActorError', async () => {
    const before = node().openServices;
    const { counter, close } = startCounter();
    expect(node().openServices).toBe(before + 1);
    close();
    expect(node().openServices).toBe(before);
    await expect(counter.add(1)).rejects.toBeInstanceOf(NoSuchActorError);
  });

  it('monitor actors: the down comes to the service as a send from the actor', async () => {
    const child = reap(spawn(waiter));
    await child.ready;
    let resolveDown: (message: unknown) => void;
    const down = new Promise((resolve) => (resolveDown = resolve));
    const service = node().service('watcher', (message) => {
      if (isDown(message)) resolveDown(message);
    });
    const monitor = service.monitor(child);
    child.kill();
    const message = (await Promise.race([down, new Promise((_, reject) => setTimeout(() => reject(new Error('no down within 10 s')), 10_000))])) as {
      monitor: number;
      actor: { id: string };
      reason: unknown;
    };
    expect(message.monitor).toBe(monitor);
    expect(message.actor.id).toBe(child.id);
    expect(message.reason).toBe('killed');
    service.close();
  });
});
