#!/usr/bin/env python3
"""Anchor: multiprocessing's Lock and Value, run by bench/run.ts beside troupe's sync figures.

    python3 bench/anchors/python_sync.py [--n N]

Measured as bench/sync.ts measures troupe: each loop runs in a child process
(start method fork) on a primitive made by the parent. stdout carries only JSON
lines {"anchor","metric","value","unit"}; diagnostics go to stderr. Standard
library only.
"""
import json
import multiprocessing as mp
import sys
import time


def emit(anchor, metric, value, unit):
    print(json.dumps({'anchor': anchor, 'metric': metric, 'value': value, 'unit': unit}, separators=(',', ':')), flush=True)


def lock_cycles(lock, n, conn):
    for _ in range(200):
        with lock:
            pass
    t = time.perf_counter()
    for _ in range(n):
        with lock:
            pass
    conn.send((time.perf_counter() - t) * 1e6 / n)


def lock_contender(lock, n, go, conn):
    conn.send('ready')
    go.wait(60)
    for _ in range(n):
        with lock:
            pass
    conn.send('done')


def value_increments(value, n, conn):
    # Python's Value has no atomic add: `with get_lock(): value += 1` is the
    # way to add without losing updates, so it stands beside both troupe rows.
    for _ in range(200):
        with value.get_lock():
            value.value += 1
    t = time.perf_counter()
    for _ in range(n):
        with value.get_lock():
            value.value += 1
    conn.send(n / (time.perf_counter() - t))


def main():
    args = sys.argv[1:]
    n = int(args[args.index('--n') + 1]) if '--n' in args else 100_000
    ctx = mp.get_context('fork')

    lock = ctx.Lock()
    parent, child = ctx.Pipe()
    p = ctx.Process(target=lock_cycles, args=(lock, n, child))
    p.start()
    emit('python mp.Lock, with lock: (child)', 'lock_rtt_us', round(parent.recv(), 3), 'µs')
    p.join()

    go = ctx.Event()
    pipes = [ctx.Pipe() for _ in range(2)]
    procs = [ctx.Process(target=lock_contender, args=(lock, n, go, c)) for _, c in pipes]
    for q in procs:
        q.start()
    for r, _ in pipes:
        r.recv()
    t = time.perf_counter()
    go.set()
    for r, _ in pipes:
        r.recv()
    emit('python mp.Lock, 2 processes contending', 'lock_contended_per_s', round(2 * n / (time.perf_counter() - t)), 'acq/s')
    for q in procs:
        q.join()

    value = ctx.Value('i', 0)
    parent, child = ctx.Pipe()
    p = ctx.Process(target=value_increments, args=(value, n, child))
    p.start()
    emit('python Value, get_lock() and += 1 (child)', 'value_inc_per_s', round(parent.recv()), 'ops/s')
    p.join()


if __name__ == '__main__':
    main()
