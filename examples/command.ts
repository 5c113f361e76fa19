/**
 * External programs as actors (Python's subprocess, supervised):
 *   1. a lookup-style command and its answer;
 *   2. a long-running filter fed through stdin;
 *   3. a supervised command, restarted after it is killed.
 *
 * Run: npx tsx examples/command.ts
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Supervisor, commandSpec, describeReason, isMain, node, run, spawnCommand, type RestartEvent } from '../index.ts';

/** The pid a program wrote to `file`, once it is there and not `old`. */
async function pidIn(file: string, old = 0): Promise<number> {
  for (;;) {
    const pid = Number(readFileSync(file, { encoding: 'utf8', flag: 'a+' }).trim());
    if (pid > 0 && pid !== old) return pid;
    await sleep(10);
  }
}

if (isMain(import.meta)) {
  console.log('1. getent hosts localhost');
  const lookup = await run('getent', ['hosts', 'localhost']);
  const address = lookup.stdout.trim().split(/\s+/)[0] ?? '';
  console.log(`  exit code ${lookup.exitCode}; localhost is a loopback address: ${address === '::1' || address.startsWith('127.')}`);

  console.log('2. sort -r, fed through stdin');
  const sort = spawnCommand('sort', ['-r']);
  await sort.ready;
  for (const word of ['pear', 'apple', 'fig']) sort.send(`${word}\n`);
  sort.closeInput();
  const sorted: string[] = [];
  for await (const line of sort.stdout) sorted.push(String(line));
  console.log(`  ${sorted.join(' ')} (exit code ${await sort.join()})`);

  console.log('3. a supervised command, killed and restarted');
  const dir = mkdtempSync(join(tmpdir(), 'troupe-example-'));
  const pidFile = join(dir, 'pid');
  const sup = Supervisor.start({
    maxRestarts: 3,
    backoff: { minMs: 0, maxMs: 0 },
    // The program says its pid, then becomes `sleep` (same pid).
    children: [commandSpec('sleeper', 'sh', ['-c', `echo $$ > ${pidFile}; exec sleep 300`])],
  });
  await sup.ready;
  const first = await pidIn(pidFile);
  const restarted = new Promise<RestartEvent>((resolve) => node().once('restart', resolve));
  process.kill(first, 'SIGKILL');
  const event = await restarted;
  const second = await pidIn(pidFile, first);
  console.log(`  killed (${describeReason(event.reason)}); its supervisor started it again, in a new process: ${second !== first}`);
  console.log(`  stopping the supervisor: exit code ${await sup.stop()}`);
  rmSync(dir, { recursive: true, force: true });
}
