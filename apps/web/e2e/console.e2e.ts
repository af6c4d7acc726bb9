// The web console end to end: the real server, a real browser, the real
// engine (and the LXC driver when this host has it).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expect as waitFor } from './helpers/expect.ts';
import type { BrowserContext, Page } from 'playwright-core';
import { launchBrowser } from './helpers/browser.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { buildBusyboxImage, trpcMutation, trpcQuery, waitOperation } from './helpers/trpc.ts';

const screenshots = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../test-results/screenshots',
);

let server: RunningServer;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let context: BrowserContext;
let page: Page;

async function shot(name: string) {
  await page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: true });
}

async function login(username: string, password: string) {
  await page.goto(`${server.url}/login`);
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

beforeAll(async () => {
  await mkdir(screenshots, { recursive: true });
  server = await startServer();
  browser = await launchBrowser();
  context = browser.context;
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(20_000);
});

afterAll(async () => {
  await browser?.close().catch(() => {});
  // Instances made here go before the server does (their rootfs is in its data dir).
  await server?.stop();
});

describe('the web console', () => {
  it('answers a logged-out tRPC request with UNAUTHORIZED', async () => {
    const res = await fetch(
      `${server.url}/api/trpc/instances.list?input=${encodeURIComponent(JSON.stringify({ project: 'default' }))}`,
    );
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { data: { code: string } } };
    expect(body.error.data.code).toBe('UNAUTHORIZED');
    // Pages send a logged-out browser to the login page.
    await page.goto(`${server.url}/instances`);
    await page.waitForURL(/\/login$/);
  });

  it('refuses a wrong password, then rate-limits the account', async () => {
    for (let i = 0; i < 5; i++) {
      await login('nobody', 'wrong-password');
      await waitFor(page.locator('form [role=alert]')).toHaveText('Wrong user name or password.');
    }
    await shot('login-refused');
    await login('nobody', 'wrong-password');
    await waitFor(page.locator('form [role=alert]')).toHaveText(/Too many failed attempts/);
  });

  it('logs in and shows the instances page', async () => {
    await login(server.adminUser, server.adminPassword);
    await page.waitForURL(/\/instances$/);
    await waitFor(page.getByRole('heading', { name: 'Instances' })).toBeVisible();
    await waitFor(page.getByTestId('live')).toHaveAttribute('data-live', 'true');
    await shot('instances-empty');
  });

  it('creates an instance from the busybox image and lists it without reload; the filter works', async () => {
    const request = page.request;
    await buildBusyboxImage(request, server.url);

    await page.getByRole('button', { name: 'Create instance' }).click();
    const dialog = page.getByRole('dialog');
    await waitFor(dialog.getByLabel('Image')).toHaveValue('busybox');
    // The engine's own name rules, as you type (before anything is sent).
    await dialog.getByLabel(/^Name/).fill('1bad');
    await waitFor(dialog.getByRole('alert')).toContainText('must not start with a number');
    // Submitting is refused while the field is wrong.
    await dialog.getByRole('button', { name: 'Create' }).click();
    await waitFor(dialog).toBeVisible();
    await waitFor(dialog.getByRole('alert')).toContainText('must not start with a number');
    await shot('create-dialog-error');
    await dialog.getByLabel(/^Name/).fill('e2e-web1');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await waitFor(dialog).toBeHidden();
    const row = page.locator('tr[data-instance="e2e-web1"]');
    await waitFor(row).toBeVisible();
    await waitFor(row).toContainText('Stopped');
    await waitFor(row).toContainText('busybox');

    // Made elsewhere (another client): pushed to this page over socket.io.
    const made = await trpcMutation<{ operation: { id: string } }>(
      request,
      server.url,
      'instances.create',
      {
        project: 'default',
        instance: { name: 'e2e-web2', source: { type: 'image', alias: 'busybox' } },
      },
    );
    await waitFor(page.locator('tr[data-instance="e2e-web2"]')).toBeVisible();
    await waitOperation(request, server.url, 'default', made.operation.id);

    await page.getByLabel('Filter instances').fill('name eq e2e-web2');
    await waitFor(page.locator('tr[data-instance="e2e-web1"]')).toBeHidden();
    await waitFor(page.locator('tr[data-instance="e2e-web2"]')).toBeVisible();
    await page.getByLabel('Filter instances').fill('name is e2e');
    await waitFor(page.getByTestId('filter-error')).toContainText('filter');
    await page.getByLabel('Filter instances').fill('');
    await waitFor(page.locator('tr[data-instance="e2e-web1"]')).toBeVisible();
    await shot('instances');
  });

  it('starts the instance and shows it Running (needs the LXC driver)', async () => {
    const drivers = await trpcQuery<{ type: string; available: boolean; reason?: string }[]>(
      page.request,
      server.url,
      'instances.drivers',
      undefined,
    );
    const lxc = drivers.find((d) => d.type === 'container');
    // setup.sh installs everything LXC needs: a missing driver is a failure, not a skip.
    expect(lxc?.available, `the LXC driver: ${lxc?.reason ?? 'not registered'}`).toBe(true);
    const row = page.locator('tr[data-instance="e2e-web1"]');
    await row.getByRole('button', { name: 'Start e2e-web1' }).click();
    await waitFor(row, 60_000).toContainText('Running');
    await page.getByRole('link', { name: 'e2e-web1' }).click();
    await waitFor(page.getByRole('heading', { name: 'e2e-web1' })).toBeVisible();
    await shot('instance-detail-running');
    await page.getByRole('button', { name: 'Stop e2e-web1' }).click();
    await waitFor(page.getByText('Stopped', { exact: true }), 60_000).toBeVisible();
    await page.goto(`${server.url}/instances`);
  });

  it('shows the instance detail, images, operations and projects pages', async () => {
    await page.goto(`${server.url}/instances/e2e-web1`);
    await waitFor(page.getByRole('heading', { name: 'e2e-web1' })).toBeVisible();
    await page.getByRole('tab', { name: 'Configuration', exact: true }).click();
    await waitFor(page.getByRole('heading', { name: 'Configuration' })).toBeVisible();
    await waitFor(page.getByText('volatile.base_image')).toBeVisible();
    await shot('instance-detail');
    await page.getByRole('link', { name: 'Images' }).click();
    await waitFor(page.getByRole('table', { name: 'Images' })).toContainText('busybox');
    await shot('images');
    await page.getByRole('link', { name: 'Operations' }).click();
    await waitFor(page.getByRole('table', { name: 'Operations' })).toContainText(
      'Creating instance',
    );
    await shot('operations');
    await page.getByRole('link', { name: 'Projects' }).click();
    await waitFor(page.getByRole('table', { name: 'Projects' })).toContainText('default');
    await shot('projects');
  });

  it('deletes instances and the list follows', async () => {
    await page.goto(`${server.url}/instances`);
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete e2e-web1' }).click();
    await waitFor(page.locator('tr[data-instance="e2e-web1"]')).toBeHidden();
    await trpcMutation(page.request, server.url, 'instances.delete', {
      project: 'default',
      name: 'e2e-web2',
    });
    await waitFor(page.locator('tr[data-instance="e2e-web2"]')).toBeHidden();
  });

  it('builds a built-in image under its own alias from the Images page and deletes it', async () => {
    await page.getByRole('link', { name: 'Images' }).click();
    const builder = page.getByLabel('Built-in image');
    // The page renders its form before the list of builders arrives: wait for all four.
    await builder.locator('option').nth(3).waitFor({ state: 'attached' });
    expect(await builder.locator('option').allInnerTexts()).toEqual([
      'busybox (container)',
      'busybox (virtual machine)',
      'Debian 12 (container)',
      'Debian 12 (virtual machine)',
    ]);
    // The alias follows the choice until the user types one.
    await builder.selectOption({ label: 'Debian 12 (virtual machine)' });
    await waitFor(page.getByLabel('Alias')).toHaveValue('debian/12-vm');
    await builder.selectOption({ label: 'busybox (container)' });
    await page.getByLabel('Alias').fill('e2e-bb2');
    await page.getByRole('button', { name: 'Build image' }).click();
    const row = page.getByRole('table', { name: 'Images' }).locator('tr', { hasText: 'e2e-bb2' });
    await waitFor(row, 60_000).toContainText('container');
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete image e2e-bb2' }).click();
    await waitFor(row).toBeHidden();
    const aliases = await trpcQuery<Array<{ name: string }>>(
      page.request,
      server.url,
      'images.aliases',
      { project: 'default' },
    );
    expect(aliases.map((a) => a.name)).not.toContain('e2e-bb2');
  });

  it('logs out, after which tRPC answers UNAUTHORIZED', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login$/);
    const res = await page.request.get(`${server.url}/api/trpc/projects.list`);
    expect(res.status()).toBe(401);
    await page.goto(`${server.url}/instances`);
    await page.waitForURL(/\/login$/);
    await shot('login');
  });
});
