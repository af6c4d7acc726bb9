// Who can read the data directory: a local user (`nobody`) must not read the
// database or any container's files, while unprivileged and privileged
// containers still start and run; a start-up repairs what older installs left open.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeHostState, startTestEngine, type TestEngine } from './helpers.ts';

const suffix = randomBytes(3).toString('hex');
const unprivileged = `secu${suffix}`;
const privileged = `secp${suffix}`;
let t: TestEngine;

/** What `nobody` gets when it runs `command` (a local user without any role). */
function asNobody(...command: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('runuser', ['-u', 'nobody', '--', ...command], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function modeOf(file: string): number {
  return statSync(file).mode & 0o7777;
}

function volumeDir(name: string): string {
  return path.join(t.dataDir, 'storage', 'default', 'containers', `default_${name}`);
}

async function execEcho(name: string): Promise<string> {
  const result = await t.engine.instances.exec('default', name, {
    command: ['sh', '-c', 'id -u; hostname'],
  });
  expect(result.exitCode).toBe(0);
  return result.stdout;
}

beforeAll(async () => {
  t = await startTestEngine();
  const build = await t.engine.images.buildBusybox('default', { alias: `secbusybox${suffix}` });
  expect(await t.engine.operations.wait(build.id)).toMatchObject({ status: 'Success' });
  for (const [name, config] of [
    [unprivileged, {}],
    [privileged, { 'security.privileged': 'true' }],
  ] as const) {
    await t.engine.instances.createAndWait('default', {
      name,
      source: { type: 'image', alias: `secbusybox${suffix}` },
      config,
      start: true,
    });
  }
}, 120_000);

afterAll(async () => {
  await removeHostState(t.engine);
  await t.cleanup();
  // The restart below reopens the same data dir, so remove it here.
  await rm(t.dataDir, { recursive: true, force: true });
}, 60_000);

describe('data directory modes', () => {
  it('can tell: nobody reads a world-readable host file', () => {
    // Without this, every refusal below could be runuser failing for another reason.
    expect(asNobody('cat', '/etc/hostname').status).toBe(0);
  });

  it('runs an unprivileged and a privileged container under the tightened modes', async () => {
    expect(await t.engine.instances.get('default', unprivileged)).toMatchObject({
      status: 'Running',
    });
    expect(await t.engine.instances.get('default', privileged)).toMatchObject({
      status: 'Running',
    });
    expect(await execEcho(unprivileged)).toBe(`0\n${unprivileged}\n`);
    expect(await execEcho(privileged)).toBe(`0\n${privileged}\n`);
  });

  it('keeps the database root-only in a directory nobody can list', () => {
    expect(modeOf(t.dataDir)).toBe(0o711);
    expect(modeOf(path.join(t.dataDir, 'database'))).toBe(0o700);
    const db = path.join(t.dataDir, 'database', 'berth.db');
    for (const file of [db, `${db}-wal`, `${db}-shm`]) {
      expect(existsSync(file), file).toBe(true);
      expect(modeOf(file), file).toBe(0o600);
      const read = asNobody('cat', file);
      expect(read.status, file).not.toBe(0);
      expect(read.stderr).toContain('Permission denied');
    }
    expect(asNobody('ls', t.dataDir).stderr).toContain('Permission denied');
  });

  it('keeps each container folder to its own root: nobody reads no /etc/passwd', () => {
    const subuidStart = Number(
      /^root:(\d+):/m.exec(spawnSync('cat', ['/etc/subuid'], { encoding: 'utf8' }).stdout)?.[1],
    );
    for (const [name, owner] of [
      [unprivileged, subuidStart],
      [privileged, 0],
    ] as const) {
      const dir = volumeDir(name);
      expect(modeOf(dir), name).toBe(0o100);
      expect(statSync(dir).uid, name).toBe(owner);
      const passwd = path.join(dir, 'rootfs', 'etc', 'passwd');
      expect(existsSync(passwd)).toBe(true);
      const read = asNobody('cat', passwd);
      expect(read.status, name).not.toBe(0);
      expect(read.stdout).toBe('');
      expect(read.stderr).toContain('Permission denied');

      const config = path.join(t.dataDir, 'lxc', `default_${name}`, 'config');
      expect(modeOf(config), config).toBe(0o600);
      expect(asNobody('cat', config).stderr).toContain('Permission denied');
    }
    expect(
      asNobody('ls', path.join(t.dataDir, 'storage', 'default', 'containers')).stderr,
    ).toContain('Permission denied');
  });

  it('puts loosened modes right at the next start, and the containers still run', async () => {
    const dataDir = t.dataDir;
    await t.engine.close();
    // What an older install left: everything world-readable.
    const db = path.join(dataDir, 'database', 'berth.db');
    const legacy = path.join(dataDir, 'berth.db');
    chmodSync(dataDir, 0o755);
    // An older Berth kept the database at the top of the data dir.
    renameSync(db, legacy);
    rmSync(path.dirname(db), { recursive: true });
    chmodSync(legacy, 0o644);
    writeFileSync(path.join(dataDir, 'session-secret'), 'x'.repeat(48), { mode: 0o644 });
    chmodSync(path.join(dataDir, 'session-secret'), 0o644);
    for (const name of [unprivileged, privileged]) {
      chmodSync(volumeDir(name), 0o711);
      chownSync(volumeDir(name), 0, 0);
      chmodSync(path.join(dataDir, 'lxc', `default_${name}`, 'config'), 0o644);
    }
    expect(asNobody('cat', legacy).status).toBe(0);
    expect(
      asNobody('cat', path.join(volumeDir(unprivileged), 'rootfs', 'etc', 'passwd')).status,
    ).toBe(0);

    t = await startTestEngine(dataDir);

    expect(modeOf(dataDir)).toBe(0o711);
    // Moved into its root-only folder, with everything it held.
    expect(existsSync(legacy)).toBe(false);
    expect(modeOf(path.dirname(db))).toBe(0o700);
    expect(modeOf(db)).toBe(0o600);
    expect((await t.engine.instances.names('default')).sort()).toEqual(
      [unprivileged, privileged].sort(),
    );
    expect(modeOf(path.join(dataDir, 'session-secret'))).toBe(0o600);
    expect(asNobody('cat', db).stderr).toContain('Permission denied');
    expect(asNobody('cat', path.join(dataDir, 'session-secret')).stderr).toContain(
      'Permission denied',
    );
    for (const name of [unprivileged, privileged]) {
      expect(modeOf(volumeDir(name)), name).toBe(0o100);
      expect(modeOf(path.join(dataDir, 'lxc', `default_${name}`, 'config')), name).toBe(0o600);
      expect(
        asNobody('cat', path.join(volumeDir(name), 'rootfs', 'etc', 'passwd')).stderr,
      ).toContain('Permission denied');
    }
    // The unprivileged container's root owns its folder again, as its start would make it.
    expect(statSync(volumeDir(unprivileged)).uid).not.toBe(0);

    // Still running across the restart, and a full stop and start works too.
    expect(await execEcho(unprivileged)).toBe(`0\n${unprivileged}\n`);
    for (const name of [unprivileged, privileged]) {
      await t.engine.instances.changeStateAndWait('default', name, { action: 'stop', force: true });
      await t.engine.instances.changeStateAndWait('default', name, { action: 'start' });
      expect(await execEcho(name)).toBe(`0\n${name}\n`);
    }
  });
});
