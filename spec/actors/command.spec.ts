import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClosedError, CommandTimeoutError, InvalidArgumentError, OutputLimitError, SpawnError, TimeoutError, current, run, spawn, spawnCommand, type Command, type OutputMessage } from '../../index.ts';
import { commandOwner } from '../fixtures/actors.ts';
import { linked } from '../fixtures/watchers.ts';
import { allGone, reap, reapGroup, runFixture, until, waitForGroup } from '../helpers.ts';

const started: Command<string | Buffer>[] = [];
const cmd = ((...a: Parameters<typeof spawnCommand>): Command<string | Buffer> => {
  const c = spawnCommand(...a);
  started.push(c);
  return c;
}) as typeof spawnCommand;
afterEach(async () => {
  for (const c of started.splice(0)) {
    c.kill();
    await c.join({ timeout: 10_000 });
  }
});

describe('command actors', () => {
  it('run() gives the exit code and the output, as subprocess.run does', async () => {
    expect(await run('sh', ['-c', 'echo out; echo err >&2; exit 3'])).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
    expect(await run('cat', [], { input: 'fed through stdin\n' })).toEqual({ exitCode: 0, stdout: 'fed through stdin\n', stderr: '' });
  });

  it('gives back the output exactly: no newline the program did not write, bytes as they were', async () => {
    expect(await run('printf', ['abc'])).toEqual({ exitCode: 0, stdout: 'abc', stderr: '' });
    expect((await run('cat', [], { input: 'a\nb\nc' })).stdout).toBe('a\nb\nc');
    // Bytes as bytes: before, each chunk was decoded as UTF-8 (0xff became U+FFFD, a character split across two writes two of them).
    expect((await run('printf', ['x\\000y\\377'], { encoding: 'buffer' })).stdout).toEqual(Buffer.from([0x78, 0, 0x79, 0xff]));
    const split = await run('sh', ['-c', 'printf "\\303"; sleep 0.05; printf "\\251"'], { encoding: 'buffer' });
    expect(split.stdout.toString('utf8')).toBe('é');
    const c = cmd('sh', ['-c', 'printf "\\303"; sleep 0.05; printf "\\251"'], { encoding: 'buffer' });
    expect((await c.output()).stdout).toEqual(Buffer.from('é'));
  });

  it('gives -N for a program ended by any signal, SIGPIPE and SIGUSR1 too (Node cannot end by them)', async () => {
    expect((await run('sh', ['-c', 'kill -PIPE $$'])).exitCode).toBe(-13);
    expect((await run('sh', ['-c', 'kill -USR1 $$'])).exitCode).toBe(-10);
    const c = cmd('sh', ['-c', 'kill -PIPE $$']);
    expect(await c.join({ timeout: 10_000 })).toBe(-13);
    expect(c.exitCode).toBe(-13);
    expect(c.ref.exitCode).toBe(128 + 13); // the host's own, as a shell says it
  });

  it('passes on a line without end as it comes, so the limit holds and the host holds no line without bound', async () => {
    // 8 MB without a newline: in pieces of 1 MiB; before, none reached the owner until the end.
    const whole = await run('sh', ['-c', 'head -c 8000000 /dev/zero | tr "\\0" a']);
    expect(whole.stdout.length).toBe(8_000_000);
    expect(whole.stdout).toMatch(/^a+$/);
    const err = (await run('sh', ['-c', 'cat /dev/zero | tr "\\0" a'], { limit: 3_000_000, timeout: 30_000 }).catch((e: unknown) => e)) as OutputLimitError<string>;
    expect(err).toBeInstanceOf(OutputLimitError);
    expect(err.code).toBe('ERR_OUTPUT_LIMIT');
    // What had come within the limit, kept (as CommandTimeoutError keeps its output).
    expect(err.stdout.length).toBeGreaterThan(0);
    expect(err.stdout.length).toBeLessThanOrEqual(3_000_000);
    expect(err.stdout).toMatch(/^a+$/);
    expect(err.stderr).toBe('');
    // The part of the piece that crossed the limit is kept too: before, a program whose first piece of
    // output crossed it gave back nothing.
    const fast = (await run('seq', ['1', '100000'], { limit: 1000, timeout: 30_000 }).catch((e: unknown) => e)) as OutputLimitError<string>;
    expect(fast).toBeInstanceOf(OutputLimitError);
    expect(fast.stdout).toBe(Array.from({ length: 1000 }, (_, i) => `${i + 1}\n`).join('').slice(0, 1000));
  });

  it("keeps the whole lines that came within output()'s limit in its OutputLimitError, text or bytes", async () => {
    const text = cmd('sh', ['-c', 'while :; do echo line; done']);
    const got = (await text.output({ limit: 50_000 }).catch((e: unknown) => e)) as OutputLimitError<string>;
    expect(got).toBeInstanceOf(OutputLimitError);
    expect(got.stdout).toMatch(/^(line\n)+$/);
    expect(got.stdout.length).toBeLessThanOrEqual(50_000);
    await text.join({ timeout: 10_000 });
    const bytes = cmd('sh', ['-c', 'while :; do echo line; done'], { encoding: 'buffer' });
    const raw = (await bytes.output({ limit: 50_000 }).catch((e: unknown) => e)) as OutputLimitError<Buffer>;
    expect(Buffer.isBuffer(raw.stdout)).toBe(true);
    expect(raw.stdout.length).toBeLessThanOrEqual(50_000);
    expect(raw.stdout.toString('latin1')).toMatch(/^(line\n)*(l|li|lin|line)?$/);
    await bytes.join({ timeout: 10_000 });
  });

  it("does not print a program that cannot start when run() rejects with it, and does when nothing may be told (a command's ready left alone)", async () => {
    const caught = await runFixture('run-missing.ts', ['run']);
    expect(caught.stdout).toContain('caught ERR_SPAWN');
    expect(caught.stderr).not.toContain('failed');
    expect(caught.code).toBe(0);
    const alone = await runFixture('run-missing.ts', ['spawn']);
    expect(alone.stdout).toContain('ended 1');
    expect(alone.stderr).toContain('Cannot start /no/such/troupe-program');
  });

  it('names what is wrong for a script found on PATH, a PATH the environment lacks, a cwd that is a file, and NUL bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-cmd-'));
    writeFileSync(join(dir, 'badinterp'), '#!/no/such/interpreter\necho hi\n', { mode: 0o755 });
    writeFileSync(join(dir, 'plain'), 'hello\n');
    try {
      // Before: 'spawn badinterp ENOENT' (the script was read from the cwd, not from where PATH found it).
      await expect(run('badinterp', [], { env: { PATH: `${dir}:/usr/bin:/bin` } })).rejects.toThrow('its interpreter, /no/such/interpreter, was not found');
      // An environment without PATH: the spawn looks in the system's default path, not in this process's.
      await expect(run('badinterp', [], { env: {}, cwd: tmpdir() })).rejects.toThrow('no executable named badinterp on PATH');
      expect((await run('sh', ['-c', 'echo ok'], { env: {} })).stdout).toBe('ok\n');
      // Before: 'spawn ENOTDIR', naming nothing.
      await expect(run('true', [], { cwd: join(dir, 'plain') })).rejects.toThrow(`its working directory ${join(dir, 'plain')} is not a directory`);
      // Before: a TypeError thrown inside the host.
      expect(() => spawnCommand('echo', ['a\0b'])).toThrow(InvalidArgumentError);
      await expect(run('env', [], { env: { X: 'a\0b' } })).rejects.toThrow(InvalidArgumentError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names a directory, and the missing interpreter of a script', async () => {
    await expect(cmd('/tmp').ready).rejects.toThrow('Cannot start /tmp: /tmp is a directory, not a program.');
    const dir = mkdtempSync(join(tmpdir(), 'troupe-cmd-'));
    const file = join(dir, 'script');
    writeFileSync(file, '#!/no/such/interpreter -x\necho hi\n', { mode: 0o755 });
    try {
      await expect(cmd(file).ready).rejects.toThrow('its interpreter, /no/such/interpreter -x, was not found');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never gives arguments to a shell unless asked', async () => {
    expect((await run('echo', ['$HOME; rm -rf /nothing'])).stdout).toBe('$HOME; rm -rf /nothing\n');
    expect((await run('echo $((1 + 2))', [], { shell: true })).stdout).toBe('3\n');
  });

  it('rejects ready with SpawnError naming a missing executable or one without permission', async () => {
    const missing = cmd('no-such-program-xyz');
    await expect(missing.ready).rejects.toThrow('Cannot start no-such-program-xyz: no executable named no-such-program-xyz on PATH.');
    expect(await missing.join({ timeout: 10_000 })).toBe(1);
    const dir = mkdtempSync(join(tmpdir(), 'troupe-cmd-'));
    const file = join(dir, 'script.sh');
    writeFileSync(file, '#!/bin/sh\necho hi\n', { mode: 0o644 });
    try {
      const notExecutable = cmd(file);
      const err = await notExecutable.ready.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SpawnError);
      expect((err as Error).message).toContain(`${file} is not executable (permission denied)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has an actor lifecycle: exit codes, -15 for terminate, -9 for kill, join with a timeout', async () => {
    const sleeper = cmd('sleep', ['30']);
    await sleeper.ready;
    expect(sleeper.pid).toBeGreaterThan(0);
    expect(await sleeper.join({ timeout: 50 })).toBeNull();
    sleeper.terminate();
    expect(await sleeper.join({ timeout: 10_000 })).toBe(-15);
    const other = cmd('sleep', ['30']);
    await other.ready;
    other.kill();
    expect(await other.join({ timeout: 10_000 })).toBe(-9);
    const killedFromOutside = cmd('sleep', ['30']);
    await killedFromOutside.ready;
    process.kill(killedFromOutside.pid!, 'SIGKILL');
    expect(await killedFromOutside.join({ timeout: 10_000 })).toBe(-9);
  });

  it('stops a program gracefully: SIGTERM to its group', async () => {
    const sleeper = cmd('sleep', ['30']);
    await sleeper.ready;
    expect(await sleeper.stop({ timeout: 5000 })).toBe(-15);
  });

  it('ends its program\'s group on a repeated SIGTERM, though the program ignores the first (a dying parent sends one per thread)', async () => {
    // The kernel sends the parent-death signal each time the parent thread that owns the host exits,
    // and a process being killed loses its threads one by one: SIGTERMs come in a row. The host must
    // not die of the second before it has ended the program's group. Here the group ignores SIGTERM
    // (the trap is inherited by sleep and cat), so the host is still waiting when the next one comes.
    // Forced by the repeat, the group is SIGKILLed, and the command ends as its program did: -9.
    await endsWholeGroup('trap "" TERM; sleep 300 | cat', -9, async (stubborn) => {
      for (let i = 0; i < 1000 && stubborn.exitCode === null; i++) {
        stubborn.terminate();
        await new Promise((r) => setTimeout(r, 10));
      }
      return stubborn.join({ timeout: 10_000 });
    });
  });

  it('terminate() of the actor that owns a command ends its program too, though the program ignores SIGTERM', async () => {
    const owner = reap(spawn(commandOwner, { args: ['trap "" TERM; sleep 300 & wait; sleep 300'] }));
    const program = await owner.call('pid', { timeout: 20_000 });
    const group = await waitForGroup(program, 2);
    try {
      owner.terminate();
      expect(await owner.join({ timeout: 10_000 })).toBe(-15);
      // Before, its host was SIGKILLed with it and the program's group was left running, a child of pid 1.
      await allGone(group, 5000);
    } finally {
      reapGroup(program);
    }
  });

  it('ends its program when a link ends its host with killed (passed on as Erlang does)', async () => {
    const c = cmd('sleep', ['300']);
    await c.ready;
    const program = c.pid!;
    const group = await waitForGroup(program, 1);
    try {
      const linker = reap(spawn(linked, { args: [c.ref, current().self, false] }));
      await current().receive({ match: (m): m is 'linked' => m === 'linked', timeout: 20_000 });
      linker.kill();
      // The host ends by SIGKILL, as the linked actor did; before, its exit hooks did not run, and the program was left running.
      expect(await c.join({ timeout: 10_000 })).toBe(-9);
      await allGone(group, 5000);
    } finally {
      reapGroup(program);
    }
  });

  it('kill() ends the program and its group, not only the host (nothing is left running)', async () => {
    await endsWholeGroup('sleep 300 | cat', -9, (pipeline) => {
      pipeline.kill();
      return pipeline.join({ timeout: 10_000 });
    });
  });

  it('kill() ends what the program left in the background holding its output, once the program itself has ended', async () => {
    // The program ends at once; its background child keeps its stdout open (run() and output() wait on it, as communicate() does).
    const c = cmd('sh', ['-c', 'sleep 300 & echo $!']);
    const first = await c.stdout[Symbol.asyncIterator]().next();
    const sleeper = Number(first.value);
    try {
      // Reaped by its host, not only ended (a zombie's group still had its leader below the host).
      await until(() => !existsSync(`/proc/${c.pid}`), 10_000, 'the program to be reaped');
      c.kill();
      expect(await c.join({ timeout: 10_000 })).toBe(-9);
      // Before, the group was forgotten as its leader ended, and the sleep ran on, a child of pid 1.
      await allGone([sleeper], 5000);
    } finally {
      reapGroup(c.pid!);
    }
  });

  it('gives the owner what the program writes as it ends on SIGTERM, and ends as the program did', async () => {
    const c = cmd('sh', ['-c', 'trap "seq 1 50000; echo LAST; exit 0" TERM; echo ready; sleep 300 & wait']);
    const lines: string[] = [];
    const reading = (async () => {
      for await (const line of c.stdout) lines.push(line);
    })();
    await until(() => lines.length > 0, 10_000, 'the program to say it is ready');
    c.terminate();
    // Before, the host ended by SIGTERM as soon as the program did: part of the output was lost, and the code was -15 or 0.
    expect(await c.join({ timeout: 20_000 })).toBe(0);
    await reading;
    expect(lines.length).toBe(50_002);
    expect(lines.at(-1)).toBe('LAST');
  });

  it('gives a second output() call the same answer, and refuses a second reader of a stream rather than hang one', async () => {
    const c = cmd('sh', ['-c', 'echo a']);
    // Bad options are refused, and not kept: before, the refusal answered every later call.
    await expect(c.output({ limit: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    const [x, y] = await Promise.all([c.output(), c.output()]);
    expect(x).toEqual({ stdout: 'a\n', stderr: '' });
    expect(y).toBe(x);
    const d = cmd('sh', ['-c', 'echo b']);
    const whole = d.output();
    await expect(
      (async () => {
        for await (const line of d.stdout) void line;
      })(),
    ).rejects.toThrow('The stdout of sh is being read already');
    expect((await whole).stdout).toBe('b\n');
    // Two loops at once: before, they shared one iterator and took every other line each.
    const e = cmd('sh', ['-c', 'echo 1; echo 2; echo 3']);
    const loop = async (): Promise<string[]> => {
      const got: string[] = [];
      for await (const line of e.stdout) got.push(line);
      return got;
    };
    const [first, second] = await Promise.allSettled([loop(), loop()]);
    expect(first).toEqual({ status: 'fulfilled', value: ['1', '2', '3'] });
    expect(second.status).toBe('rejected');
  });

  it('ends on terminate() within a bound though something that left the group holds the output open', async () => {
    const c = cmd('sh', ['-c', 'setsid sleep 300 & echo $!; exec sleep 300']);
    const escaped = Number((await c.stdout[Symbol.asyncIterator]().next()).value);
    try {
      c.terminate();
      // Before, the host waited for that output to end, as long as the escaped process lived.
      expect(await c.join({ timeout: 20_000 })).toBe(-15);
    } finally {
      process.kill(escaped, 'SIGKILL');
    }
  });

  it('does not keep the program alive for a daemon command, and ends it with the program', async () => {
    const program = await runFixture('daemon-command.ts');
    // Before, the Command waited on the daemon's join(), which keeps the program alive: it never ended.
    expect(program.code).toBe(0);
    await allGone([Number(program.stdout)], 10_000);
  });

  it('stop({ timeout }) of a program that ignores SIGTERM kills its group at the deadline', async () => {
    await endsWholeGroup('trap "" TERM; sleep 300 | cat', -9, (stubborn) => stubborn.stop({ timeout: 300 }));
  });

  it('stop() gives a program that ends itself on SIGTERM the time it takes, not a SIGKILL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-cmd-'));
    const said = join(dir, 'bye');
    try {
      // Its trap takes a while (a child of its own, in its group) before it exits 3.
      const tidy = cmd('sh', ['-c', `trap 'sleep 0.3; echo bye > ${said}; exit 3' TERM; sleep 300 & wait`]);
      await tidy.ready;
      await waitForGroup(tidy.pid!, 2);
      expect(await tidy.stop({ timeout: 10_000 })).not.toBe(-9);
      // Its trap ran to the end: nothing SIGKILLed the group while it tidied up.
      expect(readFileSync(said, 'utf8')).toBe('bye\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('feeds stdin and reads output line by line as it comes', async () => {
    // cat writes as it reads (tr or sort would hold their output until their input ends).
    const echo = cmd('cat');
    await echo.ready;
    echo.send('hello\n');
    const lines = echo.stdout[Symbol.asyncIterator]();
    expect((await lines.next()).value).toBe('hello');
    echo.send('world\n');
    expect((await lines.next()).value).toBe('world');
    echo.closeInput();
    // Before, each was dropped without a word (Python's write to a closed stdin is a ValueError).
    expect(() => echo.send('lost?\n')).toThrow(ClosedError);
    expect(() => echo.send('lost?\n')).toThrow(/its stdin is closed \(closeInput\(\) was called\)/);
    echo.closeInput(); // again: nothing
    expect((await lines.next()).done).toBe(true);
    expect(await echo.join({ timeout: 10_000 })).toBe(0);
    const done = cmd('true');
    expect(await done.join({ timeout: 10_000 })).toBe(0);
    expect(() => done.send('too late\n')).toThrow(/the program has ended \(exit code 0\)/);
  });

  it('gives every line in order, many to a chunk, to stdout, to an output handler, and joined by run()', async () => {
    const c = cmd('seq', ['1', '100000']);
    const lines: string[] = [];
    for await (const line of c.stdout) lines.push(line);
    expect(lines.length).toBe(100_000);
    expect(lines.every((line, i) => line === String(i + 1))).toBe(true);
    const handled: string[] = [];
    const h = cmd('seq', ['1', '100000'], { output: (m) => void (m.stream === 'stdout' && handled.push(String(m.data))) });
    expect(await h.join({ timeout: 20_000 })).toBe(0);
    expect(handled).toEqual(lines);
    expect((await run('seq', ['1', '100000'])).stdout).toBe(lines.map((l) => `${l}\n`).join(''));
  });

  it('moves 100 MB through cat, read as it comes, without holding it all', async () => {
    const cat = cmd('cat', [], { encoding: 'buffer', lines: false });
    await cat.ready;
    const chunk = Buffer.alloc(1024 * 1024, 120);
    void (async () => {
      for (let i = 0; i < 100; i++) cat.send(chunk);
      cat.closeInput();
    })();
    let total = 0;
    let most = 0;
    for await (const part of cat.stdout) {
      total += part.length;
      most = Math.max(most, process.memoryUsage().arrayBuffers);
    }
    expect(total).toBe(100 * 1024 * 1024);
    // Holding the whole output would take more than 100 MB.
    expect(most).toBeLessThan(80 * 1024 * 1024);
    expect(await cat.join({ timeout: 20_000 })).toBe(0);
  });

  it('slows a program that writes faster than its owner reads: its host holds a few MiB, not the output', async () => {
    const zero = cmd('cat', ['/dev/zero'], { encoding: 'buffer', lines: false });
    await zero.ready;
    const host = zero.ref.pid!;
    const rss = (): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${host}/status`, 'utf8'))![1]) * 1024;
    const before = rss();
    // This process reads nothing for a second and a half: the program writes at a GB a second.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
    const grown = rss() - before;
    zero.kill();
    // Without the window, the host read on and held what it could not yet send: a GB or more.
    expect(grown).toBeLessThan(64 * 1024 * 1024);
    expect(await zero.join({ timeout: 10_000 })).toBe(-9);
  });

  it('sends output to an actor or a handler the user names, instead of the streams', async () => {
    const seen: OutputMessage[] = [];
    const done = new Promise<void>((resolve) => {
      const c = cmd('sh', ['-c', 'echo one; echo two >&2; echo three'], {
        output: (m) => {
          seen.push(m);
          if (seen.length === 3) resolve();
        },
      });
      void c;
    });
    await done;
    expect(seen.filter((m) => m.stream === 'stdout').map((m) => m.data)).toEqual(['one', 'three']);
    expect(seen.filter((m) => m.stream === 'stderr').map((m) => m.data)).toEqual(['two']);
    const toActor = cmd('echo', ['to an actor'], { output: current().self });
    expect(await current().receive({ match: (m): m is OutputMessage => (m as OutputMessage | null)?.stream === 'stdout', timeout: 10_000 })).toEqual({
      stream: 'stdout',
      data: 'to an actor',
    });
    expect(await toActor.join({ timeout: 10_000 })).toBe(0);
  });

  it('ends a run() that takes too long, and says so with the output that had come, as Python\'s TimeoutExpired', async () => {
    await expect(run('sleep', ['30'], { timeout: 200 })).rejects.toBeInstanceOf(TimeoutError);
    // Written at once, 3 s before the deadline; bytes, as run() would have given them.
    const late = await run('sh', ['-c', 'printf "started\\377"; echo warn >&2; sleep 30'], { timeout: 3000, encoding: 'buffer' }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(CommandTimeoutError);
    expect(late).toMatchObject({ code: 'ERR_TIMEOUT', timeoutMs: 3000 });
    expect((late as CommandTimeoutError).stdout).toEqual(Buffer.from([...Buffer.from('started'), 0xff]));
    expect((late as CommandTimeoutError).stderr).toEqual(Buffer.from('warn\n'));
  });

  it('handles yes | head without leaving anything behind', async () => {
    const { exitCode, stdout } = await run('sh', ['-c', 'yes | head -n 3']);
    expect(exitCode).toBe(0);
    expect(stdout).toBe('y\ny\ny\n');
  });
});

describe('command actors under a supervisor', () => {
  it('are restarted like any child when the program is killed', async () => {
    const { Supervisor, commandSpec, node } = await import('../../index.ts');
    const dir = mkdtempSync(join(tmpdir(), 'troupe-cmd-'));
    const pidFile = join(dir, 'pid');
    const sup = Supervisor.start({ maxRestarts: 3, backoff: { minMs: 0, maxMs: 0 }, children: [commandSpec('sleeper', 'sh', ['-c', `echo $$ > ${pidFile}; exec sleep 300`])] });
    try {
      await sup.ready;
      const firstPid = await waitForPid(pidFile, null);
      const restarted = new Promise((resolve) => node().once('restart', resolve));
      process.kill(firstPid, 'SIGKILL');
      expect(await restarted).toMatchObject({ child: 'sleeper', reason: 'killed' });
      expect(await waitForPid(pidFile, firstPid)).not.toBe(firstPid);
    } finally {
      await sup.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('are refused at the call site for a bad file or argv, as spawnCommand refuses them', async () => {
    const { commandSpec } = await import('../../index.ts');
    expect(() => commandSpec('bad', '')).toThrow('Expected `file` to be the program to run, got `""` (string).');
    expect(() => commandSpec('bad', 'echo', [1] as never)).toThrow('Expected `argv` to be an array of strings, got `1` (array).');
    expect(() => spawnCommand('echo', 'hi' as never)).toThrow('Expected `argv` to be an array of strings, got `"hi"` (string).');
  });

  it('leave no program behind when the supervisor\'s process is SIGKILLed: the host, its shell and the shell\'s children', async () => {
    const { Supervisor, commandSpec } = await import('../../index.ts');
    const dir = mkdtempSync(join(tmpdir(), 'troupe-cmd-'));
    const [pidFile, hostFile] = [join(dir, 'pid'), join(dir, 'host')];
    const sup = Supervisor.start({ children: [commandSpec('pipeline', 'sh', ['-c', `echo $PPID > ${hostFile}; echo $$ > ${pidFile}; sleep 300 | cat`])] });
    let program: number | null = null;
    try {
      await sup.ready;
      const host = await waitForPid(hostFile, null);
      program = await waitForPid(pidFile, null);
      // The shell's own children (sleep, cat) are in its process group.
      const group = await waitForGroup(program, 3);
      process.kill(sup.ref.pid!, 'SIGKILL');
      expect(await sup.join({ timeout: 10_000 })).toBe(-9);
      await allGone([host, ...group], 5000);
    } finally {
      sup.ref.kill();
      await sup.join({ timeout: 10_000 });
      // A program left behind (what this test is about) is reaped with its group.
      if (program !== null) {
        reapGroup(program);
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The pid the program wrote, once it is not `old`. */
async function waitForPid(file: string, old: number | null): Promise<number> {
  const { readFileSync } = await import('node:fs');
  for (let i = 0; i < 1000; i++) {
    try {
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (pid > 0 && pid !== old) return pid;
    } catch {
      // Not written yet.
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no new pid in ${file}`);
}

/**
 * Runs `script` under sh as a command (a group of three: sh, sleep, cat), ends it with `end`, and
 * expects exit code `code` and nothing of the group left.
 */
async function endsWholeGroup(script: string, code: number, end: (command: Command) => Promise<number | null>): Promise<void> {
  const command = cmd('sh', ['-c', script]);
  await command.ready;
  const group = await waitForGroup(command.pid!, 3);
  try {
    expect(await end(command)).toBe(code);
    await allGone(group, 5000);
  } finally {
    reapGroup(command.pid!);
  }
}
