/**
 * A TCP server whose requests are served by a pool of actors. Python
 * tutorials start a process per client, then warn that 10,000 clients mean
 * 10,000 processes; here any number of clients share a fixed pool.
 *
 * Protocol, a line each way: `fib 25` → `75025`, `echo hi` → `hi`.
 *
 * Run: npx tsx examples/socket-server.ts   (PORT=9000 to choose the port)
 */
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { Pool, isMain, startNode, task } from '../index.ts';

const fibOf = (n: number): number => (n < 2 ? n : fibOf(n - 1) + fibOf(n - 2));

/** CPU work that would block a server's event loop: done in the pool. */
export const fib = task((n: number) => fibOf(n));

if (isMain(import.meta)) {
  startNode({ handleSignals: false });
  const pool = new Pool({ size: 2 });
  /** The answer to one request line: never rejects (a failure is an answer too). */
  const answerTo = async (line: string): Promise<string> => {
    const [, verb = '', arg = ''] = /^(\S*)\s*(.*)$/.exec(line.trim())!;
    try {
      if (verb === 'echo') return arg;
      if (verb === 'fib' && /^\d+$/.test(arg) && Number(arg) <= 35) return String(await pool.apply(fib, [Number(arg)]));
      return 'error: say "fib N" (N up to 35) or "echo TEXT"';
    } catch (err) {
      return `error: ${(err as Error).message}`;
    }
  };
  // allowHalfOpen: a client that sends its lines and then shuts its side (`printf 'fib 30\n' | nc …`)
  // still gets its answers; the server ends the connection once they are written.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const lines = createInterface({ input: socket });
    // Answers are worked out side by side, and written in the order the lines came.
    let written: Promise<void> = Promise.resolve();
    lines.on('line', (line) => {
      const answer = answerTo(line);
      written = written.then(async () => {
        const text = await answer;
        if (socket.writable) socket.write(`${text}\n`);
      });
    });
    lines.on('close', () => void written.then(() => socket.end()));
    socket.on('error', () => {});
  });
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    const address = server.address();
    console.log(`listening on 127.0.0.1:${typeof address === 'object' && address ? address.port : '?'}`);
  });
  process.once('SIGTERM', async () => {
    server.close();
    pool.close();
    await pool.join();
    console.log('closed the server and the pool');
    process.exit(143);
  });
}
