import { describe, expect, it } from 'vitest';
import { NameTakenError, NoSuchActorError, callNamed, current, register, sendNamed, spawn, unregister, whereis } from '../../index.ts';
import { stubborn } from '../fixtures/actors.ts';
import { lookup, registrar } from '../fixtures/watchers.ts';
import { reap } from '../helpers.ts';

const next = <T>(key: string): Promise<T> =>
  current().receive({ match: (m): m is T => typeof m === 'object' && m !== null && key in m, timeout: 20_000 }) as Promise<T>;

describe('names', () => {
  it('find an actor that registered itself, from the root and from another actor', async () => {
    const named = reap(spawn(registrar, { args: ['greeter'] }));
    await next('registered');
    expect((await whereis('greeter'))?.id).toBe(named.id);
    expect(await callNamed('greeter', 'root')).toBe('greeter says hi to root');
    const other = reap(spawn(lookup, { args: ['greeter'], name: 'looker' }));
    expect(await next('found')).toEqual({ found: named.id, answer: 'greeter says hi to looker' });
    expect(await other.join({ timeout: 10_000 })).toBe(0);
  });

  it('are released when their actor ends', async () => {
    const named = reap(spawn(registrar, { args: ['short-lived'] }));
    await next('registered');
    await sendNamed('short-lived', 'bye');
    expect(await named.join({ timeout: 10_000 })).toBe(0);
    expect(await whereis('short-lived')).toBeNull();
  });

  it('are seen released by a loop that polls whereis() in the root without pausing (it lets the event loop run)', async () => {
    const named = reap(spawn(registrar, { args: ['polled'] }));
    await next('registered');
    named.kill();
    // Before, every lookup was answered within the call, the loop never yielded, and the kill was never heard.
    const start = performance.now();
    let held = true;
    while (held && performance.now() - start < 20_000) held = (await whereis('polled')) !== null;
    expect(held).toBe(false);
    expect(named.exitCode).toBe(-9);
  });

  it('refuse a name a live actor holds, with NameTakenError', async () => {
    const a = reap(spawn(stubborn));
    const b = reap(spawn(stubborn));
    await register('only-one', a);
    await register('only-one', a);
    const err = await register('only-one', b).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NameTakenError);
    expect(err).toMatchObject({ code: 'ERR_NAME_TAKEN', actorName: 'only-one' });
    expect((err as Error).message).toContain(`taken by actor ${a.name}`);
    expect(await unregister('only-one')).toBe(true);
    await register('only-one', b);
    expect((await whereis('only-one'))?.id).toBe(b.id);
    expect(await unregister('only-one')).toBe(true);
  });

  it('say clearly when no actor holds a name', async () => {
    expect(await whereis('nobody')).toBeNull();
    await expect(sendNamed('nobody', 1)).rejects.toBeInstanceOf(NoSuchActorError);
    await expect(callNamed('nobody', 1)).rejects.toThrow('No actor is registered as "nobody"');
    await expect(register('', current().self)).rejects.toThrow('Expected `name` to be a non-empty string, got `""` (string).');
  });
});
