import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageFiles } from '../images/image-files.ts';
import { writeImageMetadata, type ImageMetadata } from '../images/image-metadata.ts';
import {
  applyTemplateSet,
  loadTemplateSet,
  MAX_TEMPLATES_PER_TRIGGER,
  storeTemplateSet,
  templatesFor,
  type TemplateSet,
  type TemplateTarget,
} from './template-apply.ts';
import type { TemplateInstance } from './template-context.ts';
import { deferredTemplateKeys, triggersAtStart } from './template-start.ts';

const FP = 'a'.repeat(64);

const metadata: ImageMetadata = {
  architecture: 'x86_64',
  creationDate: 0,
  expiryDate: 0,
  properties: {},
  templates: {
    '/etc/hostname': { when: ['create', 'copy', 'rename'], template: 'hostname.tpl' },
    '/etc/motd': { when: ['start'], template: 'motd.tpl' },
    '/etc/once': { when: ['create', 'start'], template: 'once.tpl', createOnly: true },
    '/etc/app.conf': {
      when: ['create', 'copy'],
      template: 'app.tpl',
      properties: { greeting: 'hello' },
    },
  },
};

const files: Record<string, string> = {
  'hostname.tpl': '{{ container.name }}\n',
  'motd.tpl': 'started as {{ trigger }}\n',
  'once.tpl': 'first {{ instance.name }}\n',
  'app.tpl': '{{ properties.greeting }} {{ config_get("user.who", "world") }}\n',
};

const c1: TemplateInstance = {
  name: 'c1',
  type: 'container',
  architecture: 'x86_64',
  ephemeral: false,
  expandedConfig: { 'user.who': 'alice' },
  expandedDevices: {},
};

class MemoryTarget implements TemplateTarget {
  readonly files = new Map<string, string>();
  async exists(p: string) {
    return this.files.has(p);
  }
  async write(p: string, content: Buffer) {
    this.files.set(p, content.toString('utf8'));
  }
}

let dir: string;
let images: ImageFiles;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 't-templates-'));
  images = new ImageFiles(dir);
  await mkdir(images.templates(FP), { recursive: true });
  await writeFile(images.metadata(FP), writeImageMetadata(metadata));
  for (const [name, text] of Object.entries(files))
    await writeFile(path.join(images.templates(FP), name), text);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function imageSet(): Promise<TemplateSet> {
  const set = await loadTemplateSet(path.join(dir, 'nowhere'), images, FP);
  if (!set) throw new Error('no set');
  return set;
}

describe('choosing templates', () => {
  it('by trigger, sorted by path', () => {
    expect(templatesFor(metadata, 'create').map(([p]) => p)).toEqual([
      '/etc/app.conf',
      '/etc/hostname',
      '/etc/once',
    ]);
    expect(templatesFor(metadata, 'start').map(([p]) => p)).toEqual(['/etc/motd', '/etc/once']);
    expect(templatesFor(metadata, 'rename').map(([p]) => p)).toEqual(['/etc/hostname']);
  });

  it('a start applies the pending trigger, then the start templates', () => {
    expect(triggersAtStart({ 'volatile.apply_template': 'create' })).toEqual(['create', 'start']);
    expect(triggersAtStart({ 'volatile.apply_template': 'rename' })).toEqual(['rename', 'start']);
    expect(triggersAtStart({})).toEqual(['start']);
    // Not a trigger LXD defers: ignored.
    expect(triggersAtStart({ 'volatile.apply_template': 'start' })).toEqual(['start']);
    expect(triggersAtStart({ 'volatile.apply_template': 'bogus' })).toEqual(['start']);
  });

  it('a pending trigger is kept (LXD DeferTemplateApply)', () => {
    expect(deferredTemplateKeys({}, 'rename')).toEqual({ 'volatile.apply_template': 'rename' });
    expect(deferredTemplateKeys({ 'volatile.apply_template': 'create' }, 'rename')).toEqual({});
  });
});

describe('applying', () => {
  it('renders each template with its context and writes it', async () => {
    const target = new MemoryTarget();
    const written = await applyTemplateSet(await imageSet(), c1, 'create', target);
    expect(written).toEqual(['/etc/app.conf', '/etc/hostname', '/etc/once']);
    expect(Object.fromEntries(target.files)).toEqual({
      '/etc/app.conf': 'hello alice\n',
      '/etc/hostname': 'c1\n',
      '/etc/once': 'first c1\n',
    });
  });

  it('create_only leaves an existing file alone; others are rewritten', async () => {
    const target = new MemoryTarget();
    target.files.set('/etc/once', 'mine\n');
    target.files.set('/etc/motd', 'old\n');
    expect(await applyTemplateSet(await imageSet(), c1, 'start', target)).toEqual(['/etc/motd']);
    expect(target.files.get('/etc/once')).toBe('mine\n');
    expect(target.files.get('/etc/motd')).toBe('started as start\n');
  });

  it('a template that does not render writes nothing and names its file and line', async () => {
    await writeFile(
      path.join(images.templates(FP), 'once.tpl'),
      'ok\n{% include "/etc/shadow" %}\n',
    );
    const target = new MemoryTarget();
    await expect(applyTemplateSet(await imageSet(), c1, 'create', target)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'templates/once.tpl',
      message: expect.stringMatching(
        /^template "once\.tpl", line 2: the tag "include" is not supported/,
      ),
    });
    expect(target.files.size).toBe(0);
  });

  it('a missing or symlinked template file is refused by name', async () => {
    await rm(path.join(images.templates(FP), 'hostname.tpl'));
    await expect(
      applyTemplateSet(await imageSet(), c1, 'rename', new MemoryTarget()),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('templates/hostname.tpl'),
    });
    await symlink('/etc/passwd', path.join(images.templates(FP), 'hostname.tpl'));
    await expect(
      applyTemplateSet(await imageSet(), c1, 'rename', new MemoryTarget()),
    ).rejects.toThrow();
  });
});

describe('bounds', () => {
  it('refuses more templates for one trigger than any image has', async () => {
    const many = Object.fromEntries(
      Array.from({ length: MAX_TEMPLATES_PER_TRIGGER + 1 }, (_, i) => [
        `/etc/f${i}`,
        { when: ['create'], template: 'hostname.tpl' },
      ]),
    );
    const set = { ...(await imageSet()), metadata: { ...metadata, templates: many } };
    await expect(applyTemplateSet(set, c1, 'create', new MemoryTarget())).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining(`at most ${MAX_TEMPLATES_PER_TRIGGER}`),
    });
  });

  it('bounds the output of all templates together', async () => {
    // 1000 templates' worth of ~1 MiB each would be a gigabyte: refused at 16 MiB, nothing written.
    await writeFile(
      path.join(images.templates(FP), 'big.tpl'),
      `{% for a in "${'x'.repeat(1000)}" %}${'y'.repeat(1000)}{% endfor %}`,
    );
    const big = Object.fromEntries(
      Array.from({ length: 200 }, (_, i) => [
        `/etc/big${i}`,
        { when: ['create'], template: 'big.tpl' },
      ]),
    );
    const set = { ...(await imageSet()), metadata: { ...metadata, templates: big } };
    const target = new MemoryTarget();
    await expect(applyTemplateSet(set, c1, 'create', target)).rejects.toMatchObject({
      message: expect.stringMatching(/^template "big\.tpl", line 1: the output is larger than/),
    });
    expect(target.files.size).toBe(0);
  });
});

describe('where the set comes from', () => {
  it("an instance's own copy first, else its base image's, else none", async () => {
    const volume = path.join(dir, 'volume');
    await mkdir(volume);
    expect((await loadTemplateSet(volume, images, FP))?.from).toBe('image');
    expect(await loadTemplateSet(volume, images, 'b'.repeat(64))).toBeNull();
    expect(await loadTemplateSet(volume, images, undefined)).toBeNull();
    // A fingerprint is only ever a hash: nothing else names a file.
    expect(await loadTemplateSet(volume, images, '../../etc')).toBeNull();

    await storeTemplateSet(images, FP, volume);
    expect(await readFile(path.join(volume, 'templates', 'hostname.tpl'), 'utf8')).toBe(
      files['hostname.tpl'],
    );
    await images.removeAll(FP);
    const own = await loadTemplateSet(volume, images, FP);
    expect(own?.from).toBe('instance');
    const target = new MemoryTarget();
    await applyTemplateSet(own as TemplateSet, { ...c1, name: 'c2' }, 'copy', target);
    expect(target.files.get('/etc/hostname')).toBe('c2\n');
  });

  it('an image without templates/ stores only its metadata', async () => {
    await rm(images.templates(FP), { recursive: true });
    const volume = path.join(dir, 'volume');
    await mkdir(volume);
    await storeTemplateSet(images, FP, volume);
    expect((await loadTemplateSet(volume, images, undefined))?.from).toBe('instance');
  });
});
