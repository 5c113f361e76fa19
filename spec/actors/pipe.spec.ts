import { describe, expect, it } from 'vitest';
import { AbortError, BrokenPipeError, ClosedError, EOFError, InvalidArgumentError, JoinableQueue, Pipe, PipeDirectionError, Queue, SpawnError, TimeoutError, current, node, spawn, wait, type ActorRef, type Connection } from '../../index.ts';
import { decode, encode } from '../../runtime/codec.ts';
import { echoEnd, handsOnAndCloses, putsEndThenCloses, endedChildHost, repliesWithEndLate, echoFromMessage, echoFromMessageWhenLetIn, handsEndOn, holdsEnd, pipeMaker, putsEndAndReturns, putsEndWithin, saysOnEndFromPipe, saysOnEndFoundInItem, saysOnEndFromQueue, saysOnEndFromQueueAndHangs, sendsEndThrough, sendAndExit, streamingSender, throwsHoldingEnd } from '../fixtures/queues.ts';
import { callsThenGivesUp, quick, waiter } from '../fixtures/actors.ts';
import { reap } from '../helpers.ts';

describe('Pipe', () => {
  it('connects two ends both ways, keeping order', async () => {
    const [a, b] = Pipe<string, string>();
    await a.send('one');
    await a.send('two');
    await b.send('back');
    expect(await b.recv()).toBe('one');
    expect(await b.recv()).toBe('two');
    expect(await a.recv()).toBe('back');
    await a.close();
    await b.close();
  });

  it("echoes through an actor holding the other end (Python's uppercase example)", async () => {
    const [here, there] = Pipe<string, string>();
    const echo = reap(spawn(echoEnd, { args: [there] }));
    for (const word of ['hello', 'pipe']) {
      await here.send(word);
      expect(await here.recv({ timeout: 20_000 })).toBe(word.toUpperCase());
    }
    await here.close();
    expect(await echo.join({ timeout: 10_000 })).toBe(0);
  });

  it('gives the other end a large buffer as it was sent, though its sender in the same process changed it after send() resolved', async () => {
    const [a, b] = Pipe<Buffer>();
    const buffer = Buffer.alloc(256 * 1024, 1);
    await a.send(buffer);
    buffer.fill(9);
    // Before, both ends in this process: the other end read the very buffer, 9.
    expect((await b.recv({ timeout: 5000 }))[0]).toBe(1);
    await Promise.all([a.close(), b.close()]);
  });

  it('ends travel inside messages too', async () => {
    const [here, there] = Pipe<number, number>();
    const echo = reap(spawn(echoFromMessage));
    echo.send({ end: there });
    await here.send(42);
    expect(await here.recv({ timeout: 20_000 })).toBe(42);
    await here.close();
    expect(await echo.join({ timeout: 10_000 })).toBe(0);
  });

  it('round-trips a 16 MiB payload through an actor', async () => {
    const [here, there] = Pipe<Buffer, Buffer>();
    const echo = reap(spawn(echoEnd, { args: [there] }));
    const big = Buffer.alloc(16 << 20);
    for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
    await here.send(big);
    const back = await here.recv({ timeout: 30_000 });
    expect(back.length).toBe(big.length);
    expect(back.equals(big)).toBe(true);
    await here.close();
    expect(await echo.join({ timeout: 10_000 })).toBe(0);
  });

  it('one-way pipes are [reader, writer] and refuse the wrong direction', async () => {
    const [reader, writer] = Pipe<number, number>({ duplex: false });
    expect([reader.readable, reader.writable, writer.readable, writer.writable]).toEqual([true, false, false, true]);
    const err = await reader.send(1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipeDirectionError);
    expect((err as PipeDirectionError).code).toBe('ERR_WRONG_DIRECTION');
    await expect(writer.recv()).rejects.toBeInstanceOf(PipeDirectionError);
    await expect(writer.poll()).rejects.toBeInstanceOf(PipeDirectionError);
    await writer.send(5);
    expect(await reader.recv()).toBe(5);
    await reader.close();
    await writer.close();
  });

  it('gives EOF once the messages sent before the peer closed are read', async () => {
    const [a, b] = Pipe<number, number>();
    await a.send(1);
    await a.send(2);
    await a.close();
    expect(await b.recv()).toBe(1);
    expect(await b.poll()).toBe(true);
    expect(await b.recv()).toBe(2);
    expect(await b.poll()).toBe(true); // EOF: recv would not wait
    const err = await b.recv().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EOFError);
    expect((err as EOFError).code).toBe('ERR_EOF');
    await expect(b.send(3)).rejects.toBeInstanceOf(BrokenPipeError);
    await b.close();
  });

  it('wakes a waiting recv with EOF when the peer closes', async () => {
    const [a, b] = Pipe();
    const waiting = b.recv({ timeout: 20_000 }).catch((e: unknown) => e);
    await a.close();
    expect(await waiting).toBeInstanceOf(EOFError);
    await b.close();
  });

  it('gives EOF when the process that used the other end ends without closing it', async () => {
    const [here, there] = Pipe<number, number>();
    const sender = reap(spawn(sendAndExit, { args: [there, 3] }));
    expect(await sender.join({ timeout: 20_000 })).toBe(0);
    expect([await here.recv(), await here.recv(), await here.recv()]).toEqual([0, 1, 2]);
    await expect(here.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    await here.close();
  });

  it('loses nothing a sender sent without awaiting just before it returned', async () => {
    const [here, there] = Pipe<number, number>();
    const sender = reap(spawn(streamingSender, { args: [there, 150] }));
    expect(await sender.join({ timeout: 20_000 })).toBe(0);
    const got: number[] = [];
    // Before, the sends after the last full hundred were gathered for a turn the process never had.
    for (;;) {
      try {
        got.push(await here.recv({ timeout: 10_000 }));
      } catch (err) {
        expect(err).toBeInstanceOf(EOFError);
        break;
      }
    }
    expect(got).toEqual(Array.from({ length: 150 }, (_, i) => i));
    await here.close();
  });

  it("leaves an end the parent handed a child and then closed to the child, as Python's test_spawn_close does", async () => {
    const [conn, childConn] = Pipe();
    const child = reap(spawn(echoEnd, { args: [childConn] }));
    // Python's idiom: the parent closes its copy of the child's end once the child has it.
    await childConn.close();
    expect(childConn.closed).toBe(true);
    await conn.send('hello');
    // Before, close() in the parent closed the end for the child too: this recv() was EOFError.
    expect(await conn.recv({ timeout: 20_000 })).toBe('HELLO');
    await conn.close();
    // The child reads EOF and returns; its end goes with it.
    expect(await child.join({ timeout: 20_000 })).toBe(0);
  });

  it('counts an end handed on in a message, or put in a queue, before the copy closed in the same turn', async () => {
    // Handed on, then closed there: the receiver holds it; once it closes its copy too, the other end reads EOF,
    // though the process that handed it on lives on.
    const [a, b] = Pipe<string, string>();
    const relay = reap(spawn(handsOnAndCloses, { args: [b, current().self] }));
    const { end } = (await current().receive({ match: (m): m is object => typeof m === 'object' && m !== null && 'end' in m, timeout: 20_000 })) as { end: typeof b };
    await end.send('through');
    await end.close();
    expect(await a.recv({ timeout: 20_000 })).toBe('through');
    // Before, the relay's own hold of the end reached the pipe after its close: it held the end until it ended.
    await expect(a.recv({ timeout: 20_000 })).rejects.toBeInstanceOf(EOFError);
    await relay.stop();
    // Put in a queue by a put not awaited, then closed: the copy in the queue keeps it open for its taker.
    const [c, d] = Pipe<string, string>();
    const queue = new Queue<typeof d>();
    const putter = reap(spawn(putsEndThenCloses, { args: [queue, d] }));
    expect(await putter.join({ timeout: 20_000 })).toBe(0);
    const taken = await queue.get({ timeout: 20_000 });
    // Before, the close went out ahead of the put: the end was closed for good, this send ClosedError.
    await taken.send('queued');
    expect(await c.recv({ timeout: 20_000 })).toBe('queued');
    await taken.close();
    await expect(c.recv({ timeout: 20_000 })).rejects.toBeInstanceOf(EOFError);
    await queue.close();
  });

  it('fails a recv or poll still waiting on a copy closed here with ClosedError, another process holding the end', async () => {
    const [a, b] = Pipe<string, string>();
    const holder = reap(spawn(holdsEnd, { args: [a] }));
    await holder.ready;
    const waiting = a.recv({ timeout: 20_000 }).catch((e: unknown) => e);
    const polling = a.poll({ timeout: 20_000 }).catch((e: unknown) => e);
    await a.close();
    // Before, the recv went on waiting, and took the next message sent to the holder's copy.
    expect(await waiting).toBeInstanceOf(ClosedError);
    expect(await polling).toBeInstanceOf(ClosedError);
    await b.send('for the holder');
    await holder.stop();
  });

  it('refuses use of an end after its own close() with ClosedError', async () => {
    const [a, b] = Pipe();
    await a.close();
    await a.close(); // idempotent
    expect(a.closed).toBe(true);
    await expect(a.send(1)).rejects.toBeInstanceOf(ClosedError);
    await expect(a.recv()).rejects.toBeInstanceOf(ClosedError);
    await b.close();
  });

  it('refuses an end closed through another copy of it with ClosedError, not EOF', async () => {
    const [a, b] = Pipe();
    const { payload, attachments, flags } = encode(a, 'message');
    const copy = decode(payload, attachments, flags) as typeof a;
    await copy.close();
    expect(a.closed).toBe(false);
    await expect(a.recv()).rejects.toBeInstanceOf(ClosedError);
    await expect(a.send(1)).rejects.toBeInstanceOf(ClosedError);
    await expect(b.recv()).rejects.toBeInstanceOf(EOFError);
    await b.close();
  });

  it('polls with a timeout and receives with a timeout', async () => {
    const [a, b] = Pipe<string, string>();
    expect(await b.poll()).toBe(false);
    expect(await b.poll({ timeout: -1 })).toBe(false); // at once, as Python's poll(-1)
    let t = performance.now();
    expect(await b.poll({ timeout: 150 })).toBe(false);
    expect(performance.now() - t).toBeGreaterThanOrEqual(140);
    const polled = b.poll({ timeout: 20_000 });
    await a.send('x');
    expect(await polled).toBe(true);
    expect(await b.poll({ timeout: -1 })).toBe(true);
    expect(await b.recv()).toBe('x');
    t = performance.now();
    await expect(b.recv({ timeout: 150 })).rejects.toBeInstanceOf(TimeoutError);
    expect(performance.now() - t).toBeGreaterThanOrEqual(140);
    await a.close();
    await b.close();
  });

  it('sends and receives bytes with Python’s checks on offset, size and maxLength', async () => {
    const [a, b] = Pipe();
    const buf = Buffer.from('hello world');
    await a.sendBytes(buf, 6);
    expect((await b.recvBytes()).toString()).toBe('world');
    await a.sendBytes(buf, 0, 5);
    expect((await b.recvBytes({ maxLength: 5 })).toString()).toBe('hello');
    await a.sendBytes(buf, buf.length); // offset == length: an empty message, still a message
    expect((await b.recvBytes()).length).toBe(0);
    await expect(a.sendBytes(buf, -1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(a.sendBytes(buf, 0, 20)).rejects.toThrow(/size/);
    await expect(a.sendBytes(buf, 12)).rejects.toThrow(/offset/);
    await a.sendBytes(buf);
    await expect(b.recvBytes({ maxLength: 4 })).rejects.toThrow(/more than maxLength 4/);
    await a.send('text');
    await expect(b.recvBytes()).rejects.toThrow(/not bytes/);
    // Not taken: the message that is not bytes is still the next one (before, it was lost).
    expect(await b.recv({ timeout: 10_000 })).toBe('text');
    await a.close();
    await b.close();
  });

  it('finds a message sent on one end by a poll() on the other made right after, in the same process', async () => {
    const [a, b] = Pipe();
    void b.sendBytes(Buffer.alloc(0));
    expect(await a.poll()).toBe(true);
    expect((await a.recvBytes()).length).toBe(0);
    void b.send(1);
    expect(await a.poll()).toBe(true);
    expect(await a.recv({ timeout: 10_000 })).toBe(1);
    await a.close();
    await b.close();
  });

  it('wait() resolves the ends ready to receive, or [] at its timeout', async () => {
    const [a1, b1] = Pipe();
    const [a2, b2] = Pipe();
    const t = performance.now();
    expect(await wait([b1, b2], { timeout: 100 })).toEqual([]);
    expect(performance.now() - t).toBeGreaterThanOrEqual(90);
    const waiting = wait([b1, b2], { timeout: 20_000 });
    await a2.send('x');
    expect(await waiting).toEqual([b2]);
    await a1.close(); // EOF counts as ready
    expect(await wait([b1, b2])).toEqual([b1, b2]);
    await expect(wait(['nope' as never])).rejects.toBeInstanceOf(InvalidArgumentError);
    for (const end of [a2, b1, b2]) await end.close();
  });

  it('wait() takes child actors beside pipe ends, ready once ended (Python\'s sentinels), and a negative timeout does not wait', async () => {
    const [a, b] = Pipe();
    const child = reap(spawn(waiter));
    await child.ready;
    expect(await wait([b, child], { timeout: -1 })).toEqual([]);
    expect(await wait([child], { timeout: 0 })).toEqual([]);
    const waiting = wait([b, child], { timeout: 20_000 });
    child.kill();
    expect(await waiting).toEqual([child]);
    await a.send('x');
    expect(await wait([b, child], { timeout: -5 })).toEqual([b, child]);
    await expect(wait([child.parent as never])).rejects.toThrow(/pipe ends \(Connection\) and child actors \(ChildRef\)/);
    await a.close();
    await b.close();
  });

  it("wait() fails for an end closed here or write-only, as Python's does, counts an end whose pipe is gone as ready, and takes a signal", async () => {
    const [a, b] = Pipe();
    await a.close();
    // Before, each counted as never ready: wait() answered [] at once, or waited out its timeout.
    await expect(wait([a])).rejects.toBeInstanceOf(ClosedError);
    await expect(wait([a, b], { timeout: 20_000 })).rejects.toBeInstanceOf(ClosedError);
    const [r, w] = Pipe({ duplex: false });
    await expect(wait([w as Connection], { timeout: 20_000 })).rejects.toBeInstanceOf(PipeDirectionError);
    const controller = new AbortController();
    const waiting = wait([r], { signal: controller.signal });
    controller.abort(new Error('enough'));
    await expect(waiting).rejects.toBeInstanceOf(AbortError);
    const maker = reap(spawn(pipeMaker));
    const { end } = await current().receive({ match: (m): m is { end: Connection } => typeof m === 'object' && m !== null && 'end' in m, timeout: 20_000 });
    expect(await maker.join({ timeout: 20_000 })).toBe(0);
    // Its pipe went with its maker: recv() gives EOFError at once, so poll() says it would not wait.
    expect(await end.poll()).toBe(true);
    expect(await wait([end, r], { timeout: 20_000 })).toEqual([end]);
    await expect(end.recv()).rejects.toBeInstanceOf(EOFError);
    for (const e of [b, r, w]) await e.close();
  });

  it('reads EOF when the process that received the other end dies before it used it (Python would hang)', async () => {
    const [a, b] = Pipe();
    const child = reap(spawn(throwsHoldingEnd, { args: [a] }));
    expect(await child.join({ timeout: 20_000 })).toBe(1);
    // Before, an end never used belonged to nobody, and this waited for ever.
    await expect(b.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    await b.close();
  });

  it('reads EOF when the child given the other end is killed before it even decoded its args', async () => {
    const [a, b] = Pipe();
    const child = spawn(holdsEnd, { args: [b] });
    child.kill();
    expect(await child.join({ timeout: 20_000 })).toBe(-9);
    // Before, the child had not said it held the end: nobody did, and this waited for ever.
    await expect(a.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    await expect(a.send('lost?')).rejects.toBeInstanceOf(BrokenPipeError);
    await a.close();
  });

  it('keeps an end open for the actor it was handed on to, though the one that handed it on has ended', async () => {
    const [a, b] = Pipe();
    const gate = new Queue<string>();
    const taker = reap(spawn(echoFromMessageWhenLetIn, { args: [gate] }));
    const giver = reap(spawn(handsEndOn, { args: [b, taker] }));
    expect(await giver.join({ timeout: 20_000 })).toBe(0);
    // The taker has not decoded its message yet. Before, the giver's end closed the end it handed on:
    // this send got BrokenPipeError, and the taker's sends ClosedError.
    await a.send('through the taker');
    await gate.put('go');
    // It echoes in capitals.
    expect(await a.recv({ timeout: 20_000 })).toBe('THROUGH THE TAKER');
    await a.close();
    expect(await taker.join({ timeout: 20_000 })).toBe(0);
    await gate.close();
  });

  it('gives EOF once the actor that took an end from a queue, or through another pipe, has used it and ended', async () => {
    // Before, the queue's (or the other pipe's) service held the end as it kept it, in this process: EOF never came.
    const [a, b] = Pipe<never, string>();
    const queue = new Queue<Connection<string, never>>();
    await queue.put(b);
    const viaQueue = reap(spawn(saysOnEndFromQueue, { args: [queue, 'via a queue'] }));
    expect(await viaQueue.join({ timeout: 20_000 })).toBe(0);
    expect(await a.recv({ timeout: 20_000 })).toBe('via a queue');
    await expect(a.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    await queue.close();

    const [c, d] = Pipe<never, string>();
    const [there, here] = Pipe<Connection<string, never>, never>();
    const viaPipe = reap(spawn(saysOnEndFromPipe, { args: [here, 'via a pipe'] }));
    await there.send(d);
    expect(await viaPipe.join({ timeout: 20_000 })).toBe(0);
    expect(await c.recv({ timeout: 20_000 })).toBe('via a pipe');
    await expect(c.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    await expect(there.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
  });

  it('keeps an end open while it waits in a queue, though the actor that put it there has ended', async () => {
    const [a, b] = Pipe<never, string>();
    const queue = new Queue<Connection<string, never>>();
    const putter = reap(spawn(putsEndAndReturns, { args: [queue, b] }));
    expect(await putter.join({ timeout: 20_000 })).toBe(0);
    // The putter held the end and ended; the copy in the queue is nobody's yet, and the end stays open for it.
    expect(await a.poll({ timeout: 300 })).toBe(false);
    const taker = reap(spawn(saysOnEndFromQueue, { args: [queue, 'taken later'] }));
    expect(await taker.join({ timeout: 20_000 })).toBe(0);
    expect(await a.recv({ timeout: 20_000 })).toBe('taken later');
    await expect(a.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    await queue.close();
  });

  it('leaves an end open that went to an actor that had ended, or to a spawn that failed: it was never theirs', async () => {
    const [a, b] = Pipe();
    const gone = spawn(quick);
    expect(await gone.join({ timeout: 20_000 })).toBe(0);
    gone.send({ end: b }); // a dead letter
    const failed = spawn(holdsEnd, { args: [b], cwd: '/no/such/directory' });
    await expect(failed.ready).rejects.toBeInstanceOf(SpawnError);
    // Each was told it held the end as it was sent: before their downs were taken for its end, and it was closed.
    const echoer = reap(spawn(echoEnd, { args: [b] }));
    await a.send('still open');
    expect(await a.recv({ timeout: 20_000 })).toBe('STILL OPEN');
    await a.close();
    expect(await echoer.join({ timeout: 20_000 })).toBe(0);
  });

  it('keeps an end taken from a JoinableQueue open for the next taker when the first is killed before taskDone(), and closes it once that one ends', async () => {
    const [a, b] = Pipe<never, string>();
    const queue = new JoinableQueue<Connection<string, never>>();
    await queue.put(b);
    const first = spawn(saysOnEndFromQueueAndHangs, { args: [queue, 'first'] });
    expect(await a.recv({ timeout: 20_000 })).toBe('first');
    first.kill();
    expect(await first.join({ timeout: 20_000 })).toBe(-9);
    // The item went back, its copy of the end with it. Before, that copy had landed as the first taker
    // decoded it: the end closed at its death, and the second taker's send was a ClosedError.
    const second = reap(spawn(saysOnEndFromQueue, { args: [queue, 'second'] }));
    expect(await second.join({ timeout: 20_000 })).toBe(0);
    expect(await a.recv({ timeout: 20_000 })).toBe('second');
    await expect(a.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    await queue.close();
  });

  it('keeps an end open for each item that holds it, though both went in one message as one copy, and lands one in an error\'s cause', async () => {
    const [a, b] = Pipe<never, string>();
    const queue = new Queue<unknown>();
    // One turn, one message: the codec sends the end once, for both items.
    void queue.put(b);
    await queue.put(b);
    const first = reap(spawn(saysOnEndFoundInItem, { args: [queue, 'one'] }));
    expect(await first.join({ timeout: 20_000 })).toBe(0);
    expect(await a.recv({ timeout: 20_000 })).toBe('one');
    // Before, the first item's confirmation landed the copy the second still holds: EOF here.
    expect(await a.poll({ timeout: 300 })).toBe(false);
    const second = reap(spawn(saysOnEndFoundInItem, { args: [queue, 'two'] }));
    expect(await second.join({ timeout: 20_000 })).toBe(0);
    expect(await a.recv({ timeout: 20_000 })).toBe('two');
    await expect(a.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);

    const [c, d] = Pipe<never, string>();
    await queue.put(new Error('carrier', { cause: d }));
    const third = reap(spawn(saysOnEndFoundInItem, { args: [queue, 'in a cause'] }));
    expect(await third.join({ timeout: 20_000 })).toBe(0);
    expect(await c.recv({ timeout: 20_000 })).toBe('in a cause');
    // Before, a copy in a cause (which Object.values() does not see) never landed.
    await expect(c.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    await queue.close();
  });

  it('gives EOF once its holder ended, though a put of the end was refused (the copy in it was never kept)', async () => {
    const [a, b] = Pipe();
    const queue = new Queue<unknown>({ maxsize: 1 });
    await queue.put('the only room');
    const putter = reap(spawn(putsEndWithin, { args: [queue, b, 0] }));
    expect(await current().receive({ timeout: 20_000 })).toEqual({ refused: 'QueueFullError' });
    expect(await putter.join({ timeout: 20_000 })).toBe(0);
    // Before, the refused copy stayed in flight for as long as the queue's process lived.
    await expect(a.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    await queue.close();
  });

  it('gives EOF when the only holder sent the end to an actor that had ended, and ended: the dead letter is nobody\'s', async () => {
    const [a, b] = Pipe();
    const gone = spawn(quick);
    expect(await gone.join({ timeout: 20_000 })).toBe(0);
    const giver = reap(spawn(handsEndOn, { args: [b, gone] }));
    expect(await giver.join({ timeout: 20_000 })).toBe(0);
    // Before, the process that decoded the dead letter (for its deadLetter event) held the end from then on.
    await expect(a.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
  });

  it('gives EOF once its holder ended, though its copy was given up: a put that waited past its timeout, a put to a queue freed since, a message a close() threw away', async () => {
    const [a, b] = Pipe();
    const full = new Queue<unknown>({ maxsize: 1 });
    await full.put('the only room');
    const waited = reap(spawn(putsEndWithin, { args: [full, b, 200] }));
    expect(await current().receive({ timeout: 20_000 })).toEqual({ refused: 'QueueFullError' });
    expect(await waited.join({ timeout: 20_000 })).toBe(0);
    await expect(a.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    await full.close();

    const [c, d] = Pipe();
    const freed = new Queue<unknown>();
    await freed.close(); // closed and empty: its service goes, and the put below reaches nobody
    const late = reap(spawn(putsEndWithin, { args: [freed, d, 20_000] }));
    expect(await current().receive({ timeout: 20_000 })).toEqual({ refused: 'ClosedError' });
    expect(await late.join({ timeout: 20_000 })).toBe(0);
    await expect(c.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);

    const [e, f] = Pipe();
    const [there, here] = Pipe();
    const sender = reap(spawn(sendsEndThrough, { args: [there, f] }));
    expect(await sender.join({ timeout: 20_000 })).toBe(0);
    await here.close(); // what was sent to it, unread, goes
    await expect(e.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
  });

  it('gives EOF when the end\'s only holder answered a call with it after the caller gave up, and ended', async () => {
    const [a, b] = Pipe();
    const replier = reap(spawn(repliesWithEndLate, { args: [b] }));
    const controller = new AbortController();
    const asked = replier.call('the end, please', { signal: controller.signal });
    expect(await current().receive({ match: (m) => m === 'taken', timeout: 20_000 })).toBe('taken');
    controller.abort();
    await expect(asked).rejects.toBeInstanceOf(AbortError);
    replier.send('go');
    expect(await replier.join({ timeout: 20_000 })).toBe(0);
    // The reply was announced to this process and dropped unread. Before, this process held the end
    // from the announcement on, for as long as it lived: this recv() waited for ever.
    await expect(a.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
  });

  it('gives EOF when the end\'s only holder answered a call from another child with it after that child gave up, while that child lives on', async () => {
    const [a, b] = Pipe();
    const replier = reap(spawn(repliesWithEndLate, { args: [b] }));
    const caller = reap(spawn(callsThenGivesUp, { args: [replier] }));
    expect(await current().receive({ match: (m) => m === 'taken', timeout: 20_000 })).toBe('taken');
    caller.send('abort');
    expect(await current().receive({ timeout: 20_000 })).toEqual({ call: 'gave up' });
    replier.send('go');
    expect(await replier.join({ timeout: 20_000 })).toBe(0);
    // Before, a caller whose process had not loaded the actors layer dropped the late reply without
    // decoding it, and held the end announced to it for as long as it lived.
    await expect(a.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    caller.send('end');
    expect(await caller.join({ timeout: 20_000 })).toBe(0);
  });

  it('gives EOF when the only holder sent the end to a grandchild that had ended, whichever down comes first', async () => {
    const [a, b] = Pipe();
    const host = reap(spawn(endedChildHost));
    const { ended } = (await current().receive({ timeout: 20_000 })) as { ended: ActorRef };
    const giver = reap(spawn(handsEndOn, { args: [b, ended] }));
    expect(await giver.join({ timeout: 20_000 })).toBe(0);
    // The ended grandchild's down (it never ran the end) came after the giver's: before, its end left
    // nobody holding the end, and closed nothing.
    await expect(a.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    host.send('end');
    expect(await host.join({ timeout: 20_000 })).toBe(0);
  });

  it('confirms what one end took for that end alone: a message refused by recvBytes() on one end neither goes nor comes back on the other', async () => {
    const [a, b] = Pipe();
    await a.send('to b');
    await b.send('to a');
    const [refused, got] = await Promise.allSettled([b.recvBytes(), a.recv({ timeout: 10_000 })]);
    expect(refused.status).toBe('rejected');
    expect(got).toEqual({ status: 'fulfilled', value: 'to a' });
    // Each end numbers its messages from 1: before, b's give-back of its first put a's first back too.
    expect(await b.recv({ timeout: 10_000 })).toBe('to b');
    expect(await a.poll()).toBe(false);
    await a.send('again');
    await b.recv({ timeout: 10_000 });
    // And a's take, confirmed, confirmed b's first too: refused again, it was gone.
    await b.send('to a 2');
    await expect(a.recvBytes()).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await a.recv({ timeout: 10_000 })).toBe('to a 2');
    await a.close();
    await b.close();
  });

  it('keeps what was sent to an end whose only holder died for the process that made the pipe (Python\'s test_boundaries)', async () => {
    const [r, w] = Pipe({ duplex: false });
    await w.send('first');
    await w.send('second');
    const child = reap(spawn(throwsHoldingEnd, { args: [r] }));
    expect(await child.join({ timeout: 20_000 })).toBe(1);
    // Before, the two messages were dropped and this recv() failed with ClosedError, no close() called.
    expect(await r.recv({ timeout: 10_000 })).toBe('first');
    expect(await r.poll()).toBe(true);
    expect(await r.recv({ timeout: 10_000 })).toBe('second');
    // Then EOF; and nobody reads what the writer sends now.
    await expect(r.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    await expect(w.send('third')).rejects.toBeInstanceOf(BrokenPipeError);
    await w.close();
    await r.close();
    // Left unread, an abandoned end's messages go with its close(), and with them the pipe's service.
    const before = node().openServices;
    const [r2, w2] = Pipe({ duplex: false });
    await w2.send('unread');
    const holder = reap(spawn(throwsHoldingEnd, { args: [r2] }));
    expect(await holder.join({ timeout: 20_000 })).toBe(1);
    await w2.close();
    await r2.close();
    expect(node().openServices).toBe(before);
  });

  it('answers on an end whose processes ended, once its pipe is done, as while it lived: recv() EOF, poll() true, send() ClosedError saying why', async () => {
    const before = node().openServices;
    const [a, b] = Pipe();
    const holder = reap(spawn(throwsHoldingEnd, { args: [b] }));
    await a.close();
    expect(await holder.join({ timeout: 20_000 })).toBe(1);
    // a closed, and every process that received b ended: the pipe's service is gone.
    expect(node().openServices).toBe(before);
    // Before, poll() was ClosedError where recv() gave EOF, and send() said "this end is closed" only.
    const refused = await b.send('late').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ClosedError);
    expect((refused as Error).message).toContain('every process that received or used one ended');
    expect(await b.poll()).toBe(true);
    expect(await b.poll({ timeout: 10_000 })).toBe(true);
    await expect(b.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    await b.close();
    await expect(b.send('closed here')).rejects.toBeInstanceOf(ClosedError);
  });

  it('rejects bad options, and frees its service once both ends are closed (1,000 cycles)', async () => {
    expect(() => Pipe({ duplex: 'yes' as never })).toThrow(InvalidArgumentError);
    const before = node().openServices;
    for (let i = 0; i < 1000; i++) {
      const [a, b] = Pipe<number, number>();
      await a.send(i);
      expect(await b.recv()).toBe(i);
      await a.close();
      await b.close();
    }
    expect(node().openServices).toBe(before);
  });
});
