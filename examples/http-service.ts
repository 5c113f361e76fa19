/**
 * An HTTP service that hands CPU-heavy requests to supervised actors: a
 * worker killed mid-way is restarted by its supervisor, and the service keeps
 * answering. SIGTERM closes the server, stops the actors, and exits.
 *
 *   GET /fib?n=27   → {"n":27,"fib":196418,"pid":1234}
 *   GET /workers    → the workers' pids (null for one being restarted)
 *
 * Run: npx tsx examples/http-service.ts   (PORT=8080 to choose the port)
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { ActorExitedError, NoSuchActorError, Supervisor, actor, isMain, startNode, type ActorRef, type Context } from '../index.ts';

type Job = { n: number } | 'pid';
/** A Fibonacci number, with the pid of the worker that computed it (one answer: that worker may be killed right after). */
type Answer = number | { fib: number; pid: number };

/** Computes Fibonacci numbers the slow way: CPU work that would block a server. */
export const fibWorker = actor(async (ctx: Context<Job, Answer>) => {
  const fib = (n: number): number => (n < 2 ? n : fib(n - 1) + fib(n - 2));
  for await (const job of ctx.inbox) ctx.reply(job === 'pid' ? ctx.pid : { fib: fib(job.n), pid: ctx.pid });
});

if (isMain(import.meta)) {
  // This program closes its server before the actors stop, so it handles the signals itself.
  startNode({ handleSignals: false });
  const workers = 2;
  const tree = Supervisor.start({
    strategy: 'one-for-one',
    maxRestarts: 10,
    periodMs: 10_000,
    backoff: { minMs: 0, maxMs: 0 },
    children: Array.from({ length: workers }, (_, i) => ({ id: `worker-${i + 1}`, actor: fibWorker })),
  });
  await tree.ready;

  let next = 0;
  /** Asks a worker, round robin; a worker that died is being restarted, so ask again. */
  async function ask(job: Job, tries = 100): Promise<Answer> {
    const children = await tree.whichChildren();
    const worker = children[next++ % children.length]?.ref as ActorRef<Job, Answer> | null | undefined;
    try {
      if (!worker) throw new NoSuchActorError('worker restarting', '');
      return await worker.call(job, { timeout: 30_000 });
    } catch (err) {
      if (tries > 1 && (err instanceof ActorExitedError || err instanceof NoSuchActorError)) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return ask(job, tries - 1);
      }
      throw err;
    }
  }

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    try {
      // A request target Node's parser takes and URL does not (`GET //x:99999/fib`): the client's error.
      const url = URL.canParse(req.url ?? '/', 'http://localhost') ? new URL(req.url ?? '/', 'http://localhost') : null;
      if (url === null) throw new RangeError(`cannot parse the request target ${JSON.stringify(req.url)}`);
      if (url.pathname === '/fib') {
        const n = Number(url.searchParams.get('n') ?? '25');
        if (!Number.isInteger(n) || n < 0 || n > 35) throw new RangeError('n must be an integer from 0 to 35');
        const { fib, pid } = (await ask({ n })) as { fib: number; pid: number };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ n, fib, pid }));
      } else if (url.pathname === '/workers') {
        // A worker being restarted has no pid yet: null.
        const pids: (number | null)[] = [];
        for (const child of await tree.whichChildren()) pids.push(child.ref ? ((await (child.ref as ActorRef<Job, Answer>).call('pid').catch(() => null)) as number | null) : null);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(pids));
      } else {
        res.writeHead(404).end('not found\n');
      }
    } catch (err) {
      res.writeHead(err instanceof RangeError ? 400 : 500).end(`${(err as Error).message}\n`);
    }
  });
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    const address = server.address();
    console.log(`listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : '?'}`);
  });

  process.once('SIGTERM', async () => {
    console.log('SIGTERM: closing the server, then stopping the workers');
    server.close();
    console.log(`workers stopped: exit code ${await tree.stop()}`);
    process.exit(143);
  });
}
