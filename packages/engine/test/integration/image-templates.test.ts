// Image templates applied as LXD applies them, with real LXC containers: an
// image tarball carrying templates (create/copy/rename, start, create_only,
// properties and config_get), rendered into the container's rootfs at its
// first start, again for a copy and after a rename, and never through a
// guest symlink onto the host.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeImageMetadata, type ImageMetadata } from '../../src/images/image-metadata.ts';
import { removeHostState, startTestEngine, waitFor, type TestEngine } from './helpers.ts';
import { agentAnswers, BOOT_WAIT_MS, killQemus, requireQemu, succeeded } from './vm-helpers.ts';

const suffix = randomBytes(3).toString('hex');
const name = (base: string) => `t-tpl-${base}-${suffix}`;
const hostFile = path.join(os.tmpdir(), `t-tpl-host-${suffix}`);
let t: TestEngine;
let stageDir: string;
let fingerprint: string;

const templates: ImageMetadata['templates'] = {
  '/etc/hostname': { when: ['create', 'copy', 'rename'], template: 'hostname.tpl' },
  '/etc/started': { when: ['start'], template: 'started.tpl' },
  // The image has this file: create_only leaves it.
  '/etc/seeded': { when: ['create'], template: 'once.tpl', createOnly: true },
  // Not in the image: made, with its parent.
  '/etc/fresh/once': { when: ['create', 'copy'], template: 'once.tpl', createOnly: true },
  '/etc/app.conf': {
    when: ['create', 'copy'],
    template: 'app.tpl',
    properties: { greeting: 'hello', default_mode: 'dhcp' },
  },
  // A symlink in the image pointing at a host path.
  '/etc/escape': { when: ['create'], template: 'escape.tpl' },
};

const templateFiles: Record<string, string> = {
  'hostname.tpl': '{{ container.name }}\n',
  'started.tpl': '{{ instance.name }} {{ trigger }} {{ config_get("user.boot", "none") }}\n',
  'once.tpl': 'rendered for {{ instance.name }}\n',
  'app.tpl': `{{ properties.greeting }} {{ config_get("user.who", "nobody") }}
mode: {% if config_get("user.network_mode", "") == "link-local" %}manual{% else %}{{ properties.default_mode }}{% endif %}
privileged: {{ container.privileged }} type: {{ instance.type }} trigger: {{ trigger }}
`,
  'escape.tpl': 'written by a template\n',
};

async function importImage(
  tree: string,
  metadata: ImageMetadata['templates'],
  files: Record<string, string>,
  alias: string,
): Promise<string> {
  await writeFile(
    path.join(tree, 'metadata.yaml'),
    writeImageMetadata({
      architecture: 'x86_64',
      creationDate: 1700000000,
      expiryDate: 0,
      properties: { os: 'busybox', description: 'templates test' },
      templates: metadata,
    }),
  );
  await rm(path.join(tree, 'templates'), { recursive: true, force: true });
  await mkdir(path.join(tree, 'templates'));
  for (const [file, text] of Object.entries(files))
    await writeFile(path.join(tree, 'templates', file), text);
  const tarball = path.join(tree, `${alias}.tar.gz`);
  execFileSync('tar', [
    '-czf',
    tarball,
    '--numeric-owner',
    '-C',
    tree,
    'metadata.yaml',
    'templates',
    'rootfs',
  ]);
  const op = await t.engine.images.importTarball('default', tarball, { aliases: [alias] });
  const done = await t.engine.operations.wait(op.id);
  expect(done.err).toBe('');
  return (done.metadata as { fingerprint: string }).fingerprint;
}

async function cat(instance: string, file: string): Promise<string> {
  const out = await t.engine.instances.exec('default', instance, { command: ['cat', file] });
  expect(out.exitCode, `cat ${file} in ${instance}: ${String(out.stderr)}`).toBe(0);
  return String(out.stdout);
}

async function shell(instance: string, script: string): Promise<void> {
  const out = await t.engine.instances.exec('default', instance, { command: ['sh', '-c', script] });
  expect(out.exitCode).toBe(0);
}

const start = (instance: string) =>
  t.engine.instances.changeStateAndWait('default', instance, { action: 'start' });
const stop = (instance: string) =>
  t.engine.instances.changeStateAndWait('default', instance, { action: 'stop', force: true });

beforeAll(async () => {
  t = await startTestEngine();
  const build = await t.engine.images.buildBusybox('default', { alias: 'busybox' });
  expect(await t.engine.operations.wait(build.id)).toMatchObject({ status: 'Success' });
  const busybox = await t.engine.images.resolveAlias('default', 'busybox');
  // The busybox image's tree (it boots), with what the templates meet in it.
  stageDir = await mkdtemp(path.join(os.tmpdir(), 't-tpl-image-'));
  execFileSync('cp', [
    '-a',
    await t.engine.images.rootfsPath(busybox),
    path.join(stageDir, 'rootfs'),
  ]);
  await writeFile(path.join(stageDir, 'rootfs/etc/seeded'), 'from the image\n');
  await writeFile(hostFile, 'host file\n');
  await symlink(hostFile, path.join(stageDir, 'rootfs/etc/escape'));
  fingerprint = await importImage(stageDir, templates, templateFiles, 'tplimage');
}, 120_000);

afterAll(async () => {
  // A failed VM test can leave its QEMU: killed by its own pid first.
  if (t) killQemus(t.dataDir, 'default', [name('vm'), name('vm2')]);
  if (t) {
    await removeHostState(t.engine);
    await t.cleanup();
  }
  if (stageDir) await rm(stageDir, { recursive: true, force: true });
  await rm(hostFile, { force: true });
}, 60_000);

describe('image templates in containers', () => {
  it('renders the create and start templates at the first start, then clears the trigger', async () => {
    const c1 = name('c1');
    const created = await t.engine.instances.createAndWait('default', {
      name: c1,
      source: { type: 'image', alias: 'tplimage' },
      config: { 'user.who': 'alice' },
    });
    expect(created.config['volatile.apply_template']).toBe('create');
    await start(c1);
    expect(await cat(c1, '/etc/hostname')).toBe(`${c1}\n`);
    expect(await cat(c1, '/etc/started')).toBe(`${c1} start none\n`);
    expect(await cat(c1, '/etc/app.conf')).toBe(
      'hello alice\nmode: dhcp\nprivileged: false type: container trigger: create\n',
    );
    expect(await cat(c1, '/etc/seeded')).toBe('from the image\n');
    expect(await cat(c1, '/etc/fresh/once')).toBe(`rendered for ${c1}\n`);
    // Owned by the container's root (the rootfs is shifted on the host), 0644; the new folder 0755.
    const owners = await t.engine.instances.exec('default', c1, {
      command: ['stat', '-c', '%u:%g %a', '/etc/fresh/once', '/etc/fresh'],
    });
    expect(owners.stdout).toBe('0:0 644\n0:0 755\n');
    expect((await t.engine.instances.get('default', c1)).config).not.toHaveProperty(
      'volatile.apply_template',
    );
  }, 120_000);

  it('writes through a guest symlink only inside the rootfs, never to the host path', async () => {
    const c1 = name('c1');
    expect(readFileSync(hostFile, 'utf8')).toBe('host file\n');
    // The link's target, resolved with the rootfs as `/`.
    expect(await cat(c1, hostFile)).toBe('written by a template\n');
  });

  it('applies only the start templates at a later start', async () => {
    const c1 = name('c1');
    await shell(c1, 'echo edited > /etc/hostname; echo edited > /etc/app.conf');
    await stop(c1);
    await t.engine.instances.patch('default', c1, { config: { 'user.boot': 'second' } });
    await start(c1);
    expect(await cat(c1, '/etc/started')).toBe(`${c1} start second\n`);
    expect(await cat(c1, '/etc/hostname')).toBe('edited\n');
    expect(await cat(c1, '/etc/app.conf')).toBe('edited\n');
  }, 120_000);

  it('renders the copy templates with the copy’s name and config', async () => {
    const c1 = name('c1');
    const c2 = name('c2');
    await stop(c1);
    const { operation } = await t.engine.instances.create('default', {
      name: c2,
      source: { type: 'copy', source: c1 },
      config: { 'user.who': 'bob', 'user.network_mode': 'link-local' },
    });
    expect(await t.engine.operations.wait(operation.id)).toMatchObject({ status: 'Success' });
    expect((await t.engine.instances.get('default', c2)).config['volatile.apply_template']).toBe(
      'copy',
    );
    await start(c2);
    expect(await cat(c2, '/etc/hostname')).toBe(`${c2}\n`);
    expect(await cat(c2, '/etc/app.conf')).toBe(
      'hello bob\nmode: manual\nprivileged: false type: container trigger: copy\n',
    );
    // create_only: the copy has the source's file.
    expect(await cat(c2, '/etc/fresh/once')).toBe(`rendered for ${c1}\n`);
    await stop(c2);
  }, 120_000);

  it('re-renders the rename templates at the next start after a rename', async () => {
    const c2 = name('c2');
    const c3 = name('c3');
    await t.engine.instances.rename('default', c2, c3);
    expect((await t.engine.instances.get('default', c3)).config['volatile.apply_template']).toBe(
      'rename',
    );
    await start(c3);
    expect(await cat(c3, '/etc/hostname')).toBe(`${c3}\n`);
    // Not a rename template: as the copy left it.
    expect(await cat(c3, '/etc/app.conf')).toContain('trigger: copy\n');
    // The copy took c1's local config (user.boot) along.
    expect(await cat(c3, '/etc/started')).toBe(`${c3} start second\n`);
    await stop(c3);
  }, 120_000);

  it('keeps the templates with the instance once its image is gone (copy of the instance)', async () => {
    const c1 = name('c1');
    const c4 = name('c4');
    const deleting = await t.engine.images.startDelete('default', fingerprint);
    expect(await t.engine.operations.wait(deleting.id)).toMatchObject({ status: 'Success' });
    const { operation } = await t.engine.instances.create('default', {
      name: c4,
      source: { type: 'copy', source: c1 },
    });
    expect(await t.engine.operations.wait(operation.id)).toMatchObject({ status: 'Success' });
    await start(c4);
    expect(await cat(c4, '/etc/hostname')).toBe(`${c4}\n`);
    await stop(c4);
  }, 120_000);

  it('a template outside the supported syntax fails the start, naming the file and line', async () => {
    const bad = name('bad');
    await importImage(
      stageDir,
      { '/etc/bad': { when: ['create'], template: 'bad.tpl' } },
      { 'bad.tpl': 'fine\n{% include "/etc/shadow" %}\n' },
      'tplbad',
    );
    await t.engine.instances.createAndWait('default', {
      name: bad,
      source: { type: 'image', alias: 'tplbad' },
    });
    const failure = await start(bad).then(
      () => null,
      (error: Error) => error,
    );
    expect(failure?.message).toContain(
      'template "bad.tpl", line 2: the tag "include" is not supported',
    );
    expect((await t.engine.instances.get('default', bad)).status).toBe('Stopped');
    // Still pending: it applies once the start succeeds.
    expect((await t.engine.instances.get('default', bad)).config['volatile.apply_template']).toBe(
      'create',
    );
  }, 120_000);

  it('gives a new busybox container its name in /etc/hostname', async () => {
    const bb = name('bb');
    await t.engine.instances.createAndWait('default', {
      name: bb,
      source: { type: 'image', alias: 'busybox' },
      start: true,
    });
    expect(await cat(bb, '/etc/hostname')).toBe(`${bb}\n`);
    expect(await cat(bb, '/etc/hosts')).toContain(`127.0.1.1 ${bb}\n`);
    await stop(bb);
  }, 120_000);

  it('left nothing on the host path', () => {
    expect(readFileSync(hostFile, 'utf8')).toBe('host file\n');
    expect(existsSync(`${hostFile}.tmp`)).toBe(false);
  });
});

describe('image templates in virtual machines', () => {
  const vm = name('vm');
  const vm2 = name('vm2');

  const hostname = (instance: string) =>
    waitFor(
      `the hostname template in ${instance}`,
      () =>
        t.engine.instances
          .exec('default', instance, { command: ['cat', '/etc/hostname'] })
          .then((r) => String(r.stdout))
          .catch((error: Error) => error.message),
      (text) => text === `${instance}\n`,
      BOOT_WAIT_MS,
    );

  it('writes the busybox VM image’s hostname template through the agent after the start', async () => {
    await requireQemu();
    await succeeded(t.engine, t.engine.images.buildBusyboxVm('default', { alias: 'busybox-vm' }));
    const created = await t.engine.instances.createAndWait('default', {
      name: vm,
      type: 'virtual-machine',
      source: { type: 'image', alias: 'busybox-vm' },
      config: { 'limits.memory': '256MiB' },
    });
    expect(created.config['volatile.apply_template']).toBe('create');
    await start(vm);
    await agentAnswers(t.engine, 'default', vm);
    await hostname(vm);
    // The trigger is cleared once every file is written (hostname, then hosts).
    await waitFor(
      'the cleared trigger',
      () => t.engine.instances.get('default', vm),
      (i) => i.config['volatile.apply_template'] === undefined,
    );
    expect(await cat(vm, '/etc/hosts')).toContain(`127.0.1.1 ${vm}\n`);
  }, 900_000);

  it('re-renders it after a rename, at the next start', async () => {
    await stop(vm);
    await t.engine.instances.rename('default', vm, vm2);
    expect((await t.engine.instances.get('default', vm2)).config['volatile.apply_template']).toBe(
      'rename',
    );
    await start(vm2);
    await agentAnswers(t.engine, 'default', vm2);
    await hostname(vm2);
    await stop(vm2);
  }, 900_000);
});
