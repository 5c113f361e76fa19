/** Examples are tests: each one runs as a user would run it, and its output is checked. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function run(name: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', `examples/${name}.ts`], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('examples', () => {
  it('hello.ts greets from two actors and shows exit codes 0 and 1', async () => {
    const { code, stdout, stderr } = await run('hello');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^hello bob, from greeter-bob \(pid \d+, parent pid \d+\)$/m);
    expect(stdout).toMatch(/^hello alice, from greeter-alice/m);
    // The actors print from their own processes: only the main program's lines have a fixed order.
    const lines = stdout.split('\n');
    const mains = ['bob says: HOW ARE YOU?', 'alice says: AND YOU?', 'greeter-bob exited with code 0', 'greeter-alice exited with code 0', 'grumpy exited with code 1 (grumpy refuses to greet)'];
    expect(lines.filter((l) => mains.includes(l))).toEqual(mains);
    expect(stderr).toMatch(/Actor grumpy \(.+\) failed:\nError: grumpy refuses to greet\n\s+at .*examples\/hello\.ts:\d+/);
  });

  it('producer-consumer.ts moves every job and joins both actors', async () => {
    const { code, stdout } = await run('producer-consumer');
    expect(code).toBe(0);
    expect(stdout).toContain('results: 1²=1 2²=4 3²=9 4²=16 5²=25 6²=36 7²=49 8²=64 9²=81 10²=100');
    expect(stdout).toMatch(/summary: 10 jobs, sum of squares 385, all by consumer pid \d+: true/);
    expect(stdout).toContain('exit codes: producer 0, consumer 0');
  });

  it('subclass.ts runs a class-style actor with handle() and onStop()', async () => {
    const { code, stdout } = await run('subclass');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^account: opened with 100 in pid \d+$/m);
    expect(stdout).toContain(
      'deposit 50 -> 150\nwithdraw 30 -> 120\nwithdraw 1000 -> RangeError: cannot withdraw 1000: balance is 120\nbalance -> 120\naccount: closing with 120\nstopped with exit code 0\n',
    );
  });

  it('lifecycle.ts prints the exit codes of the Python tutorial', async () => {
    const { code, stdout } = await run('lifecycle');
    expect(code).toBe(0);
    expect(stdout).toBe(
      [
        'before start: alive=true exitCode=null',
        'started: pid is a number: true',
        'join(timeout 100 ms) -> null, alive=true',
        'after terminate: join -> -15',
        'after kill: join -> -9',
        'process.exit(0) -> exit code 0',
        'process.exit(3) -> exit code 3',
        'returned normally -> exit code 0',
        'parent with a daemon child -> exit code 0',
        'daemon child still running after its parent ended: false',
        '',
      ].join('\n'),
    );
  });
});
