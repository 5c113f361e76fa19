/** Shared by specs: reaping what a spec started, and waiting on events with deadlines. */
import { execFile, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach } from 'vitest';
import { Pool, node, type ChildRef, type DeadLetter, type PoolOptions } from '../index.ts';

const started = new Set<ChildRef>();
const programs = new Set<ChildProcess>();

/**
 * Runs the program `spec/fixtures/<name>` (with tsx) to its end, within 60 s:
 * its exit code (null if killed at the deadline) and what it printed. One
 * still running when its test ends (the test timed out first) is SIGKILLed
 * then, and its actors with it (their parent-death signal).
 */
export function runFixture(name: string, args: readonly string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const fixture = new URL(`./fixtures/${name}`, import.meta.url).pathname;
  return new Promise((done) => {
    const child = execFile(process.execPath, ['--import', 'tsx', fixture, ...args], { encoding: 'utf8', timeout: 60_000 }, (_err, stdout, stderr) => {
      programs.delete(child);
      done({ code: child.exitCode, stdout, stderr });
    });
    programs.add(child);
  });
}

/** Registers refs to be killed (and joined) after the current test. */
export function reap<T extends ChildRef<any, any>>(ref: T): T {
  started.add(ref);
  return ref;
}

afterEach(async () => {
  for (const program of programs) program.kill('SIGKILL');
  programs.clear();
  const refs = [...started];
  started.clear();
  for (const ref of refs) ref.kill();
  await Promise.all(refs.map((ref) => ref.join({ timeout: 10_000 })));
});

const pools: Pool[] = [];

/** A maker of pools (`defaults` when it is given no options), each terminated after the current test. */
export function poolMaker(defaults: PoolOptions): (options?: PoolOptions) => Pool {
  return (options = defaults) => {
    const pool = new Pool(options);
    pools.push(pool);
    return pool;
  };
}

afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.terminate();
});

/** Resolves with the next dead letter, or rejects after `ms`. */
export function nextDeadLetter(ms = 10_000): Promise<DeadLetter> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no dead letter within ${ms} ms`)), ms);
    node().once('deadLetter', (letter) => {
      clearTimeout(timer);
      resolve(letter);
    });
  });
}

/** Whether a pid names a live (not zombie) process. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Polls until every pid is gone; resolves with how long that took, rejects at `ms`. */
export async function allGone(pids: readonly number[], ms: number): Promise<number> {
  const start = performance.now();
  for (;;) {
    const left = pids.filter(alive);
    const elapsed = performance.now() - start;
    if (left.length === 0) return elapsed;
    if (elapsed > ms) throw new Error(`pids still alive after ${ms} ms: ${left.map(describePid).join(', ')}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Polls `check` until it holds; rejects at `ms`, naming `what` was awaited. */
export async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > ms) throw new Error(`still waiting after ${ms} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The pids of process group `pgid`, once it has `count` members (read from /proc). */
/** The pids whose process group is `pgid` now (Linux /proc). */
export function groupMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        // Field 5 is the process group, after the parenthesised command name.
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/**
 * SIGKILLs what is left of process group `pgid`, member by member. Never
 * `kill(-pgid)`: once the group is empty its number can be reused, as the
 * pgid of any new actor process (each leads its own group), which a blind
 * group kill would then end.
 */
export function reapGroup(pgid: number): void {
  for (const pid of groupMembers(pgid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}

export async function waitForGroup(pgid: number, count: number): Promise<number[]> {
  for (let i = 0; i < 500; i++) {
    const members = groupMembers(pgid);
    if (members.length >= count) return members;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`process group ${pgid} never had ${count} members`);
}

/** A pid with its state, parent and command line, for a failure message. */
function describePid(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return `${pid} (${state}, ppid ${ppid}: ${cmd})`;
  } catch {
    return `${pid} (gone)`;
  }
}

/** `promise`, or a rejection naming `what` once `ms` have passed: a wait that cannot hang a spec. */
export function within<T>(promise: Promise<T>, what: string, ms = 20_000): Promise<T> {
  return Promise.race([promise, sleep(ms, undefined, { ref: false }).then(() => Promise.reject(new Error(`${what}: not settled within ${ms} ms`)))]);
}
