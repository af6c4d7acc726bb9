// Everyday `lxc` work as a new user of LXD does it (issue 12): LXD's own
// test image imported, profiles created and edited (the client sends null
// maps), new projects with LXD's default profile, and projects that take
// their images or profiles from `default`. Debian's real `lxc` 5.0.2 on the
// real server's unix socket, real busybox containers (LXC).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lxcCli, writeLxdTestImage, type LxcCli } from './helpers/lxc-cli.ts';
import { startServer, type RunningServer } from './helpers/server.ts';

const suffix = randomBytes(3).toString('hex');
const C1 = `ev-${suffix}-c1`;
const C2 = `ev-${suffix}-c2`;

let server: RunningServer;
let lxc: LxcCli;
let imageDir: string;
let tarball: string;
let fingerprint = '';

beforeAll(async () => {
  server = await startServer();
  lxc = await lxcCli(server.dataDir);
  imageDir = await mkdtemp(path.join(os.tmpdir(), 'berth-lxd-test-image-'));
  tarball = await writeLxdTestImage(imageDir);
});

afterAll(async () => {
  if (lxc) {
    for (const name of [C1, C2])
      await lxc.run(['delete', '--force', name, '--project', 'pimg']).catch(() => undefined);
    await lxc.close();
  }
  await server?.stop();
  if (imageDir) await rm(imageDir, { recursive: true, force: true });
});

describe('everyday lxc work on Berth', () => {
  it("imports LXD's own test image, whose metadata.yaml is JSON", async () => {
    const out = await lxc.ok(['image', 'import', tarball, '--alias', 'busybox']);
    fingerprint = /fingerprint: ([0-9a-f]{64})/.exec(out)?.[1] ?? '';
    expect(fingerprint, out).toMatch(/^[0-9a-f]{64}$/);
    expect(await lxc.csv(['image', 'list', '-c', 'lfd'])).toEqual([
      [
        'busybox',
        fingerprint.slice(0, 12),
        `Busybox ${os.arch() === 'x64' ? 'x86_64' : os.arch()}`,
      ],
    ]);
    expect(await lxc.ok(['image', 'show', 'busybox'])).toMatch(/^ {2}os: Busybox$/m);
  });

  it('creates a profile, sets a key, shows it and edits it back unchanged', async () => {
    // The client sends `"config": null, "devices": null`.
    expect(await lxc.ok(['profile', 'create', 'p1'])).toBe('Profile p1 created\n');
    await lxc.ok(['profile', 'set', 'p1', 'limits.cpu', '1']);
    const shown = await lxc.ok(['profile', 'show', 'p1']);
    expect(shown).toBe(
      'config:\n  limits.cpu: "1"\ndescription: ""\ndevices: {}\nname: p1\nused_by: []\n',
    );
    // `lxc profile show | lxc profile edit` is a round trip with no change.
    await lxc.ok(['profile', 'edit', 'p1'], { input: shown });
    expect(await lxc.ok(['profile', 'show', 'p1'])).toBe(shown);
    await lxc.ok(['profile', 'unset', 'p1', 'limits.cpu']);
    expect(await lxc.ok(['profile', 'get', 'p1', 'limits.cpu'])).toBe('\n');
    await lxc.ok(['profile', 'delete', 'p1']);
    expect((await lxc.run(['profile', 'show', 'p1'])).status).not.toBe(0);
  });

  it("gives a new project LXD's default profile: no config, no devices", async () => {
    expect(await lxc.ok(['project', 'create', 'pnew'])).toBe('Project pnew created\n');
    expect(await lxc.ok(['profile', 'show', 'default', '--project', 'pnew'])).toBe(
      'config: {}\ndescription: Default Berth profile for project pnew\ndevices: {}\nname: default\nused_by: []\n',
    );
    const project = await lxc.ok(['project', 'show', 'pnew']);
    for (const key of ['features.images', 'features.profiles', 'features.storage.volumes'])
      expect(project).toContain(`  ${key}: "true"\n`);
    // As in LXD, nothing launches there until the profile has a root disk.
    expect(await lxc.csv(['image', 'list', '--project', 'pnew'])).toEqual([]);
  });

  it("launches in a project with features.images=false from default's image", async () => {
    await lxc.ok(['project', 'create', 'pimg', '-c', 'features.images=false']);
    expect(await lxc.csv(['image', 'list', '--project', 'pimg', '-c', 'lf'])).toEqual([
      ['busybox', fingerprint.slice(0, 12)],
    ]);
    // The project's own default profile is empty (features.profiles is on).
    await lxc.ok([
      'profile',
      'device',
      'add',
      'default',
      'root',
      'disk',
      'path=/',
      'pool=default',
      '--project',
      'pimg',
    ]);
    const launch = await lxc.run(['launch', 'busybox', C1, '--project', 'pimg']);
    expect(launch.status, launch.stderr).toBe(0);
    console.log(`lxc launch (features.images=false): ${launch.ms} ms`);
    await lxc.ok(['init', fingerprint.slice(0, 12), C2, '--project', 'pimg']);
    expect(await lxc.csv(['list', '--project', 'pimg', '-c', 'ns'])).toEqual([
      [C1, 'RUNNING'],
      [C2, 'STOPPED'],
    ]);
    // It runs the image's busybox.
    expect(await lxc.ok(['exec', C1, '--project', 'pimg', '--', 'sh', '-c', 'echo $((6*7))'])).toBe(
      '42\n',
    );
    // The image stayed default's: one image, in default.
    expect(await lxc.csv(['image', 'list', '-c', 'f'])).toEqual([[fingerprint.slice(0, 12)]]);
    for (const name of [C1, C2]) await lxc.ok(['delete', '--force', name, '--project', 'pimg']);
  });

  it("uses default's profiles in a project with features.profiles=false", async () => {
    await lxc.ok(['profile', 'create', 'shared']);
    await lxc.ok(['project', 'create', 'pprof', '-c', 'features.profiles=false']);
    const names = (await lxc.csv(['profile', 'list', '--project', 'pprof'])).map((row) => row[0]);
    expect(names).toEqual(['default', 'shared']);
    // default's default profile, with its root disk.
    expect(await lxc.ok(['profile', 'show', 'default', '--project', 'pprof'])).toMatch(
      /^ {2}root:\n {4}path: \/\n {4}pool: default\n {4}type: disk$/m,
    );
  });

  it('publishes a container and a snapshot of it as images, and launches from them', async () => {
    const name = `ev-${suffix}-pub`;
    await lxc.ok(['launch', 'busybox', name]);
    await lxc.ok(['exec', name, '--', 'sh', '-c', 'echo published > /root/mark']);
    await lxc.ok(['snapshot', name, 'snap0']);
    await lxc.ok(['exec', name, '--', 'rm', '/root/mark']);
    // Running: the client asks for --force and stops it, as against LXD.
    const refused = await lxc.run(['publish', name, '--alias', 'pub-now']);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('Use --force');
    await lxc.ok(['stop', name, '--force']);
    expect(await lxc.ok(['publish', name, '--alias', 'pub-now'])).toMatch(
      /Instance published with fingerprint: [0-9a-f]{64}/,
    );
    expect(await lxc.ok(['publish', `${name}/snap0`, '--alias', 'pub-snap'])).toMatch(
      /Instance published with fingerprint: [0-9a-f]{64}/,
    );
    const listed = await lxc.csv(['image', 'list', '-c', 'lt']);
    expect(listed).toEqual(
      expect.arrayContaining([
        ['pub-now', 'CONTAINER'],
        ['pub-snap', 'CONTAINER'],
      ]),
    );
    for (const [alias, expected] of [
      ['pub-now', 1],
      ['pub-snap', 0],
    ] as const) {
      await lxc.ok(['launch', alias, `${name}-${alias}`]);
      const test = await lxc.run(['exec', `${name}-${alias}`, '--', 'test', '-e', '/root/mark']);
      expect(test.status, alias).toBe(expected);
      await lxc.ok(['delete', '--force', `${name}-${alias}`]);
    }
    // lxc export (no --compression: the client sends an empty algorithm) and lxc import.
    const backup = path.join(imageDir, 'pub-backup.tar.gz');
    await lxc.ok(['export', name, backup]);
    const kind = spawnSync('file', ['-b', backup], { encoding: 'utf8' }).stdout;
    expect(kind).toMatch(/gzip/);
    await lxc.ok(['import', backup, `${name}-imported`]);
    const snapshots = await lxc.ok(['info', `${name}-imported`]);
    expect(snapshots).toMatch(/snap0/);
    await lxc.ok(['start', `${name}-imported`]);
    expect(
      (await lxc.run(['exec', `${name}-imported`, '--', 'test', '-e', '/root/mark'])).status,
    ).toBe(1);
    await lxc.ok(['delete', '--force', `${name}-imported`]);
    // Unknown compressions are refused by name, never run.
    const gz = await lxc.run(['publish', name, '--alias', 'pub-xz', '--compression', 'xz;true']);
    expect(gz.status).not.toBe(0);
    expect(gz.stderr).toContain('compression_algorithm');
    await lxc.ok(['delete', '--force', name]);
  });

  it('hot-plugs a disk into a running container (lxc config device add/remove)', async () => {
    const name = `ev-${suffix}-hp`;
    const share = await mkdtemp(path.join(os.tmpdir(), 'berth-e2e-share-'));
    try {
      await chmod(share, 0o755);
      await writeFile(path.join(share, 'note'), 'from the host\n', { mode: 0o644 });
      await lxc.ok(['launch', 'busybox', name]);
      await lxc.ok([
        'config',
        'device',
        'add',
        name,
        'share',
        'disk',
        `source=${share}`,
        'path=/mnt/share',
      ]);
      // At once, without a restart, as LXD does.
      expect(await lxc.ok(['exec', name, '--', 'cat', '/mnt/share/note'])).toBe('from the host\n');
      await lxc.ok(['config', 'device', 'set', name, 'share', 'readonly=true']);
      const write = await lxc.run(['exec', name, '--', 'touch', '/mnt/share/new']);
      expect(write.status).not.toBe(0);
      expect(write.stderr).toContain('Read-only file system');
      await lxc.ok(['config', 'device', 'remove', name, 'share']);
      expect(await lxc.ok(['exec', name, '--', 'ls', '-A', '/mnt/share'])).toBe('');
    } finally {
      await lxc.run(['delete', '--force', name]).catch(() => undefined);
      await rm(share, { recursive: true, force: true });
    }
  });

  it('lists, acknowledges and deletes warnings (lxc warning)', async () => {
    // What this host's probe found: VMs under TCG when KVM does not work (this project's hosts).
    const rows = await lxc.csv(['warning', 'list', '-c', 'utS']);
    const tcg = rows.find((row) => row[1] === 'Virtual machines run without KVM');
    const all = await lxc.csv(['warning', 'list', '--all', '-c', 'ut']);
    expect(all.length).toBeGreaterThanOrEqual(rows.length);
    if (!tcg) {
      // A host where KVM works: nothing to acknowledge, and the list still answers.
      expect(rows.every((row) => row[1] !== 'Virtual machines run without KVM')).toBe(true);
      return;
    }
    const [uuid] = tcg;
    expect(tcg[2]).toBe('NEW');
    expect(await lxc.ok(['warning', 'show', uuid!])).toMatch(
      /^last_message: .*Virtual machines run under TCG/m,
    );
    await lxc.ok(['warning', 'ack', uuid!]);
    expect((await lxc.csv(['warning', 'list', '-c', 'u'])).flat()).not.toContain(uuid);
    expect(await lxc.csv(['warning', 'list', '--all', '-c', 'uS'])).toContainEqual([
      uuid,
      'ACKNOWLEDGED',
    ]);
    await lxc.ok(['warning', 'delete', uuid!]);
    expect((await lxc.csv(['warning', 'list', '--all', '-c', 'u'])).flat()).not.toContain(uuid);
    const gone = await lxc.run(['warning', 'show', uuid!]);
    expect(gone.status).not.toBe(0);
    expect(gone.stderr).toMatch(/not found/i);
  });
});
