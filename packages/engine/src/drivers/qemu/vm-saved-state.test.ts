import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { loadState, saveState, shellQuoted, statePath } from './vm-saved-state.ts';

describe('shellQuoted', () => {
  it('makes one word of any path for /bin/sh, quotes included', () => {
    for (const value of ['/var/lib/berth/a b/state', "/x/it's/state", '/x/$(touch y)/`z`']) {
      expect(
        execFileSync('/bin/sh', ['-c', `printf %s ${shellQuoted(value)}`], { encoding: 'utf8' }),
      ).toBe(value);
    }
  });
});

describe('saveState and loadState', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A QMP that answers as QEMU would, the migration going through `statuses`. */
  function qmp(statuses: string[], error?: string) {
    const calls: { command: string; args?: Record<string, unknown> }[] = [];
    const run = async (command: string, args?: Record<string, unknown>) => {
      calls.push({ command, ...(args ? { args } : {}) });
      if (command === 'migrate' && error) throw new Error(`QMP error GenericError: ${error}`);
      if (command === 'migrate') {
        // QEMU's exec: runs the command through the shell, the stream on its stdin: the same.
        execFileSync('/bin/sh', ['-c', String(args?.uri).replace(/^exec:/, '')], {
          input: 'ram\n',
        });
      }
      if (command === 'query-migrate') {
        const status = statuses.shift() ?? 'completed';
        return status === 'failed' ? { status, 'error-desc': 'the pipe broke' } : { status };
      }
      if (command === 'query-status') return { status: 'running' };
      return {};
    };
    return { run, calls };
  }

  it('writes the state whole through a partial file, unthrottled', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'vm-state-'));
    const file = statePath(dir);
    const { run, calls } = qmp(['active', 'active', 'completed']);
    await saveState(run, file);
    expect(readFileSync(file, 'utf8')).toBe('ram\n');
    expect(existsSync(`${file}.partial`)).toBe(false);
    expect(calls[0]).toMatchObject({ command: 'migrate-set-parameters' });
    expect(calls.filter((c) => c.command === 'query-migrate')).toHaveLength(3);
  });

  it("leaves no file when the migration fails, and says QEMU's reason when it refuses", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'vm-state-'));
    const file = statePath(dir);
    await expect(saveState(qmp(['active', 'failed']).run, file)).rejects.toThrow(
      'Saving the VM state failed: the pipe broke',
    );
    expect(existsSync(file) || existsSync(`${file}.partial`)).toBe(false);
    const blocked = "Migration is disabled when VirtFS export path '/srv' is mounted in the guest";
    await expect(saveState(qmp([], blocked).run, file)).rejects.toMatchObject({
      code: 'CONFLICT',
      message: `The VM's state cannot be saved: ${blocked}`,
    });
  });

  it('loads a state from its file, and refuses when there is none', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'vm-state-'));
    const file = statePath(dir);
    await expect(loadState(qmp([]).run, file)).rejects.toMatchObject({
      code: 'CONFLICT',
      message: 'Instance has no existing state to restore',
    });
    writeFileSync(file, 'ram\n');
    const { run, calls } = qmp(['active', 'completed']);
    await loadState(run, file);
    expect(calls[0]).toEqual({
      command: 'migrate-incoming',
      args: { uri: `exec:cat ${shellQuoted(file)}` },
    });
  });
});
