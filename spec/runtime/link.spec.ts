import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decode, encode } from '../../runtime/codec.ts';
import { FRAME_SEND, Link, PROTOCOL_VERSION, type LinkHandler, type SystemMessage } from '../../runtime/link.ts';
import { ProtocolError } from '../../index.ts';

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

/** Two connected sockets over a Unix socket in a private directory. */
async function socketPair(): Promise<[Socket, Socket]> {
  const dir = mkdtempSync(join(tmpdir(), 'troupe-link-'));
  const path = join(dir, 's');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const client = connect(path);
  const other = await accepted;
  cleanup.push(() => {
    client.destroy();
    other.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return [client, other];
}

function recorder() {
  const events: { system: SystemMessage[]; messages: [string, string, unknown][]; closed: (Error | undefined)[] } = { system: [], messages: [], closed: [] };
  let onClose: () => void = () => {};
  const closed = new Promise<void>((resolve) => (onClose = resolve));
  const handler: LinkHandler = {
    onSystem: (_l, m) => void events.system.push(m),
    onMessage: (_l, _k, to, from, _c, flags, payload, att) => void events.messages.push([to, from, decode(payload, att, flags)]),
    onClose: (_l, err) => {
      events.closed.push(err);
      onClose();
    },
  };
  return { events, handler, closed };
}

describe('link', () => {
  it('carries system messages and sends between two links, with IDs as aliases', async () => {
    const [a, b] = await socketPair();
    const left = recorder();
    const right = recorder();
    const la = new Link(a, left.handler, 'left');
    new Link(b, right.handler, 'right');
    la.sendSystem({ t: 'hello', v: PROTOCOL_VERSION });
    for (let i = 0; i < 3; i++) la.sendMessage(FRAME_SEND, 'R.1/0', 'R/0', 0, encode({ i }, 'message'));
    await vi.waitFor(() => expect(right.events.messages).toHaveLength(3), { timeout: 5000 });
    expect(right.events.system).toEqual([{ t: 'hello', v: PROTOCOL_VERSION }]);
    expect(right.events.messages).toEqual([0, 1, 2].map((i) => ['R.1/0', 'R/0', { i }]));
  });

  it('ends the link with a logged ProtocolError when the peer speaks another version', async () => {
    const [a, b] = await socketPair();
    const right = recorder();
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      new Link(b, right.handler, 'right');
      new Link(a, recorder().handler, 'left').sendSystem({ t: 'hello', v: PROTOCOL_VERSION + 1 });
      await right.closed;
      expect(right.events.closed[0]).toBeInstanceOf(ProtocolError);
      expect(right.events.closed[0]!.message).toContain(`speaks protocol ${PROTOCOL_VERSION + 1}`);
      expect(stderr).toHaveBeenCalledWith(expect.stringContaining('troupe: closing the control channel of right'));
    } finally {
      stderr.mockRestore();
    }
  });

  it('ends the link when garbage arrives, and never passes it on', async () => {
    const [a, b] = await socketPair();
    const right = recorder();
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      new Link(b, right.handler, 'right');
      a.write(Buffer.from('\x00\x00\x00\x00garbage garbage garbage'));
      await right.closed;
      expect(right.events.closed[0]).toBeInstanceOf(ProtocolError);
      expect(right.events.messages).toEqual([]);
      expect(right.events.system).toEqual([]);
    } finally {
      stderr.mockRestore();
    }
  });

  it('reports an ordinary close without an error', async () => {
    const [a, b] = await socketPair();
    const right = recorder();
    new Link(b, right.handler, 'right');
    a.end();
    await right.closed;
    expect(right.events.closed).toEqual([undefined]);
  });
});
