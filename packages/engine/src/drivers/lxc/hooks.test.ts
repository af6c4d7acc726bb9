import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HookSpool, hookEvent, hookScript, parseHookLine, type HookLine } from './hooks.ts';

const base = mkdtempSync(path.join(os.tmpdir(), 'berth-hooks-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('hook lines and events', () => {
  it.each([
    ['default_c1 start-host  123', { type: 'started', project: 'default', name: 'c1' }],
    [
      'default_c1 stop stop 123',
      { type: 'stopping', project: 'default', name: 'c1', target: 'stop' },
    ],
    [
      'default_c1 post-stop reboot 123',
      { type: 'stopped', project: 'default', name: 'c1', target: 'reboot' },
    ],
    [
      'my_project_c1 post-stop stop',
      { type: 'stopped', project: 'my_project', name: 'c1', target: 'stop' },
    ],
  ])('%j', (line, event) => {
    expect(hookEvent(parseHookLine(line) as HookLine)).toEqual(event);
  });

  it('ignores what is not ours', () => {
    expect(parseHookLine('')).toBeUndefined();
    expect(hookEvent(parseHookLine('noproject start-host') as HookLine)).toBeUndefined();
    expect(hookEvent(parseHookLine('p_c pre-start') as HookLine)).toBeUndefined();
    expect(parseHookLine('p_c stop stop 42')).toEqual({
      container: 'p_c',
      hook: 'stop',
      target: 'stop',
      pid: 42,
    });
  });

  it('the script appends one line per run, quoting the spool path', () => {
    const spool = path.join(base, "it's a spool");
    const script = path.join(base, 'hook');
    writeFileSync(script, hookScript(spool), { mode: 0o755 });
    const env = {
      PATH: '/usr/bin:/bin',
      LXC_NAME: 'p_c1',
      LXC_HOOK_TYPE: 'stop',
      LXC_TARGET: 'reboot',
      LXC_PID: '77',
    };
    execFileSync(script, [], { env });
    execFileSync(script, [], {
      env: { PATH: '/usr/bin:/bin', LXC_NAME: 'p_c1', LXC_HOOK_TYPE: 'start-host' },
    });
    expect(execFileSync('cat', [spool], { encoding: 'utf8' })).toBe(
      'p_c1 stop reboot 77\np_c1 start-host  \n',
    );
  });
});

describe('HookSpool', () => {
  it('reads only what is appended after start, whole lines, across rotation', async () => {
    const spool = path.join(base, 'hooks.spool');
    writeFileSync(spool, 'old_c start-host  1\n');
    const seen: string[] = [];
    const tail = new HookSpool(spool, (line) => seen.push(`${line.container}:${line.hook}`));
    tail.start();
    appendFileSync(spool, 'p_c1 start-host  5\np_c1 st');
    tail.poll();
    expect(seen).toEqual(['p_c1:start-host']);
    appendFileSync(spool, 'op stop 5\n');
    tail.poll();
    expect(seen).toEqual(['p_c1:start-host', 'p_c1:stop']);
    // The watcher notices on its own.
    appendFileSync(spool, 'p_c1 post-stop stop 5\n');
    const deadline = Date.now() + 3000;
    while (seen.length < 3 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(seen[2]).toBe('p_c1:post-stop');
    tail.stop();
  });
});
