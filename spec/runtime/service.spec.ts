import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../runtime/codec.ts';
import { Handle, InvalidArgumentError, NoSuchActorError, RemoteError, SerializationError, isDown, node, registerHandle, spawn } from '../../index.ts';
import { Counter, adder, relay, startCounter } from '../fixtures/counter-handle.ts';
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

  it('refuse a kind registered twice, a handle class never registered, and a kind this process does not know', () => {
    expect(() => registerHandle('spec.counter', Counter, () => new Counter(node().self))).toThrow(InvalidArgumentError);
    class Unregistered extends Handle {
      toWire(): unknown {
        return 1;
      }
    }
    expect(() => encode({ h: new Unregistered() }, 'message')).toThrow(SerializationError);
    const { payload, attachments, flags } = encode(new Counter(node().self), 'message');
    const renamed = Buffer.from(Buffer.from(payload).toString('latin1').replace('spec.counter', 'spec.counteX'), 'latin1');
    expect(() => decode(renamed, attachments, flags)).toThrow(/spec\.counteX.*does not know/);
  });

  it('answer a call to a receiver (which takes sends only) with an error naming it', async () => {
    const receiver = node().receiver('sink', () => {});
    const err = await receiver.ref.call('hello').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).cause).toBeInstanceOf(InvalidArgumentError);
    expect(String((err as Error).message)).toMatch(/sink takes sends only/);
    receiver.close();
  });
});
