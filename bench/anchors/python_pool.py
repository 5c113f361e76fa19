"""Anchor: Python's multiprocessing.Pool, run by bench/run.ts beside troupe's Pool.

    python3 bench/anchors/python_pool.py <map|c1|imap|cpu|startup> [--n N]

Two workers, as troupe's side uses. stdout carries only JSON lines.
"""
import json
import multiprocessing as mp
import sys
import time


def square(x):
    return x * x


def burn(ms):
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass
    return ms


def emit(anchor, metric, value, unit):
    print(json.dumps({'anchor': anchor, 'metric': metric, 'value': value, 'unit': unit}), flush=True)


def main():
    case = sys.argv[1]
    n = int(sys.argv[sys.argv.index('--n') + 1]) if '--n' in sys.argv else None
    if case == 'startup':
        t = time.perf_counter()
        with mp.Pool(2) as p:
            p.apply(square, (2,))
            emit('python Pool(2): start → first result', 'startup_ms', round((time.perf_counter() - t) * 1000, 2), 'ms')
        return
    with mp.Pool(2) as p:
        p.map(square, range(100))  # warm: workers up
        if case == 'map':
            # About 30 ms a map. The first is shown on its own; then the median of five after
            # it, as every side takes.
            n = n or 100_000
            t = time.perf_counter()
            p.map(square, range(n))
            emit('python Pool.map, first 100,000-task map', 'tasks_per_s_first', round(n / (time.perf_counter() - t)), 'tasks/s')
            rates = []
            for _ in range(5):
                t = time.perf_counter()
                p.map(square, range(n))
                rates.append(n / (time.perf_counter() - t))
            emit('python Pool.map (default chunksize)', 'tasks_per_s', round(sorted(rates)[2]), 'tasks/s')
        elif case == 'c1':
            n = n or 20_000
            t = time.perf_counter()
            p.map(square, range(n), chunksize=1)
            emit('python Pool.map (chunksize=1)', 'tasks_per_s_c1', round(n / (time.perf_counter() - t)), 'tasks/s')
        elif case == 'imap':
            n = n or 20_000
            t = time.perf_counter()
            for _ in p.imap_unordered(square, range(n)):
                pass
            emit('python Pool.imap_unordered', 'tasks_per_s_c1', round(n / (time.perf_counter() - t)), 'tasks/s')
        elif case == 'cpu':
            t = time.perf_counter()
            p.map(burn, [10] * 200, chunksize=1)
            emit('python Pool.map, 200 × 10 ms CPU', 'cpu_wall_ms', round((time.perf_counter() - t) * 1000, 1), 'ms')


if __name__ == '__main__':
    main()
