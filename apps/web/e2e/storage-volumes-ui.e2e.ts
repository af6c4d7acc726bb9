// Custom storage volumes in the console (issue 12): the real server, real
// Chromium and a real busybox container. The admin creates a volume (a bad
// name refused at the field as typed, a taken one by the server), filters
// the table, attaches the volume to the running container, which writes
// into it through exec, and sees the container under "used by" and delete
// refused; takes a snapshot, sees restore refused under the running user,
// detaches, restores and finds the old content again; edits the size (a bad
// one refused at the field), renames the snapshot and the volume, deletes
// both.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { signIn } from './helpers/accounts.ts';
import { launchBrowser } from './helpers/browser.ts';
import { restClient } from './helpers/exec.ts';
import { expect as waitFor } from './helpers/expect.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { buildBusyboxImage, launchBusybox, trpcMutation, trpcQuery } from './helpers/trpc.ts';

const screenshots = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../test-results/screenshots',
);
const suffix = randomBytes(3).toString('hex');
const C1 = `t-svui-${suffix}-c1`;
const V1 = `t-svui-${suffix}-v1`;
const V2 = `t-svui-${suffix}-v2`;

let server: RunningServer;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
let token = '';

async function shot(name: string) {
  await page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: true });
}

/** Runs `script` in the container through the REST exec (recorded output); its stdout. */
async function execIn(script: string): Promise<string> {
  const rest = restClient(server.url);
  const done = (await rest.succeed(token, 'POST', `/1.0/instances/${C1}/exec`, {
    command: ['sh', '-c', script],
    environment: {},
    'wait-for-websocket': false,
    'record-output': true,
    interactive: false,
  })) as unknown as { metadata: { return: number; output: Record<string, string> } };
  const out = await fetch(`${server.url}${done.metadata.output['1']}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  expect(done.metadata.return, `exit status of ${script}`).toBe(0);
  return out.text();
}

const row = (name: string) => page.locator(`tr[data-custom-volume="${name}"]`);
const detail = (name: string) => page.getByRole('region', { name: `Volume “${name}”` });

async function attach(name: string, mountPath: string) {
  const form = page.getByRole('form', { name: `Attach ${name}` });
  await form.getByLabel('Instance').selectOption(C1);
  await form.getByLabel('Mount path').fill(mountPath);
  await form.getByRole('button', { name: 'Attach' }).click();
  await waitFor(
    row(name).locator('[data-column="used-by"]').getByRole('link', { name: C1 }),
  ).toBeVisible();
}

async function detach(name: string) {
  await detail(name)
    .getByRole('button', { name: `Detach from ${C1}` })
    .click();
  await waitFor(row(name).locator('[data-column="used-by"]')).toHaveText('—');
}

function fieldOf(scope: Locator, label: string): Locator {
  return scope.locator('label', { hasText: label });
}

beforeAll(async () => {
  await mkdir(screenshots, { recursive: true });
  server = await startServer();
  browser = await launchBrowser();
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(30_000);
  page.on('dialog', (dialog) => void dialog.accept());
  await signIn(page, server.url, server.adminUser, server.adminPassword);
  await page.waitForURL(/\/instances$/);
  const request = page.request;
  const drivers = await trpcQuery<{ type: string; available: boolean; reason?: string }[]>(
    request,
    server.url,
    'instances.drivers',
    undefined,
  );
  const lxc = drivers.find((d) => d.type === 'container');
  if (!lxc?.available) throw new Error(`These tests need the LXC driver: ${lxc?.reason ?? '?'}`);
  await buildBusyboxImage(request, server.url);
  await launchBusybox(request, server.url, C1);
  token = (
    await trpcMutation<{ secret: string }>(request, server.url, 'tokens.create', {
      name: `storage volumes ui ${suffix}`,
    })
  ).secret;
});

afterAll(async () => {
  // What this file made, by its own names, in case a test failed half-way.
  if (page && server) {
    await trpcMutation(page.request, server.url, 'instances.delete', {
      project: 'default',
      name: C1,
      force: true,
    }).catch(() => {});
    for (const name of [V1, V2])
      await trpcMutation(page.request, server.url, 'storageVolumes.delete', {
        project: 'default',
        pool: 'default',
        name,
      }).catch(() => {});
  }
  await browser?.close().catch(() => {});
  await server?.stop();
});

describe('custom volumes in the console', () => {
  it('creates a volume: a bad name refused at the field, a taken one by the server', async () => {
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Storage' })
      .click();
    await waitFor(page.getByRole('table', { name: 'Custom volumes of default' })).toContainText(
      'No custom volumes.',
    );
    await page.getByRole('button', { name: 'Create volume' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create volume in “default”' });
    const name = fieldOf(dialog, 'Name');
    await name.getByRole('textbox').fill('bad name');
    await waitFor(name).toContainText('must not contain white space');
    expect(await dialog.getByRole('button', { name: 'Create', exact: true }).isDisabled()).toBe(
      true,
    );
    await shot('storage-volumes-create-error');

    await name.getByRole('textbox').fill(V1);
    await dialog.getByLabel(/^Size/).fill('64MiB');
    await dialog.getByLabel('Description').fill('made by the e2e test');
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    await waitFor(dialog).toBeHidden();
    await waitFor(row(V1).locator('[data-column="content-type"]')).toHaveText('filesystem');
    await waitFor(row(V1).locator('[data-column="size"]')).toHaveText('64MiB');
    await waitFor(row(V1).locator('[data-column="snapshots"]')).toHaveText('0');
    await waitFor(row(V1).locator('[data-column="used-by"]')).toHaveText('—');

    // The same name again: only the server knows it is taken, and says so at the field.
    await page.getByRole('button', { name: 'Create volume' }).click();
    await name.getByRole('textbox').fill(V1);
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    await waitFor(name).toContainText('Volume by that name already exists');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await waitFor(dialog).toBeHidden();

    // Filtered by name and by content type.
    const filter = page.getByRole('searchbox', { name: 'Filter volumes' });
    await filter.fill('no-such-volume');
    await waitFor(row(V1)).toBeHidden();
    await waitFor(page.getByRole('table', { name: 'Custom volumes of default' })).toContainText(
      'No volume matches the filter.',
    );
    await filter.fill(suffix);
    await waitFor(row(V1)).toBeVisible();
    const type = page.getByRole('combobox', { name: 'Content type filter' });
    await type.selectOption('block');
    await waitFor(row(V1)).toBeHidden();
    await type.selectOption('filesystem');
    await waitFor(row(V1)).toBeVisible();
    await type.selectOption('');
    await filter.fill('');
  });

  it('attaches it to a running container, which writes into it; delete is refused', async () => {
    // A new volume opens below the table.
    const details = row(V1).getByRole('button', { name: `Details of ${V1}` });
    await waitFor(details).toHaveAttribute('aria-pressed', 'true');
    await waitFor(detail(V1)).toBeVisible();
    await attach(V1, '/mnt/data');
    expect(await execIn('echo before > /mnt/data/f && cat /mnt/data/f')).toBe('before\n');
    await waitFor(
      page.getByRole('list', { name: `Instances using ${V1}` }).getByText(C1),
    ).toBeVisible();
    await shot('storage-volumes');

    await row(V1)
      .getByRole('button', { name: `Delete ${V1}` })
      .click();
    await waitFor(page.getByTestId('volume-error')).toContainText(
      'The storage volume is still in use',
    );
    await waitFor(row(V1)).toBeVisible();
  });

  it('takes a snapshot, restores it once detached, and finds the old content', async () => {
    const snapshots = page.getByRole('table', { name: `Snapshots of ${V1}` });
    const form = page.getByRole('form', { name: `Snapshot ${V1}` });
    await form.getByLabel(/^Snapshot name/).fill('s0');
    await form.getByRole('button', { name: 'Take snapshot' }).click();
    await waitFor(snapshots.locator('tr[data-snapshot="s0"]')).toBeVisible();
    await waitFor(row(V1).locator('[data-column="snapshots"]')).toHaveText('1');
    expect(await execIn('echo after > /mnt/data/f && cat /mnt/data/f')).toBe('after\n');

    // As LXD: no restore under a running instance.
    await snapshots.getByRole('button', { name: 'Restore s0' }).click();
    await waitFor(page.getByTestId('volume-snapshot-error')).toContainText(
      'Cannot restore custom volume used by running instances',
    );

    await detach(V1);
    expect(await execIn('test -e /mnt/data/f && echo still || echo gone')).toBe('gone\n');
    await snapshots.getByRole('button', { name: 'Restore s0' }).click();
    await waitFor(detail(V1).getByRole('status')).toHaveText('Restored from “s0”.');
    await shot('storage-volumes-snapshots');

    await attach(V1, '/mnt/data');
    expect(await execIn('cat /mnt/data/f')).toBe('before\n');
    await detach(V1);
  });

  it('edits the size (a bad one refused at the field), renames and deletes', async () => {
    const config = page.getByRole('form', { name: `Configuration of ${V1}` });
    const size = fieldOf(config, 'Size');
    await size.getByRole('textbox').fill('lots');
    await config.getByRole('button', { name: 'Save' }).click();
    await waitFor(size).toContainText('Invalid value for volume');
    await size.getByRole('textbox').fill('128MiB');
    await config.getByRole('button', { name: 'Save' }).click();
    await waitFor(config.getByRole('status')).toHaveText('Saved');
    await waitFor(row(V1).locator('[data-column="size"]')).toHaveText('128MiB');

    const snapshots = page.getByRole('table', { name: `Snapshots of ${V1}` });
    await snapshots.getByRole('button', { name: 'Rename snapshot s0' }).click();
    await snapshots.getByLabel('New name for snapshot s0').fill('s1');
    await snapshots.getByRole('button', { name: 'Save' }).click();
    await waitFor(snapshots.locator('tr[data-snapshot="s1"]')).toBeVisible();
    await waitFor(snapshots.locator('tr[data-snapshot="s0"]')).toBeHidden();
    await snapshots.getByRole('button', { name: 'Delete snapshot s1' }).click();
    await waitFor(snapshots).toContainText('No snapshots.');
    await waitFor(row(V1).locator('[data-column="snapshots"]')).toHaveText('0');

    await row(V1)
      .getByRole('button', { name: `Rename ${V1}` })
      .click();
    const newName = row(V1).getByLabel(`New name for ${V1}`);
    await newName.fill('a/b');
    await row(V1).getByRole('button', { name: 'Save' }).click();
    await waitFor(row(V1)).toContainText('Storage volume names may not contain slashes');
    await newName.fill(V2);
    await row(V1).getByRole('button', { name: 'Save' }).click();
    await waitFor(row(V2).locator('[data-column="size"]')).toHaveText('128MiB');
    await waitFor(row(V1)).toBeHidden();
    await waitFor(detail(V2)).toBeVisible();

    await row(V2)
      .getByRole('button', { name: `Delete ${V2}` })
      .click();
    await waitFor(row(V2)).toBeHidden();
    const left = await trpcQuery<{ name: string }[]>(
      page.request,
      server.url,
      'storageVolumes.list',
      { project: 'default', pool: 'default' },
    );
    expect(left.map((v) => v.name).filter((n) => n.includes(suffix))).toEqual([]);
  });
});
