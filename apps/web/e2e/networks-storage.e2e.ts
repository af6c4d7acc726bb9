// Networks and storage pools end to end: the real server, Chromium, a real
// bridge (with dnsmasq) and a real busybox container. The admin sees the
// server's bridge up with its address and its container, creates a bridge of
// its own (a bad address refused under its field), edits and deletes it (gone
// from the host too), sees the default pool's usage and the container's
// volume, and creates and deletes a `dir` pool in a temporary folder. A viewer
// sees both pages without any control to change them, and the API refuses.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { signIn, signInChangingPassword, signOut, trpcCall } from './helpers/accounts.ts';
import { launchBrowser } from './helpers/browser.ts';
import { expect as waitFor } from './helpers/expect.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { buildBusyboxImage, launchBusybox, trpcMutation, trpcQuery } from './helpers/trpc.ts';

const screenshots = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../test-results/screenshots',
);
const INSTANCE = 'e2e-net1';
/** A real bridge on the host: `bt` + random hex, 10 characters (IFNAMSIZ allows 15). */
const NETWORK = `bt${randomBytes(4).toString('hex')}`;
const POOL = `e2e-pool-${randomBytes(3).toString('hex')}`;

let server: RunningServer;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
let poolParent = '';

async function shot(name: string) {
  await page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: true });
}

async function nav(label: string) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label }).click();
}

function hostLinkExists(name: string): boolean {
  return spawnSync('ip', ['link', 'show', 'dev', name], { stdio: 'ignore' }).status === 0;
}

beforeAll(async () => {
  await mkdir(screenshots, { recursive: true });
  server = await startServer();
  browser = await launchBrowser();
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(20_000);
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
  // A running container: its volume is in the default pool, and starting it brings the bridge up.
  await launchBusybox(request, server.url, INSTANCE);
});

afterAll(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  // What this file made, by its own names, in case a test failed half-way.
  if (hostLinkExists(NETWORK))
    spawnSync('ip', ['link', 'del', 'dev', NETWORK], { stdio: 'ignore' });
  if (poolParent) await rm(poolParent, { recursive: true, force: true });
});

describe('networks', () => {
  it("lists the server's bridge up, with its address, and who uses it", async () => {
    const bridge = await trpcQuery<{ config: Record<string, string> }>(
      page.request,
      server.url,
      'networks.get',
      { name: server.bridge },
    );
    const address = bridge.config['ipv4.address']!;
    expect(address).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/);

    await nav('Networks');
    const row = page.locator(`tr[data-network="${server.bridge}"]`);
    await waitFor(row.locator('[data-column="state"]')).toHaveText('up');
    await waitFor(row.locator('[data-column="ipv4"]')).toHaveText(address);
    await waitFor(row.locator('[data-column="dhcp"]')).toHaveText('yes');
    await waitFor(row.locator('[data-column="used-by"]')).toHaveText('1');

    await row.getByRole('button', { name: `Details of ${server.bridge}` }).click();
    await waitFor(page.getByTestId('network-state')).toHaveText('up');
    const detail = page.getByRole('region', { name: `Network “${server.bridge}”` });
    await waitFor(detail).toContainText(address.split('/')[0]!);
    await waitFor(detail.getByRole('link', { name: INSTANCE })).toBeVisible();
    await waitFor(page.getByRole('table', { name: `Leases of ${server.bridge}` })).toBeVisible();
    await shot('networks');

    // In use: the engine refuses to delete it, and says by whom.
    await detail.getByRole('button', { name: `Delete ${server.bridge}` }).click();
    await waitFor(page.getByTestId('network-error')).toContainText(
      `The network "${server.bridge}" is currently in use by`,
    );
    expect(hostLinkExists(server.bridge)).toBe(true);
  });

  it('creates a bridge (a bad address refused under its field), edits and deletes it', async () => {
    await page.getByRole('button', { name: 'Create network' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create network' });
    await dialog.getByLabel('Name').fill(NETWORK);
    const addressField = dialog.locator('label', { hasText: 'IPv4 address' });
    // The subnet's own network address is no gateway.
    await addressField.getByRole('textbox').fill('10.42.0.0/24');
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    await waitFor(addressField).toContainText('is the network or broadcast address');
    await shot('networks-create-error');
    expect(hostLinkExists(NETWORK)).toBe(false);

    // Empty: the engine picks a free subnet, as LXD's `auto`.
    await addressField.getByRole('textbox').fill('');
    await dialog.getByLabel('Description').fill('made by the e2e test');
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    await waitFor(dialog).toBeHidden();

    const row = page.locator(`tr[data-network="${NETWORK}"]`);
    await waitFor(row.locator('[data-column="state"]')).toHaveText('up');
    await waitFor(row.locator('[data-column="ipv4"]')).toHaveText(/^\d+\.\d+\.\d+\.1\/24$/);
    const address = (await row.locator('[data-column="ipv4"]').innerText()).trim();
    // Really on the host: the bridge exists with that address.
    const shown = spawnSync('ip', ['-4', '-o', 'addr', 'show', 'dev', NETWORK], {
      encoding: 'utf8',
    });
    expect(shown.stdout).toContain(`inet ${address}`);
    await waitFor(row.locator('[data-column="description"]')).toHaveText('made by the e2e test');

    const form = page.getByRole('form', { name: `Configuration of ${NETWORK}` });
    await waitFor(form.getByLabel('Value of ipv4.address')).toHaveValue(address);
    await form.getByLabel('Description').fill('edited in the console');
    await form.getByRole('button', { name: 'Save' }).click();
    await waitFor(form.getByRole('status')).toHaveText('Saved');
    await waitFor(row.locator('[data-column="description"]')).toHaveText('edited in the console');
    await shot('networks-detail');

    await page.getByRole('button', { name: `Delete ${NETWORK}` }).click();
    await waitFor(row).toBeHidden();
    expect(hostLinkExists(NETWORK)).toBe(false);
  });
});

describe('storage pools', () => {
  it("shows the default pool's usage and the container's volume", async () => {
    await nav('Storage');
    const row = page.locator('tr[data-pool="default"]');
    const meter = row.getByRole('meter', { name: 'Space used in default' });
    await waitFor(meter).toBeVisible();
    expect(Number(await meter.getAttribute('aria-valuenow'))).toBeGreaterThan(0);
    expect(Number(await meter.getAttribute('aria-valuemax'))).toBeGreaterThan(
      Number(await meter.getAttribute('aria-valuenow')),
    );
    await waitFor(row.locator('[data-column="used-by"]')).toHaveText('1');

    const volumes = page.getByRole('table', { name: 'Volumes in default' });
    const volume = volumes.locator(`tr[data-volume="${INSTANCE}"]`);
    await waitFor(volume).toContainText('container');
    await waitFor(volume.getByRole('link', { name: INSTANCE })).toBeVisible();
    await shot('storage');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('storage-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('creates a dir pool in a folder of its own and deletes it', async () => {
    poolParent = await mkdtemp(path.join(os.tmpdir(), 'berth-e2e-pool-'));
    const source = path.join(poolParent, 'pool');
    await page.getByRole('button', { name: 'Create pool' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create storage pool (dir)' });
    await dialog.getByLabel('Name').fill(POOL);
    await dialog.getByLabel('Source folder (optional; empty or absent)').fill(source);
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    await waitFor(dialog).toBeHidden();

    const row = page.locator(`tr[data-pool="${POOL}"]`);
    await waitFor(row.locator('[data-column="source"]')).toHaveText(source);
    await waitFor(row.getByRole('meter', { name: `Space used in ${POOL}` })).toBeVisible();
    await waitFor(page.getByRole('table', { name: `Volumes in ${POOL}` })).toContainText(
      'No volumes.',
    );
    expect((await readdir(source)).sort()).toContain('containers');

    await row.getByRole('button', { name: `Delete ${POOL}` }).click();
    await waitFor(row).toBeHidden();
    // A source the user named is kept, emptied of the pool's layout.
    expect(await readdir(source)).toEqual([]);
  });
});

describe('a viewer', () => {
  it('sees both pages without controls to change them, and the API refuses', async () => {
    await trpcMutation(page.request, server.url, 'users.create', {
      username: 'nina',
      password: 'nina-given-password',
    });
    await trpcMutation(page.request, server.url, 'members.set', {
      project: 'default',
      username: 'nina',
      role: 'viewer',
    });
    await signOut(page, server.url);
    await signInChangingPassword(
      page,
      server.url,
      'nina',
      'nina-given-password',
      'nina-own-pass-1',
    );

    await nav('Networks');
    const row = page.locator(`tr[data-network="${server.bridge}"]`);
    await waitFor(row.locator('[data-column="state"]')).toHaveText('up');
    await row.getByRole('button', { name: `Details of ${server.bridge}` }).click();
    await waitFor(page.getByRole('link', { name: INSTANCE })).toBeVisible();
    expect(await page.getByRole('button', { name: 'Create network' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: `Delete ${server.bridge}` }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Save' }).count()).toBe(0);
    await shot('networks-viewer');

    await nav('Storage');
    await waitFor(page.locator(`tr[data-volume="${INSTANCE}"]`)).toBeVisible();
    expect(await page.getByRole('button', { name: 'Create pool' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Delete default' }).count()).toBe(0);

    const request = page.request;
    const refusals = await Promise.all([
      trpcCall(request, server.url, 'mutation', 'networks.create', { name: NETWORK }),
      trpcCall(request, server.url, 'mutation', 'networks.update', {
        name: server.bridge,
        put: { description: 'mine now' },
      }),
      trpcCall(request, server.url, 'mutation', 'networks.delete', { name: server.bridge }),
      trpcCall(request, server.url, 'mutation', 'storage.create', { name: POOL, driver: 'dir' }),
      trpcCall(request, server.url, 'mutation', 'storage.delete', { name: 'default' }),
    ]);
    for (const refusal of refusals)
      expect(refusal).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect(hostLinkExists(NETWORK)).toBe(false);
  });
});
