// The instance detail page end to end: the real server, Chromium, and real
// busybox containers (LXC). Config editing with field errors, snapshots and
// restore seen through the Files tab, byte-exact upload and download, backup
// export and download, bulk stop and delete from the list, and profiles.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { launchBrowser } from './helpers/browser.ts';
import { expect as waitFor } from './helpers/expect.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { buildBusyboxImage, launchBusybox, trpcMutation, trpcQuery } from './helpers/trpc.ts';

const screenshots = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../test-results/screenshots',
);
const FIRST = 'e2e-detail1';
const SECOND = 'e2e-detail2';
const COPY = `e2e-detail-copy-${randomBytes(3).toString('hex')}`;

let server: RunningServer;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
let lxcAvailable = false;

async function shot(name: string) {
  await page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: true });
}

async function openTab(label: string): Promise<Locator> {
  await page.getByRole('tab', { name: label, exact: true }).click();
  const panel = page.getByRole('tabpanel', { name: label, exact: true });
  await waitFor(panel).toBeVisible();
  return panel;
}

/** Clicks `trigger` and returns the bytes of the download it starts. */
async function download(trigger: Locator): Promise<Buffer> {
  const [file] = await Promise.all([page.waitForEvent('download'), trigger.click()]);
  return readFile(await file.path());
}

/** The name of a tarball's first regular file (skipping pax headers and directories). */
function firstFileIn(tar: Buffer): string | null {
  const field = (block: Buffer, from: number, length: number) =>
    block
      .subarray(from, from + length)
      .toString('utf8')
      .replace(/\0.*$/s, '');
  for (let at = 0; at + 512 <= tar.length;) {
    const header = tar.subarray(at, at + 512);
    const name = field(header, 0, 100);
    if (!name) return null;
    const size = Number.parseInt(field(header, 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(header[156] ?? 0);
    if (type === '0' || type === '\0') {
      const prefix = field(header, 345, 155);
      return prefix ? `${prefix}/${name}` : name;
    }
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return null;
}

beforeAll(async () => {
  await mkdir(screenshots, { recursive: true });
  server = await startServer();
  browser = await launchBrowser();
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(20_000);

  await page.goto(`${server.url}/login`);
  await page.getByLabel('User name').fill(server.adminUser);
  await page.getByLabel('Password').fill(server.adminPassword);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(/\/instances$/);

  const drivers = await trpcQuery<{ type: string; available: boolean; reason?: string }[]>(
    page.request,
    server.url,
    'instances.drivers',
    undefined,
  );
  const lxc = drivers.find((d) => d.type === 'container');
  lxcAvailable = lxc?.available ?? false;
  // setup.sh installs everything LXC needs: a missing driver is a failure, not a skip.
  if (!lxcAvailable)
    throw new Error(`The instance detail tests need the LXC driver: ${lxc?.reason ?? '?'}`);
  await buildBusyboxImage(page.request, server.url);
  await launchBusybox(page.request, server.url, FIRST);
  await launchBusybox(page.request, server.url, SECOND);
});

afterAll(async () => {
  if (lxcAvailable && page) {
    for (const name of [FIRST, SECOND, COPY])
      await trpcMutation(page.request, server.url, 'instances.delete', {
        project: 'default',
        name,
        force: true,
      }).catch(() => {});
  }
  await browser?.close().catch(() => {});
  await server?.stop();
});

describe('the instance detail page', () => {
  it('shows the overview of a running container', async () => {
    await page.goto(`${server.url}/instances/${FIRST}`);
    await waitFor(page.getByRole('heading', { name: FIRST })).toBeVisible();
    const panel = page.getByRole('tabpanel', { name: 'Overview' });
    await waitFor(panel.getByText('Running', { exact: true })).toBeVisible();
    await waitFor(panel.locator('[data-fact="Processes"]')).toHaveText(/^[1-9]\d*$/);
    await shot('detail-overview');
  });

  it('refuses a bad config value under its field, then saves the fixed one', async () => {
    const panel = await openTab('Configuration');
    await panel.getByRole('button', { name: 'Add key' }).click();
    await panel
      .getByLabel(/^Key \d+$/)
      .last()
      .fill('boot.autostart.delay');
    await panel.getByLabel('Value of boot.autostart.delay').fill('soon');
    const fieldError = panel.locator('[data-field-error="boot.autostart.delay"]');
    await waitFor(fieldError).toBeVisible();
    expect(await panel.getByRole('button', { name: 'Save', exact: true }).isDisabled()).toBe(true);
    await shot('detail-configuration-error');

    await panel.getByLabel('Value of boot.autostart.delay').fill('5');
    await waitFor(fieldError).toBeHidden();
    await panel.getByRole('button', { name: 'Save', exact: true }).click();
    await waitFor(panel.getByRole('status')).toHaveText('Saved.');
    const saved = await trpcQuery<{ config: Record<string, string> }>(
      page.request,
      server.url,
      'instances.get',
      { project: 'default', name: FIRST },
    );
    expect(saved.config['boot.autostart.delay']).toBe('5');
    await waitFor(
      page.getByRole('table', { name: 'Expanded configuration' }).getByText('boot.autostart.delay'),
    ).toBeVisible();
    await shot('detail-configuration');
  });

  it('takes a snapshot, and restoring it removes a file uploaded since', async () => {
    const snapshots = await openTab('Snapshots');
    await snapshots.getByLabel(/^Snapshot name/).fill('before');
    await snapshots.getByRole('button', { name: 'Take snapshot' }).click();
    await waitFor(snapshots.locator('tr[data-snapshot="before"]'), 60_000).toBeVisible();
    // The schedule is checked as you type, with the engine's key table.
    const schedule = snapshots.getByRole('form', { name: 'Snapshot schedule' });
    await schedule.getByLabel(/^Schedule/).fill('every day');
    await waitFor(schedule.getByRole('alert')).toContainText('Schedule must be');
    await schedule.getByLabel(/^Schedule/).fill('@daily');
    await waitFor(schedule.getByRole('alert')).toBeHidden();
    await schedule.getByRole('button', { name: 'Save schedule' }).click();
    await waitFor(schedule.getByRole('status')).toHaveText('Saved.');
    await shot('detail-snapshots');

    const files = await openTab('Files');
    await waitFor(files.locator('tr[data-file="bin"]')).toBeVisible();
    await files.getByLabel('File to upload').setInputFiles({
      name: 'e2e-note.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('written after the snapshot\n'),
    });
    await files.getByRole('button', { name: 'Upload', exact: true }).click();
    await waitFor(files.locator('tr[data-file="e2e-note.txt"]')).toBeVisible();

    const again = await openTab('Snapshots');
    page.once('dialog', (d) => void d.accept());
    await again.getByRole('button', { name: 'Restore before' }).click();
    await waitFor(
      again.locator('li[data-status="Success"]', { hasText: 'Restore before' }),
      90_000,
    ).toBeVisible();

    const after = await openTab('Files');
    await after.getByRole('button', { name: '/', exact: true }).click();
    await waitFor(after.locator('tr[data-file="e2e-note.txt"]'), 30_000).toBeHidden();
    await waitFor(after.locator('tr[data-file="bin"]')).toBeVisible();
  });

  it('copies the running instance with the Copy dialog', async () => {
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: `Copy “${FIRST}”` });
    const name = dialog.getByLabel('New instance name');
    await name.fill('bad_name');
    await waitFor(dialog.getByText(/Invalid instance name/)).toBeVisible();
    await name.fill(SECOND);
    await dialog.getByRole('button', { name: 'Copy', exact: true }).click();
    await waitFor(dialog.getByText(`Instance "${SECOND}" already exists`)).toBeVisible();
    await name.fill(COPY);
    await dialog.getByRole('button', { name: 'Copy', exact: true }).click();
    await waitFor(dialog.getByRole('link', { name: COPY }), 60_000).toBeVisible();
    await shot('detail-copy');
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
    const copy = await trpcQuery<{ name: string; snapshots: { name: string }[] }>(
      page.request,
      server.url,
      'instances.get',
      { project: 'default', name: COPY },
    );
    expect(copy.snapshots.map((s) => s.name)).toEqual(['before']);
  });

  it('uploads a binary file and downloads the same bytes', async () => {
    const files = await openTab('Files');
    await files.getByRole('textbox', { name: 'New directory' }).fill('e2e-dir');
    await files.getByRole('button', { name: 'Make directory' }).click();
    await files.getByRole('button', { name: 'Open e2e-dir' }).click();
    await waitFor(page.getByTestId('cwd')).toHaveAttribute('data-path', '/e2e-dir');
    // Every byte value, NULs and invalid UTF-8 included.
    const bytes = Buffer.concat([
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      randomBytes(200_000),
    ]);
    await files.getByLabel('File to upload').setInputFiles({
      name: 'blob.bin',
      mimeType: 'application/octet-stream',
      buffer: bytes,
    });
    await files.getByRole('button', { name: 'Upload', exact: true }).click();
    await waitFor(files.locator('tr[data-file="blob.bin"]')).toBeVisible();
    await shot('detail-files');
    const got = await download(files.getByRole('link', { name: 'Download blob.bin' }));
    expect(got.length).toBe(bytes.length);
    expect(got.equals(bytes)).toBe(true);

    page.once('dialog', (d) => void d.accept());
    await files.getByRole('button', { name: 'Delete blob.bin' }).click();
    await waitFor(files.locator('tr[data-file="blob.bin"]')).toBeHidden();
  });

  it('exports a backup with progress and downloads it (the index comes first)', async () => {
    const backups = await openTab('Backups');
    await backups.getByRole('button', { name: 'Export backup' }).click();
    const link = backups.getByRole('link', { name: 'Download backup0' });
    await waitFor(link, 120_000).toBeVisible();
    await waitFor(backups.locator('tr[data-backup="backup0"]')).toBeVisible();
    await shot('detail-backups');
    const tarball = gunzipSync(await download(link));
    expect(firstFileIn(tarball)).toBe('backup/index.yaml');
  });

  it('shows the console log and the instance operations', async () => {
    const logs = await openTab('Logs');
    await waitFor(logs.getByTestId('console-log')).toBeVisible();
    await shot('detail-logs');
    const ops = await openTab('Operations');
    const table = ops.getByRole('table', { name: 'Instance operations' });
    await waitFor(table).toContainText('Restoring snapshot');
    await waitFor(table).toContainText('Success');
    await shot('detail-operations');
  });

  it('stops two instances at once from the list, then deletes them', async () => {
    await page.goto(`${server.url}/instances`);
    const first = page.locator(`tr[data-instance="${FIRST}"]`);
    const second = page.locator(`tr[data-instance="${SECOND}"]`);
    await waitFor(first).toContainText('Running');
    await waitFor(second).toContainText('Running');
    await waitFor(first.locator('[data-column="memory"]')).toHaveText(/B$/);
    await page.getByLabel(`Select ${FIRST}`).check();
    await page.getByLabel(`Select ${SECOND}`).check();
    await waitFor(page.getByTestId('selected-count')).toHaveText('2 selected');
    await shot('instances-selected');
    await page.getByRole('button', { name: 'Stop selected' }).click();
    await waitFor(first, 90_000).toContainText('Stopped');
    await waitFor(second, 90_000).toContainText('Stopped');

    await page.getByRole('button', { name: 'Running', exact: true }).click();
    await waitFor(first).toBeHidden();
    await page.getByRole('button', { name: 'All', exact: true }).click();
    await waitFor(first).toBeVisible();

    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete selected' }).click();
    await waitFor(first, 60_000).toBeHidden();
    await waitFor(second, 60_000).toBeHidden();
  });

  it('creates a profile, refuses a bad key under its field, saves, renames and deletes it', async () => {
    await page.goto(`${server.url}/profiles`);
    await page.getByRole('button', { name: 'Create profile' }).click();
    const create = page.getByRole('form', { name: 'Create profile' });
    await create.getByLabel('Name').fill('e2e-small');
    await create.getByRole('button', { name: 'Create' }).click();
    const form = page.getByRole('form', { name: 'Edit profile e2e-small' });
    await waitFor(form).toBeVisible();
    await form.getByRole('button', { name: 'Add key' }).click();
    await form
      .getByLabel(/^Key \d+$/)
      .last()
      .fill('limits.memory');
    await form.getByLabel('Value of limits.memory').fill('lots');
    await waitFor(form.locator('[data-field-error="limits.memory"]')).toBeVisible();
    await shot('profiles-error');
    await form.getByLabel('Value of limits.memory').fill('256MiB');
    await form.getByRole('button', { name: 'Save profile' }).click();
    await waitFor(form.getByRole('status')).toContainText('Saved');
    const saved = await trpcQuery<{ config: Record<string, string> }>(
      page.request,
      server.url,
      'profiles.get',
      { project: 'default', name: 'e2e-small' },
    );
    expect(saved.config['limits.memory']).toBe('256MiB');
    await shot('profiles');

    await page.getByRole('button', { name: 'Rename e2e-small' }).click();
    await page.getByLabel('New name for e2e-small').fill('e2e-tiny');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await waitFor(page.locator('tr[data-profile="e2e-tiny"]')).toBeVisible();
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete e2e-tiny' }).click();
    await waitFor(page.locator('tr[data-profile="e2e-tiny"]')).toBeHidden();
  });
});
