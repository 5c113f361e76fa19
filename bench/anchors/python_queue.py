#!/usr/bin/env python3
"""Anchor: multiprocessing.Queue throughput, run by bench/run.ts beside troupe's Queue.

    python3 bench/anchors/python_queue.py <small|big> [--n N] [--producers P] [--consumers C]

Producers and consumers are processes started first and told to go together;
the clock runs from the go to the last consumer's done. stdout carries only
JSON lines {"anchor","metric","value","unit"}. Standard library only.
"""
import json
import multiprocessing as mp
import sys
import time

ITEM = {'i': 0, 'body': 'hello'}


def producer(q, go, ready, n, big):
    payload = b'x' * (1 << 20) if big else None
    ready.put(1)
    go.wait()
    for i in range(n):
        q.put(payload if big else {'i': i, 'body': 'hello'})


def consumer(q, ready, done, n):
    ready.put(1)
    for _ in range(n):
        q.get()
    done.put(1)


def run(kind, n, producers, consumers):
    big = kind == 'big'
    q = mp.Queue()
    ready, done = mp.Queue(), mp.Queue()
    go = mp.Event()
    procs = [mp.Process(target=consumer, args=(q, ready, done, n // consumers), daemon=True) for _ in range(consumers)]
    procs += [mp.Process(target=producer, args=(q, go, ready, n // producers, big), daemon=True) for _ in range(producers)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=60)
    t = time.perf_counter()
    go.set()
    for _ in range(consumers):
        done.get(timeout=120)
    elapsed = time.perf_counter() - t
    for p in procs:
        p.join(10)
    return elapsed


def main():
    args = sys.argv[1:]
    kind = args[0] if args else 'small'
    opt = lambda name, default: int(args[args.index(name) + 1]) if name in args else default
    n = opt('--n', 100_000 if kind == 'small' else 200)
    producers, consumers = opt('--producers', 1), opt('--consumers', 1)
    elapsed = run(kind, n, producers, consumers)
    if kind == 'big':
        value, unit = n * (1 << 20) / elapsed / 1e6, 'MB/s'
    else:
        value, unit = n / elapsed, 'items/s'
    name = f'Python multiprocessing.Queue {producers}→{consumers}'
    print(json.dumps({'anchor': name, 'metric': f'queue_{kind}_{producers}x{consumers}', 'value': value, 'unit': unit}), flush=True)


if __name__ == '__main__':
    main()
