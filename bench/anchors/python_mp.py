#!/usr/bin/env python3
"""Anchor: Python's multiprocessing, run by bench/run.ts beside troupe's numbers.

    python3 bench/anchors/python_mp.py <spawn|send|rtt|bulk> [--n N] [--repeat R]

stdout carries only JSON lines {"anchor","metric","value","unit"}; diagnostics go
to stderr. Standard library only.
"""
import json
import multiprocessing as mp
import os
import statistics
import sys
import threading
import time
from multiprocessing.connection import Connection

SAFETY_S = 120
MESSAGE = {'i': 0, 'body': 'hello'}

# ---- child bodies: module level, so the 'spawn' start method can import them ----
# Each announces 'ready' first, so the parent starts its clock once the child is up.


def child_ready(conn):
    conn.send('ready')
    try:
        conn.recv()  # stay alive until the parent ends us, as the Node children do
    except EOFError:
        pass


def child_queue_count(queue, n, conn):
    conn.send('ready')
    for _ in range(n):
        queue.get()
    conn.send('done')


def child_pipe_count(conn, n):
    conn.send('ready')
    for _ in range(n):
        conn.recv()
    conn.send('done')


def child_echo(conn):
    conn.send('ready')
    try:
        while True:
            conn.send(conn.recv())
    except EOFError:
        pass


def child_bytes(conn, n):
    conn.send('ready')
    conn.send(sum(len(conn.recv_bytes()) for _ in range(n)))


# ---- helpers --------------------------------------------------------------------


def emit(anchor, metric, value, unit):
    # json.dumps escapes µ and × to \u00b5/\u00d7: plain ASCII whatever the locale,
    # and JSON.parse in bench/run.ts reads it back as the same characters.
    print(json.dumps({'anchor': anchor, 'metric': metric, 'value': value, 'unit': unit}, separators=(',', ':')), flush=True)


def percentile(xs, p):
    # Same nearest-rank rule as bench/run.ts, so the percentiles are comparable.
    s = sorted(xs)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def stop(*procs):
    for p in procs:
        p.terminate()
    for p in procs:
        p.join()


def bail(why, code=1):
    print(f'python_mp: {why}', file=sys.stderr, flush=True)
    children = mp.active_children()
    for p in children:
        p.kill()
    for p in children:
        p.join(5)
    os._exit(code)  # not sys.exit: this may run on the timer thread


def start(ctx, target, *args):
    p = ctx.Process(target=target, args=args, daemon=True)
    p.start()
    # Drop our copy of the child's pipe ends: then a child that dies shows up
    # as EOFError in the parent instead of a recv() that waits forever.
    for a in args:
        if isinstance(a, Connection):
            a.close()
    return p


# ---- cases ----------------------------------------------------------------------


def spawn_case(opts):
    for method in ('fork', 'spawn'):
        ctx = mp.get_context(method)

        def one():
            t = time.perf_counter()
            parent, child = ctx.Pipe()
            p = start(ctx, child_ready, child)
            parent.recv()
            ms = (time.perf_counter() - t) * 1000
            stop(p)
            return ms

        # One unmeasured start first: warms the file cache and imports, as
        # bench/run.ts does for troupe.
        one()
        ones = [one() for _ in range(opts.get('repeat', 15))]
        emit(f'python Process.start ({method})', 'spawn_ready_ms', round(statistics.median(ones), 2), 'ms')

        twenties = []
        for _ in range(opts.get('repeat', 5)):
            t = time.perf_counter()
            pipes = [ctx.Pipe() for _ in range(20)]
            procs = [start(ctx, child_ready, child) for _, child in pipes]
            for parent, _ in pipes:
                parent.recv()
            twenties.append((time.perf_counter() - t) * 1000)
            stop(*procs)
        emit(f'python Process.start ({method}) ×20', 'spawn20_ready_ms', round(statistics.median(twenties), 2), 'ms')


# Fresh child per run, clock started once it is ready: the same shape as troupe's
# sendThroughput in bench/run.ts. Queue.put never blocks (a feeder thread pickles
# and writes), so the clock stops only when the child says it has seen all N.
def send_case(opts):
    n = opts.get('n', 200_000)
    ctx = mp.get_context()

    runs = []
    for _ in range(opts.get('repeat', 5)):
        queue = ctx.Queue()
        parent, child = ctx.Pipe()
        p = start(ctx, child_queue_count, queue, n, child)
        parent.recv()
        t = time.perf_counter()
        for i in range(n):
            queue.put({'i': i, 'body': 'hello'})
        parent.recv()
        runs.append(n / (time.perf_counter() - t))
        stop(p)
        queue.close()
        queue.join_thread()
    emit('python multiprocessing.Queue', 'send_msgs_per_s', round(statistics.median(runs)), 'msg/s')

    runs = []
    for _ in range(opts.get('repeat', 5)):
        parent, child = ctx.Pipe()
        p = start(ctx, child_pipe_count, child, n)
        parent.recv()
        t = time.perf_counter()
        for i in range(n):
            parent.send({'i': i, 'body': 'hello'})
        parent.recv()
        runs.append(n / (time.perf_counter() - t))
        stop(p)
    emit('python Pipe (Connection.send)', 'send_msgs_per_s', round(statistics.median(runs)), 'msg/s')


def rtt_case(opts):
    ctx = mp.get_context()
    parent, child = ctx.Pipe()
    p = start(ctx, child_echo, child)
    parent.recv()
    for _ in range(500):
        parent.send(MESSAGE)
        parent.recv()
    us = []
    for _ in range(opts.get('n', 5000)):
        t = time.perf_counter_ns()
        parent.send(MESSAGE)
        parent.recv()
        us.append((time.perf_counter_ns() - t) / 1000)
    stop(p)
    emit('python Pipe round trip', 'rtt_p50_us', round(percentile(us, 50), 1), 'µs')
    emit('python Pipe round trip', 'rtt_p99_us', round(percentile(us, 99), 1), 'µs')


# One ack at the end: send_bytes blocks once the socket buffer is full, which is
# all the backpressure needed. MB/s with 1 MB = 10^6 bytes.
def bulk_case(opts):
    n = opts.get('n', 200)
    buf = bytes(1024 * 1024)
    ctx = mp.get_context()
    runs = []
    for _ in range(opts.get('repeat', 5)):
        parent, child = ctx.Pipe()
        p = start(ctx, child_bytes, child, n)
        parent.recv()
        t = time.perf_counter()
        for _ in range(n):
            parent.send_bytes(buf)
        got = parent.recv()
        s = time.perf_counter() - t
        if got != n * len(buf):
            bail(f'child counted {got} bytes, expected {n * len(buf)}')
        runs.append(got / 1e6 / s)
        stop(p)
    emit('python Pipe.send_bytes', 'bulk_MBps', round(statistics.median(runs), 1), 'MB/s')


def parse(argv):
    usage = 'usage: python_mp.py <spawn|send|rtt|bulk> [--n N] [--repeat R]'
    if not argv or argv[0] not in CASES:
        bail(usage, 2)
    opts = {}
    rest = argv[1:]
    for flag, value in zip(rest[::2], rest[1::2]):
        if flag not in ('--n', '--repeat') or not value.isdigit() or int(value) < 1:
            bail(usage, 2)
        opts[flag[2:]] = int(value)
    return argv[0], opts


CASES = {'spawn': spawn_case, 'send': send_case, 'rtt': rtt_case, 'bulk': bulk_case}

if __name__ == '__main__':
    # A hung child must not hang the harness. Daemon, so it never delays a normal exit.
    timer = threading.Timer(SAFETY_S, bail, args=(f'gave up after {SAFETY_S} s',))
    timer.daemon = True
    timer.start()
    case, opts = parse(sys.argv[1:])
    try:
        CASES[case](opts)
    except BaseException as e:  # includes KeyboardInterrupt: still reap the children
        import traceback
        traceback.print_exc()
        bail(f'{case} failed: {e!r}')
    for p in mp.active_children():
        p.kill()
        p.join()
