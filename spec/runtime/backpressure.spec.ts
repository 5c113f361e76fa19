import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../runtime/codec.ts';
import { ActorRef, Queue, register, sendNamed, spawn } from '../../index.ts';
import { lateReader } from '../fixtures/queues.ts';
import { waiter } from '../fixtures/actors.ts';
import { reap } from '../helpers.ts';

describe("bounded mailboxes with overflow 'block'", () => {
  it('make send() wait for room: the sender goes at the reader’s pace, nothing is dropped or reordered', async () => {
    const control = new Queue<string>();
    const report = new Queue<unknown>();
    const reader = reap(spawn(lateReader, { args: [control, report, 20], mailbox: { max: 5, overflow: 'block' } }));
    await reader.ready;
    expect(reader.blocking).toBe(true);
    for (let i = 0; i < 5; i++) await reader.send(i); // these fit
    let admitted = false;
    const sixth = reader.send(5).then(() => (admitted = true));
    // A round trip with the reader, behind the sixth message on the same link: had the sixth been let in, its answer would be here first.
    await control.put('ping');
    expect(await report.get({ timeout: 20_000 })).toBe('pong');
    expect(admitted).toBe(false);
    await control.put('go');
    await sixth;
    for (let i = 6; i < 20; i++) await reader.send(i);
    expect(await report.get({ timeout: 20_000 })).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(await reader.join({ timeout: 10_000 })).toBe(0);
    await control.close();
    await report.close();
  });

  it('make sendNamed() wait for room as send() does', async () => {
    const control = new Queue<string>();
    const report = new Queue<unknown>();
    const reader = reap(spawn(lateReader, { args: [control, report, 6], mailbox: { max: 5, overflow: 'block' } }));
    await register('late-reader', reader);
    for (let i = 0; i < 5; i++) await sendNamed('late-reader', i);
    let admitted = false;
    // Before, it resolved at once: the ref's send() promise was dropped.
    const sixth = sendNamed('late-reader', 5).then(() => (admitted = true));
    await control.put('ping');
    expect(await report.get({ timeout: 20_000 })).toBe('pong');
    expect(admitted).toBe(false);
    await control.put('go');
    await sixth;
    expect(await report.get({ timeout: 20_000 })).toEqual([0, 1, 2, 3, 4, 5]);
    await control.close();
    await report.close();
  });

  it('travel with refs: a ref to a blocking actor, sent in a message, blocks too', () => {
    const roundTrip = (ref: ActorRef): ActorRef => {
      const { payload, attachments, flags } = encode({ ref }, 'message');
      return (decode(payload, attachments, flags) as { ref: ActorRef }).ref;
    };
    expect(roundTrip(new ActorRef('x/0', 'x', true)).blocking).toBe(true);
    expect(roundTrip(new ActorRef('x/0', 'x')).blocking).toBe(false);
  });

  it('release a waiting sender when the reader dies', async () => {
    const reader = reap(spawn(waiter, { mailbox: { max: 1, overflow: 'block' } }));
    await reader.ready;
    await reader.send('fits');
    const stuck = reader.send('waits');
    reader.kill();
    await expect(Promise.race([stuck.then(() => 'released'), new Promise((r) => setTimeout(() => r('still waiting'), 15_000))])).resolves.toBe('released');
    await reader.join({ timeout: 10_000 });
  });
});
