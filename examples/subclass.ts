/**
 * A class-style actor, as Python subclasses Process and overrides run():
 * here a bank account that answers calls with handle() and refuses overdrafts.
 *
 * Run: npx tsx examples/subclass.ts
 */
import { Actor, RemoteError, actor, isMain, spawn } from '../index.ts';

type Op = { deposit: number } | { withdraw: number } | 'balance';

class Account extends Actor<Op, number> {
  #balance = 0;

  /** run() takes the spawn args; the default loop then hands each message to handle(). */
  override async run(opening: number): Promise<unknown> {
    this.#balance = opening;
    console.log(`${this.ctx.name}: opened with ${opening} in pid ${this.ctx.pid}`);
    return super.run();
  }

  override handle(op: Op): number {
    if (op === 'balance') return this.#balance;
    if ('deposit' in op) return (this.#balance += op.deposit);
    if (op.withdraw > this.#balance) throw new RangeError(`cannot withdraw ${op.withdraw}: balance is ${this.#balance}`);
    return (this.#balance -= op.withdraw);
  }

  override onStop(): void {
    console.log(`${this.ctx.name}: closing with ${this.#balance}`);
  }
}
export const account = actor(Account);

if (isMain(import.meta)) {
  const acct = spawn(account, { args: [100], name: 'account' });
  console.log(`deposit 50 -> ${await acct.call({ deposit: 50 })}`);
  console.log(`withdraw 30 -> ${await acct.call({ withdraw: 30 })}`);
  try {
    await acct.call({ withdraw: 1000 });
  } catch (err) {
    if (!(err instanceof RemoteError)) throw err;
    console.log(`withdraw 1000 -> ${err.remoteName}: ${(err.cause as Error).message}`);
  }
  console.log(`balance -> ${await acct.call('balance')}`);
  console.log(`stopped with exit code ${await acct.stop()}`);
}
