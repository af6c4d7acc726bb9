import { describe, expect, it } from 'vitest';
import { dataFrames, ptyFrame, ptyHelperArgs, resizeFrame } from './agent-pty.ts';

describe('berth-pty frames', () => {
  it('frames typed bytes as [type, length (big-endian), payload], 64 KiB at most each', () => {
    expect([...ptyFrame(0, Buffer.from('ls\r'))]).toEqual([0, 0, 3, 0x6c, 0x73, 0x0d]);
    const big = Buffer.alloc(70_000, 0x61);
    const frames = dataFrames(big);
    expect(frames.map((f) => f.length)).toEqual([3 + 65_535, 3 + 4_465]);
    expect(frames[0]!.readUInt16BE(1)).toBe(65_535);
    expect(Buffer.concat(frames.map((f) => f.subarray(3)))).toEqual(big);
  });

  it('sends sizes as cols and rows, clamped to what a pty takes', () => {
    expect([...resizeFrame(132, 43)]).toEqual([1, 0, 4, 0, 132, 0, 43]);
    expect([...resizeFrame(0, 1e6)].slice(3)).toEqual([0, 1, 0xff, 0xff]);
  });

  it('starts the command in its cwd through a shell that becomes it', () => {
    const args = ptyHelperArgs('org.berth.pty.1', {
      command: ['sh', '-c', 'echo "$1"', 'x y'],
      cwd: '/root',
      interactive: { cols: 80, rows: 24 },
    });
    expect(args.slice(0, 4)).toEqual(['org.berth.pty.1', '80', '24', '--']);
    expect(args.slice(8)).toEqual(['/root', 'sh', '-c', 'echo "$1"', 'x y']);
    expect(() => ptyHelperArgs('p', { command: [], interactive: { cols: 80, rows: 24 } })).toThrow(
      /command: must not be empty/,
    );
  });
});
