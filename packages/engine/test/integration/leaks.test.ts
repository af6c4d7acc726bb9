// 50 rounds of create, exec (recorded and on a pty), console, delete of
// busybox containers through the engine API: the engine process (this test's
// own, the engine runs in it) and its command sidecar end with the open file
// descriptors and child processes they had after a warm-up round, give or
// take a small fixed slack for things opened lazily.
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { descendants, type ProcessEntry } from './crash-child.ts';
import {
  removeHostState,
  startTestEngine,
  testBridgeName,
  waitFor,
  type TestEngine,
} from './helpers.ts';

const bridge = testBridgeName();
let t: TestEngine;
const ROUNDS = 50;
const FD_SLACK = 4;

beforeAll(async () => {
  t = await startTestEngine(undefined, { network: bridge });
  const build = await t.engine.operations.wait(
    (await t.engine.images.buildBusybox('default', { alias: 'busybox' })).id,
  );
  expect(build.status).toBe('Success');
}, 120_000);

afterAll(async () => {
  if (t) {
    await removeHostState(t.engine, bridge);
    await t.cleanup();
  }
}, 120_000);

function fdCount(pid: number | 'self'): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** What the engine has open and running: its fds, its sidecar's fds, the processes below both. */
function measure() {
  // Containers' monitors and dnsmasq daemonize (their parent is init), so they are not counted.
  const below = descendants(process.pid).filter((p) => p.comm !== 'dnsmasq');
  const sidecars = below.filter((p) => p.comm === 'node');
  return {
    fds: fdCount('self'),
    sidecarFds: sidecars.reduce((n, p) => n + fdCount(p.pid), 0),
    processes: below,
  };
}

const names = (ps: ProcessEntry[]) => ps.map((p) => `${p.pid}:${p.comm}`).join(', ');

async function untilOutput(stream: NodeJS.ReadableStream, text: string): Promise<void> {
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer | string) => {
      seen += chunk.toString();
      if (seen.includes(text)) {
        stream.off('data', onData);
        resolve();
      }
    };
    stream.on('data', onData);
    stream.once('error', reject);
  });
}

async function round(i: number): Promise<void> {
  const name = `t-leak-${i}`;
  const engine = t.engine;
  await engine.instances.createAndWait('default', {
    name,
    source: { type: 'image', alias: 'busybox' },
    start: true,
  });
  const recorded = await engine.instances.exec('default', name, {
    command: ['echo', `round ${i}`],
  });
  expect(recorded.stdout).toBe(`round ${i}\n`);

  // A terminal, as the web console opens one: a shell on a pty, left by `exit`.
  const shell = await engine.instances.execInteractive(
    'default',
    name,
    { command: ['/bin/sh'] },
    { cols: 80, rows: 24 },
  );
  const echoed = untilOutput(shell.stdout, `pty-${i}-ok`);
  shell.stdin.write(`echo pty-${i}-$((1))k | sed s/1k/ok/\n`);
  await echoed;
  shell.stdin.write('exit\n');
  expect(await shell.wait()).toBe(0);

  // The instance's console (getty on /dev/console): opened, answered, closed.
  const console_ = await engine.instances.console('default', name, { cols: 80, rows: 24 });
  const prompt = untilOutput(console_.output, 'login:');
  // A newline until getty answers: one sent before lxc-console is attached is lost.
  const poke = setInterval(() => console_.input.write('\n'), 300);
  console_.input.write('\n');
  await prompt.finally(() => clearInterval(poke));
  console_.close();

  await engine.instances.delete('default', name, { force: true });
}

describe('no descriptor or process leaks', () => {
  it(`ends ${ROUNDS} create/exec/console/delete rounds with what it had after a warm-up`, async () => {
    await round(-1);
    const base = measure();
    for (let i = 0; i < ROUNDS; i++) await round(i);
    // What a round started (lxc-console, lxc-attach, the pty's shell) ends soon after; wait for it.
    const end = await waitFor(
      'descriptors and processes back to the warm-up level',
      () => Promise.resolve(measure()),
      (m) =>
        m.fds <= base.fds + FD_SLACK &&
        m.sidecarFds <= base.sidecarFds + FD_SLACK &&
        m.processes.length <= base.processes.length,
      30_000,
    ).catch(() => measure());
    expect(end.fds, `engine fds (warm-up: ${base.fds})`).toBeLessThanOrEqual(base.fds + FD_SLACK);
    expect(end.sidecarFds, `sidecar fds (warm-up: ${base.sidecarFds})`).toBeLessThanOrEqual(
      base.sidecarFds + FD_SLACK,
    );
    expect(
      names(end.processes),
      `processes below the engine (warm-up: ${names(base.processes)})`,
    ).toBe(names(base.processes));
    expect(await t.engine.instances.names('default')).toEqual([]);
  }, 900_000);
});
