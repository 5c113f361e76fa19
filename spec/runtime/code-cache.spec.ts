import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { spawn } from '../../index.ts';
import { busyFromStart, codeCacheState } from '../fixtures/actors.ts';
import { reap } from '../helpers.ts';

type Loaded = { file: string; state: string; encoding: string };
const GARBAGE = 'not a code cache';

/** Waits (up to 15 s) until `ok()` holds: a file another process writes. */
async function until(ok: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(20);
  }
}

async function loadedBy(execArgv: string[], layer: 'state' | 'actors' = 'state'): Promise<Loaded> {
  // With spawn options, never the spare host (which loaded its runtime earlier): a process started for this actor.
  const ref = reap(spawn(codeCacheState, { execArgv, env: { ...process.env, NODE_V8_COVERAGE: '' } }));
  const loaded = await ref.call(layer, { timeout: 15_000 });
  // A process that had to compile the runtime writes the cache once its actor is ready.
  await until(() => existsSync(loaded.file) && readFileSync(loaded.file, 'latin1') !== GARBAGE, `${loaded.file} to be written`);
  await ref.stop({ timeout: 10_000 });
  return loaded;
}

/** Flags of one spec alone: the cache is per set of node flags, so no other process reads or writes its cache. */
function ownFlags(): string[] {
  return [`--stack-trace-limit=${1000 + ((process.pid * 1000 + Date.now() + Math.floor(Math.random() * 1000)) % 1_000_000)}`];
}

describe("the runtime bundle's code cache", () => {
  it('loads the runtime as ASCII text (no UTF-8 to decode), its strings that are not ASCII intact', async () => {
    const ref = reap(spawn(codeCacheState));
    const loaded = await ref.call('message', { timeout: 15_000 });
    expect(loaded.encoding).toBe('latin1');
    let here = '';
    try {
      (spawn as (definition: unknown) => unknown)(5);
    } catch (err) {
      here = (err as Error).message;
    }
    expect(here).toContain('actor(…)');
    expect(loaded.message).toBe(here);
  });

  it('is neither read nor written with NODE_DISABLE_COMPILE_CACHE or under coverage', async () => {
    for (const env of [{ NODE_DISABLE_COMPILE_CACHE: '1' }, { NODE_V8_COVERAGE: join(tmpdir(), `troupe-coverage-${process.pid}`) }]) {
      const ref = reap(spawn(codeCacheState, { env: { ...process.env, ...env } }));
      try {
        expect((await ref.call('state', { timeout: 15_000 })).state).toBe('off');
      } finally {
        await ref.stop({ timeout: 10_000 });
      }
    }
    rmSync(join(tmpdir(), `troupe-coverage-${process.pid}`), { recursive: true, force: true });
  });

  it('is written by a process that compiled the runtime, used by the next, and written again when V8 rejects it', async () => {
    const flags = ownFlags();
    const first = await loadedBy(flags);
    expect(first.file).not.toBe((await loadedBy([])).file);
    try {
      expect(first.state).toBe('absent');
      expect((await loadedBy(flags)).state).toBe('used');
      writeFileSync(first.file, GARBAGE);
      expect((await loadedBy(flags)).state).toBe('rejected');
      expect((await loadedBy(flags)).state).toBe('used');
    } finally {
      rmSync(first.file, { force: true });
    }
  });

  it('is written for the actors layer, loaded after the actor was ready, at once, and used by the next process that loads it', async () => {
    const flags = ownFlags();
    const kernel = await loadedBy(flags);
    const first = await loadedBy(flags, 'actors');
    try {
      expect(first.file).not.toBe(kernel.file);
      expect(first.state).toBe('absent');
      expect((await loadedBy(flags, 'actors')).state).toBe('used');
    } finally {
      rmSync(first.file, { force: true });
      rmSync(kernel.file, { force: true });
    }
  });

  it('is written by a short-lived actor (stopped as soon as it answered): a program of such actors gets one too', async () => {
    const flags = ownFlags();
    const ref = reap(spawn(codeCacheState, { execArgv: flags, env: { ...process.env, NODE_V8_COVERAGE: '' } }));
    const loaded = await ref.call('state', { timeout: 15_000 });
    try {
      expect(loaded.state).toBe('absent');
      // Written before it was ready.
      await ref.stop({ timeout: 10_000 });
      expect(existsSync(loaded.file)).toBe(true);
      expect((await loadedBy(flags)).state).toBe('used');
    } finally {
      rmSync(loaded.file, { force: true });
    }
  });

  it('is written before the actor is ready: one SIGKILLed as soon as it is (a pool terminated after its first answer) leaves it', async () => {
    const flags = ownFlags();
    const env = { ...process.env, NODE_V8_COVERAGE: '' };
    const busy = reap(spawn(busyFromStart, { args: [join(tmpdir(), `troupe-never-${process.pid}`)], execArgv: flags, env }));
    await busy.ready;
    // Busy since, its process never took another turn: only what it wrote before `ready` is there.
    busy.kill();
    await busy.join({ timeout: 10_000 });
    const ref = reap(spawn(codeCacheState, { execArgv: flags, env }));
    const loaded = await ref.call('state', { timeout: 15_000 });
    try {
      expect(loaded.state).toBe('used');
    } finally {
      await ref.stop({ timeout: 10_000 });
      rmSync(loaded.file, { force: true });
    }
  });
});
