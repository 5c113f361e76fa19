import { describe, expect, it } from 'vitest';
import { encode } from '../../runtime/codec.ts';
import { KIND_SEND, Letter, Mailbox, validateMailboxOptions } from '../../runtime/mailbox.ts';
import { AbortError, MailboxFullError, TimeoutError } from '../../index.ts';

const letter = (value: unknown): Letter => {
  const { payload, attachments, flags } = encode(value, 'message');
  return new Letter(KIND_SEND, 'a/0', 0, flags, payload, attachments);
};

describe('mailbox', () => {
  it('is FIFO', async () => {
    const box = new Mailbox('x/0');
    for (let i = 0; i < 3; i++) box.put(letter(i));
    expect(box.size).toBe(3);
    const got = [];
    for (let i = 0; i < 3; i++) got.push((await box.take())!.value);
    expect(got).toEqual([0, 1, 2]);
  });

  it('hands a letter straight to a waiting taker', async () => {
    const box = new Mailbox('x/0');
    const taken = box.take();
    box.put(letter('now'));
    expect((await taken)!.value).toBe('now');
    expect(box.size).toBe(0);
  });

  it('takes selectively and keeps the others in order', async () => {
    const box = new Mailbox('x/0');
    for (const v of [1, 'b', 2, 'c', 3]) box.put(letter(v));
    const isString = (m: unknown): m is string => typeof m === 'string';
    expect((await box.take({ match: isString }))!.value).toBe('b');
    const rest = [];
    while (box.size > 0) rest.push((await box.take())!.value);
    expect(rest).toEqual([1, 2, 'c', 3]);
  });

  it('a selective waiter lets non-matching letters queue', async () => {
    const box = new Mailbox('x/0');
    const waiting = box.take({ match: (m): m is 'yes' => m === 'yes', timeout: 5000 });
    box.put(letter('no'));
    box.put(letter('yes'));
    expect((await waiting)!.value).toBe('yes');
    expect((await box.take())!.value).toBe('no');
  });

  it('rejects with TimeoutError at its timeout, and with AbortError on abort', async () => {
    const box = new Mailbox('x/0');
    await expect(box.take({ timeout: 20 })).rejects.toBeInstanceOf(TimeoutError);
    const controller = new AbortController();
    const pending = box.take({ signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortError);
    // The aborted waiter is gone: the next letter stays queued.
    box.put(letter(1));
    expect(box.size).toBe(1);
  });

  it('ends waiters with null and refuses letters once closed', async () => {
    const box = new Mailbox('x/0');
    const waiting = box.take();
    box.put(letter(1));
    await waiting;
    const next = box.take();
    box.put(letter(2));
    await next;
    const blocked = box.take();
    box.put(letter(3));
    expect(box.close().map((l) => l.value)).toEqual([]);
    expect(await blocked).not.toBeNull();
    expect(await box.take()).toBeNull();
    expect(box.put(letter(4))).toBe(false);
  });

  it('bounds: fail throws MailboxFullError, drop-new refuses quietly', () => {
    const failing = new Mailbox('x/0', { max: 1, overflow: 'fail' });
    failing.put(letter(1));
    expect(() => failing.put(letter(2))).toThrow(MailboxFullError);
    const dropping = new Mailbox('x/0', { max: 1, overflow: 'drop-new' });
    expect(dropping.put(letter(1))).toBe(true);
    expect(dropping.put(letter(2))).toBe(false);
    expect(dropping.size).toBe(1);
  });

  it("with overflow 'block', holds back what does not fit and lets it in, in order, as room is made", async () => {
    const box = new Mailbox('x/0', { max: 2, overflow: 'block' });
    const admitted: number[] = [];
    for (let i = 0; i < 5; i++) expect(box.put(letter(i), () => admitted.push(i))).toBe(true);
    expect(admitted).toEqual([0, 1]);
    expect(box.size).toBe(2);
    expect((await box.take())!.value).toBe(0);
    expect(admitted).toEqual([0, 1, 2]);
    expect((await box.take())!.value).toBe(1);
    expect((await box.take())!.value).toBe(2);
    expect(admitted).toEqual([0, 1, 2, 3, 4]);
    expect([(await box.take())!.value, (await box.take())!.value]).toEqual([3, 4]);
  });

  it("with overflow 'block', lets a selective receive take a held-back letter, and releases them all on close", async () => {
    const box = new Mailbox('x/0', { max: 1, overflow: 'block' });
    const admitted: string[] = [];
    for (const v of ['a', 'b', 'wanted', 'c']) box.put(letter(v), () => admitted.push(v));
    const isWanted = (m: unknown): m is string => m === 'wanted';
    expect((await box.take({ match: isWanted, timeout: 1000 }))!.value).toBe('wanted');
    expect(admitted).toEqual(['a', 'wanted']);
    const left = box.close();
    expect(left.map((l) => l.value)).toEqual(['a', 'b', 'c']);
    expect(admitted).toEqual(['a', 'wanted', 'b', 'c']);
  });

  it('validates its options with a message naming the option', () => {
    expect(() => validateMailboxOptions({ max: -1 })).toThrow('Expected `mailbox.max` to be a positive integer, got `-1` (number).');
    expect(() => validateMailboxOptions({ overflow: 'wait' as never })).toThrow("Expected `mailbox.overflow` to be 'block', 'drop-new' or 'fail', got `\"wait\"` (string).");
    expect(validateMailboxOptions({ max: 2, overflow: 'block' })).toEqual({ max: 2, overflow: 'block' });
    expect(() => validateMailboxOptions(5)).toThrow('Expected `mailbox` to be an object');
  });
});
