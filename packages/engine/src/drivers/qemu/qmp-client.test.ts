import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QmpClient, QmpFramer, encodeQmpCommand } from './qmp-client.ts';

describe('QmpFramer', () => {
  it('splits CRLF-terminated JSON across chunks', () => {
    const framer = new QmpFramer();
    expect(framer.push('{"QMP": {"version": {}}}\r\n{"ret')).toEqual([{ QMP: { version: {} } }]);
    expect(framer.push('urn": {}, "id": 1}\r\n\r\n{"event": "STOP"}\r\n')).toEqual([
      { return: {}, id: 1 },
      { event: 'STOP' },
    ]);
  });
  it('encodes commands with and without arguments', () => {
    expect(encodeQmpCommand('quit', 3)).toBe('{"execute":"quit","id":3}\n');
    expect(encodeQmpCommand('x', 4, { a: 1 })).toBe('{"execute":"x","arguments":{"a":1},"id":4}\n');
  });
});

describe('QmpClient', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('negotiates, matches answers by id, reports errors and closing', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'qmp-'));
    const sock = path.join(dir, 'qmp.sock');
    const server = net.createServer((conn) => {
      conn.write('{"QMP": {"version": {}, "capabilities": []}}\r\n');
      const framer = new QmpFramer();
      conn.on('data', (chunk) => {
        for (const msg of framer.push(chunk.toString()) as unknown as {
          execute: string;
          id: number;
        }[]) {
          if (msg.execute === 'query-status') {
            conn.write('{"event": "RESUME"}\r\n');
            conn.write(`{"return": {"status": "running", "running": true}, "id": ${msg.id}}\r\n`);
          } else if (msg.execute === 'bad') {
            conn.write(
              `{"error": {"class": "CommandNotFound", "desc": "nope"}, "id": ${msg.id}}\r\n`,
            );
          } else if (msg.execute === 'quit') {
            conn.end(`{"return": {}, "id": ${msg.id}}\r\n`);
          } else conn.write(`{"return": {}, "id": ${msg.id}}\r\n`);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      const client = await QmpClient.connect(sock);
      expect(await client.execute('query-status')).toEqual({ status: 'running', running: true });
      await expect(client.execute('bad')).rejects.toThrow(/CommandNotFound: nope/);
      const closed = new Promise<void>((resolve) => client.onClose(resolve));
      await client.execute('quit');
      await closed;
      expect(client.closed).toBe(true);
      await expect(client.execute('query-status')).rejects.toThrow(/closed/);
    } finally {
      server.close();
    }
  });
});
