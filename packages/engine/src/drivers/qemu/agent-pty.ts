// Interactive commands in a VM (`lxc exec v1 -- sh`, the web terminal):
// qemu-guest-agent has no pty and takes stdin only up front, so each session
// gets its own channel. The engine hot-plugs a virtio-serial port through
// QMP (chardev-add of a unix socket QEMU serves, device_add of a
// virtserialport named `org.berth.pty.<id>`), connects to it, and starts
// the guest's berth-pty helper (guest/berth-pty.c, in Berth's VM images at
// PTY_HELPER) through guest-exec. The helper opens that port, runs the
// command on a pty and relays bytes; what the user types goes in frames
// (data, resize, signal), the pty's output comes back raw. The exit status
// is guest-exec-status's, and the port is unplugged when the session ends.
// One port per session, so sessions never share a stream; QEMU's
// virtio-serial bus has 31 ports, so about 29 sessions fit beside the
// agent's own port.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { EngineError } from '../../errors.ts';
import { sleep } from '../driver-common.ts';
import type { ExecProcess, ExecRequest } from '../driver.ts';
import { execEnvironmentList } from '../exec-environment.ts';
import { exitCodeOf, signalNumber, type AgentAccess, type GuestExecStatus } from './agent-exec.ts';
import { QgaError } from './qga-client.ts';

/** Where Berth's VM images carry the helper (images/tiny-vm-*.ts install it). */
export const PTY_HELPER = '/usr/lib/berth/berth-pty';

/** The VM's monitor: one QMP command, its answer. */
export type QmpAccess = (command: string, args?: Record<string, unknown>) => Promise<unknown>;

const FRAME_DATA = 0;
const FRAME_RESIZE = 1;
const FRAME_SIGNAL = 2;
const MAX_FRAME = 0xffff;
const POLL_MIN_MS = 50;
const POLL_MAX_MS = 300;
/** After the command exited, output still in flight is waited for this long at most. */
const DRAIN_MS = 2_000;
const SUN_PATH_MAX = 107;

/** One host → guest frame. */
export function ptyFrame(type: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(3);
  header[0] = type;
  header.writeUInt16BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

/** What the user typed, as data frames of at most 64 KiB. */
export function dataFrames(chunk: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let at = 0; at < chunk.length; at += MAX_FRAME)
    frames.push(ptyFrame(FRAME_DATA, chunk.subarray(at, at + MAX_FRAME)));
  return frames;
}

export function resizeFrame(cols: number, rows: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt16BE(Math.max(1, Math.min(MAX_FRAME, Math.floor(cols))), 0);
  payload.writeUInt16BE(Math.max(1, Math.min(MAX_FRAME, Math.floor(rows))), 2);
  return ptyFrame(FRAME_RESIZE, payload);
}

/** The helper's arguments: port, size, then a shell that enters `cwd` and becomes the command. */
export function ptyHelperArgs(
  port: string,
  request: ExecRequest & { interactive: { cols: number; rows: number } },
): string[] {
  if (request.command.length === 0) throw EngineError.invalid('command', 'must not be empty');
  return [
    port,
    String(request.interactive.cols),
    String(request.interactive.rows),
    '--',
    '/bin/sh',
    '-c',
    'd=$1; shift; if [ -n "$d" ]; then cd "$d" || exit 126; fi; exec "$@"',
    'sh',
    request.cwd ?? '',
    ...request.command,
  ];
}

function connect(socket: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(socket);
    conn.once('connect', () => {
      conn.off('error', reject);
      resolve(conn);
    });
    conn.once('error', reject);
  });
}

export async function execOnPty(
  agent: AgentAccess,
  qmp: QmpAccess,
  runDir: string,
  request: ExecRequest & { interactive: { cols: number; rows: number } },
): Promise<ExecProcess> {
  const id = randomBytes(6).toString('hex');
  const port = `org.berth.pty.${id}`;
  const chardev = `pty-${id}`;
  const device = `dev-${chardev}`;
  const socket = path.join(runDir, `${chardev}.sock`);
  if (Buffer.byteLength(socket) > SUN_PATH_MAX)
    throw EngineError.invalid('name', `the session's socket path is too long (${socket})`);
  const args = ptyHelperArgs(port, request);

  let plugged = false;
  const unplug = async () => {
    if (plugged) {
      plugged = false;
      await qmp('device_del', { id: device }).catch(() => {});
      // The guest lets go of the port in its own time; the chardev is busy until then.
      for (let i = 0; i < 40; i++) {
        const removed = await qmp('chardev-remove', { id: chardev }).then(
          () => true,
          () => false,
        );
        if (removed) break;
        await sleep(50);
      }
    }
    rmSync(socket, { force: true });
  };

  let conn: net.Socket;
  let pid: number;
  try {
    await qmp('chardev-add', {
      id: chardev,
      backend: {
        type: 'socket',
        data: { addr: { type: 'unix', data: { path: socket } }, server: true, wait: false },
      },
    });
    plugged = true;
    await qmp('device_add', {
      driver: 'virtserialport',
      bus: 'virtio-serial0.0',
      chardev,
      name: port,
      id: device,
    });
    conn = await connect(socket);
    const client = await agent();
    ({ pid } = await client
      .execute<{ pid: number }>('guest-exec', {
        path: PTY_HELPER,
        arg: args,
        env: execEnvironmentList(request),
        'capture-output': true,
      })
      .catch((error: unknown) => {
        if (error instanceof QgaError && /No such file|not found/i.test(error.message)) {
          throw new EngineError(
            'NOT_IMPLEMENTED',
            `Interactive exec in this VM needs ${PTY_HELPER} in the guest (Berth's VM images have it); exec without a terminal works through the agent`,
          );
        }
        throw error;
      }));
  } catch (error) {
    await unplug();
    throw error;
  }

  const stdout = new PassThrough();
  conn.on('data', (chunk: Buffer) => stdout.write(chunk));
  conn.on('error', () => {});
  let exited = false;
  let lastData = Date.now();
  conn.on('data', () => (lastData = Date.now()));
  const send = (frame: Buffer) => {
    if (!exited && !conn.destroyed) conn.write(frame);
  };
  const stdin = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      for (const frame of dataFrames(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)))
        send(frame);
      callback();
    },
  });

  const waitExit = (async (): Promise<number> => {
    let delay = POLL_MIN_MS;
    try {
      for (;;) {
        const status = await (await agent()).execute<GuestExecStatus>('guest-exec-status', { pid });
        if (status.exited) {
          exited = true;
          // The helper wrote everything before it exited; let it arrive.
          const deadline = Date.now() + DRAIN_MS;
          while (Date.now() < deadline && Date.now() - lastData < 100 && !conn.destroyed)
            await sleep(25);
          // The helper's own complaints (no port, no command) are on its stderr.
          const complaint = Buffer.from(status['err-data'] ?? '', 'base64');
          if (complaint.length) stdout.write(complaint);
          return exitCodeOf(status);
        }
        await sleep(delay);
        delay = Math.min(POLL_MAX_MS, delay * 2);
      }
    } finally {
      exited = true;
      conn.destroy();
      stdout.end();
      await unplug();
    }
  })();
  // Nobody may be waiting yet: an agent that goes away must not crash the engine.
  waitExit.catch(() => {});

  return {
    pid,
    stdout,
    stderr: null,
    stdin,
    wait: () => waitExit,
    signal(signal) {
      const number = signalNumber(signal);
      if (number !== undefined) send(ptyFrame(FRAME_SIGNAL, Buffer.from([number])));
    },
    resize(cols, rows) {
      send(resizeFrame(cols, rows));
    },
  };
}
