import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AGENT_NOT_RUNNING,
  QgaClient,
  QgaError,
  QgaFramer,
  encodeQgaCommand,
} from './qga-client.ts';

describe('QgaFramer', () => {
  it('drops everything before the 0xFF delimiter, then splits JSON lines', () => {
    const framer = new QgaFramer();
    const stale = Buffer.from(
      '{"return": 1}\n{"error": {"class": "GenericError", "desc": "JSON parse error"}}\n',
    );
    expect(framer.push(stale)).toEqual([]);
    expect(
      framer.push(Buffer.concat([Buffer.from([0xff]), Buffer.from('{"return": 7}\n{"ret')])),
    ).toEqual([{ return: 7 }]);
    expect(framer.push(Buffer.from('urn": {}}\nnoise\n'))).toEqual([{ return: {} }]);
  });
  it('waits for a new delimiter after a resync', () => {
    const framer = new QgaFramer();
    framer.push(Buffer.from([0xff]));
    framer.resync();
    expect(framer.push(Buffer.from('{"return": 1}\n'))).toEqual([]);
    expect(framer.push(Buffer.from('\xff{"return": 2}\n', 'latin1'))).toEqual([{ return: 2 }]);
  });
});

describe('encodeQgaCommand', () => {
  it('writes one line, with arguments only when given', () => {
    expect(encodeQgaCommand('guest-ping')).toBe('{"execute":"guest-ping"}\n');
    expect(encodeQgaCommand('guest-exec-status', { pid: 3 })).toBe(
      '{"execute":"guest-exec-status","arguments":{"pid":3}}\n',
    );
  });
});

describe('QgaClient', () => {
  let dir = '';
  let server: net.Server | undefined;
  afterEach(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A fake agent: answers sync (after a stale answer), guest-ping, and an error for anything else. */
  function fakeAgent(options: { silent?: boolean; lateFirstSync?: boolean } = {}): string {
    dir = mkdtempSync(path.join(os.tmpdir(), 'qga-test-'));
    const socket = path.join(dir, 'qga.sock');
    server = net.createServer((conn) => {
      let buffer = '';
      // A booting guest: the first sync is answered only when the next one comes.
      let held: number | undefined;
      let syncs = 0;
      const delimited = (id: number | undefined) =>
        Buffer.concat([Buffer.from([0xff]), Buffer.from(`{"return": ${id}}\n`)]);
      // Answers leave one after the other, each `delayMs` after the one before.
      let answered = Promise.resolve();
      const reply = (answer: Buffer | string, delayMs = 0) => {
        answered = answered.then(
          () => new Promise((done) => setTimeout(() => done(void conn.write(answer)), delayMs)),
        );
      };
      conn.on('data', (chunk: Buffer) => {
        if (options.silent) return;
        buffer += chunk.toString('latin1').replace(/\xff/g, '');
        let at: number;
        while ((at = buffer.indexOf('\n')) >= 0) {
          const request = JSON.parse(buffer.slice(0, at)) as {
            execute: string;
            arguments?: { id?: number };
          };
          buffer = buffer.slice(at + 1);
          if (request.execute === 'guest-sync-delimited' && options.lateFirstSync) {
            syncs += 1;
            if (syncs === 1) held = request.arguments?.id;
            else {
              if (held !== undefined) reply(delimited(held));
              held = undefined;
              // Ours a moment later, as its own read; in order, as the agent answers.
              reply(delimited(request.arguments?.id), 30);
            }
          } else if (request.execute === 'guest-sync-delimited') {
            // An earlier client's leftover first, then ours.
            conn.write('{"return": 12345}\n');
            conn.write(
              Buffer.concat([
                Buffer.from([0xff]),
                Buffer.from(`{"return": ${request.arguments?.id}}\n`),
              ]),
            );
          } else if (request.execute === 'guest-ping') reply('{"return": {}}\n');
          else reply('{"error": {"class": "CommandNotFound", "desc": "no such command"}}\n');
        }
      });
    });
    server.listen(socket);
    return socket;
  }

  it('syncs past stale answers, executes in order and reports agent errors', async () => {
    const client = await QgaClient.connect(fakeAgent());
    try {
      expect(await client.execute('guest-ping')).toEqual({});
      await expect(client.execute('guest-nope')).rejects.toBeInstanceOf(QgaError);
      expect(await client.execute('guest-ping')).toEqual({});
    } finally {
      client.close();
    }
  });

  it('takes a late answer to an earlier sync for what it is: every answer stays with its request', async () => {
    const socket = fakeAgent({ lateFirstSync: true });
    const client = await QgaClient.open(socket);
    try {
      await expect(client.sync(200)).rejects.toMatchObject({ message: AGENT_NOT_RUNNING });
      // The same connection, asked again (vm-runtime.ts keeps it): the old id comes first.
      await client.sync(2_000);
      expect(await client.execute('guest-ping')).toEqual({});
      await expect(client.execute('guest-nope')).rejects.toBeInstanceOf(QgaError);
      expect(await client.execute('guest-ping')).toEqual({});
    } finally {
      client.close();
    }
  });

  it("answers LXD's error when nothing answers the sync", async () => {
    await expect(
      QgaClient.connect(fakeAgent({ silent: true }), { syncTimeoutMs: 200 }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
      message: AGENT_NOT_RUNNING,
    });
  });
});
