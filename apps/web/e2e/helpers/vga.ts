// A VM's graphical console in tests: the noVNC canvas on the instance page,
// and the `/terminals` socket's `vga` kind driven directly (as a client would).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Socket } from 'socket.io-client';
import type { Page } from 'playwright-core';

/**
 * How many different colours the graphical console's canvas shows (a
 * sample of its pixels, read in the page); 0 while there is no canvas or
 * it has no size yet.
 */
export function canvasColours(page: Page): Promise<number> {
  return page.getByTestId('vga-console').evaluate((element) => {
    const canvas = element.querySelector('canvas');
    if (!canvas || canvas.width === 0 || canvas.height === 0) return 0;
    const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    const colours = new Set<number>();
    // Every 7th pixel is plenty to tell text from a blank screen.
    for (let i = 0; i < data.length; i += 4 * 7)
      colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
    return colours.size;
  });
}

export interface VgaOutcome {
  /** The first bytes the server relayed (an RFB server begins with its version). */
  greeting: string;
  error?: { code: string; message: string };
}

/**
 * Opens the graphical console of `instance` on a connected socket and
 * resolves with the server's first bytes, or its refusal; then closes.
 */
export function openVga(
  socket: Socket,
  request: { project?: string; instance: string },
  timeoutMs = 30_000,
): Promise<VgaOutcome> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('no answer to the vga open in time')),
      timeoutMs,
    );
    const done = (outcome: VgaOutcome) => {
      clearTimeout(timer);
      socket.close();
      resolve(outcome);
    };
    socket.once('data', (data: ArrayBuffer | Buffer) =>
      done({ greeting: Buffer.from(data as ArrayBuffer).toString('latin1') }),
    );
    socket.once('error', (error: { code: string; message: string }) =>
      done({ greeting: '', error }),
    );
    socket.emit('open', { kind: 'vga', ...request });
  });
}

/** The pid in a VM's QEMU pid file under a server's data dir (0: none). */
export function qemuPid(dataDir: string, project: string, name: string): number {
  try {
    const file = path.join(dataDir, 'qemu', `${project}_${name}`, 'qemu.pid');
    return Number(readFileSync(file, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}
