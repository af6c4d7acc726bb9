// Virtual machines in the web console end to end: the real server, a real
// QEMU (TCG) and Chromium. The busybox VM image is built from the Images
// page, a VM is created in the dialog (which offers only VM images for a
// VM), started, and reached on its serial console (the guest's banner and
// shell prompt) and its graphical console (noVNC drawing the VGA screen,
// which must not be one colour); then deleted by its name. A container's
// graphical console is refused, in the page and on the socket, and a viewer
// gets none (the serial console's rule). VMs boot slowly under TCG on a
// loaded machine: every wait polls generously, nothing is timed.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { defaultDatabaseUrl, openDatabase, type Database } from '@berth/db';
import { launchBrowser } from './helpers/browser.ts';
import { expect as waitFor } from './helpers/expect.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import {
  connected,
  connectTerminal,
  cookieHeader,
  terminalRows,
  typeInTerminal,
} from './helpers/terminal.ts';
import { buildBusyboxImage, launchBusybox, trpcMutation, trpcQuery } from './helpers/trpc.ts';
import { canvasColours, openVga, qemuPid } from './helpers/vga.ts';

const screenshots = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../test-results/screenshots',
);
const VM = `vm${randomBytes(3).toString('hex')}`;
const CONTAINER = `c${randomBytes(3).toString('hex')}`;
const BANNER = 'Berth tiny VM ready';
/** First builds fetch a kernel; boots under TCG on two busy cores are slow. */
const BUILD_WAIT_MS = 400_000;
const BOOT_WAIT_MS = 180_000;

let server: RunningServer;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
let db: Database;

async function shot(name: string) {
  await page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: true });
}

/** Polls `check` until it holds (what the page shows without a locator to wait on). */
async function until(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

beforeAll(async () => {
  await mkdir(screenshots, { recursive: true });
  server = await startServer();
  db = await openDatabase({ url: defaultDatabaseUrl(server.dataDir), migrate: false });
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
  // setup.sh installs QEMU and LXC: a missing driver is a failure, not a skip.
  for (const type of ['virtual-machine', 'container']) {
    const driver = drivers.find((d) => d.type === type);
    if (!driver?.available)
      throw new Error(`The ${type} driver is unavailable here: ${driver?.reason ?? '?'}`);
  }
});

afterAll(async () => {
  for (const name of [VM, CONTAINER]) {
    if (!page) break;
    await trpcMutation(page.request, server.url, 'instances.delete', {
      project: 'default',
      name,
      force: true,
    }).catch(() => {});
  }
  // A VM the engine could not delete is stopped by its own pid (QEMU outlives the server).
  const pid = server ? qemuPid(server.dataDir, 'default', VM) : 0;
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await browser?.close().catch(() => {});
  await db?.close();
  await server?.stop();
});

describe('virtual machines in the web console', () => {
  it(
    'builds the busybox VM image from the Images page',
    async () => {
      await page.getByRole('link', { name: 'Images' }).click();
      await waitFor(page.getByRole('heading', { name: 'Images' })).toBeVisible();
      await page.getByLabel('Built-in image').selectOption({ label: 'busybox (virtual machine)' });
      await waitFor(page.getByLabel('Alias')).toHaveValue('busybox-vm');
      await page.getByRole('button', { name: 'Build image' }).click();
      const row = page
        .getByRole('table', { name: 'Images' })
        .locator('tr', { hasText: 'busybox-vm' });
      await waitFor(row, BUILD_WAIT_MS).toContainText('virtual-machine');
      await shot('vm-images');
    },
    BUILD_WAIT_MS + 60_000,
  );

  it('creates a VM in the dialog, which offers only VM images for a VM', async () => {
    // A container image too, so the dialog has both kinds to choose from.
    await buildBusyboxImage(page.request, server.url);
    await page.getByRole('link', { name: 'Instances' }).click();
    await page.getByRole('button', { name: 'Create instance' }).click();
    const dialog = page.getByRole('dialog');
    const image = dialog.getByLabel('Image');
    await waitFor(image).toHaveValue('busybox');
    expect(await image.locator('option').allInnerTexts()).not.toContain('busybox-vm');
    await dialog.getByLabel('virtual-machine').check();
    await waitFor(image).toHaveValue('busybox-vm');
    expect(await image.locator('option').allInnerTexts()).not.toContain('busybox');
    await dialog.getByLabel(/^Name/).fill(VM);
    await shot('vm-create-dialog');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await waitFor(dialog).toBeHidden();
    const row = page.locator(`tr[data-instance="${VM}"]`);
    await waitFor(row, 120_000).toContainText('Stopped');
    await waitFor(row).toContainText('virtual-machine');
  }, 180_000);

  it(
    'starts the VM; its serial console shows the banner and a shell prompt',
    async () => {
      const row = page.locator(`tr[data-instance="${VM}"]`);
      await row.getByRole('button', { name: `Start ${VM}` }).click();
      await waitFor(row, 120_000).toContainText('Running');
      await page.getByRole('link', { name: VM }).click();
      await waitFor(page.getByRole('heading', { name: VM })).toBeVisible();

      // The boot's banner, in the console log.
      await page.getByRole('tab', { name: 'Logs', exact: true }).click();
      const log = page.getByTestId('console-log');
      await until(
        'the banner in the console log',
        async () => {
          await page.getByRole('button', { name: 'Refresh' }).click();
          return (await log.innerText()).includes(BANNER);
        },
        BOOT_WAIT_MS,
      );

      // The shell on ttyS0 answers Enter with its prompt (typed too early, a key is lost: retried).
      await page.getByRole('tab', { name: 'Terminals' }).click();
      await page.getByRole('tab', { name: 'Console', exact: true }).click();
      const terminal = page.getByTestId('terminal-console');
      await waitFor(terminal, 60_000).toHaveAttribute('data-terminal-state', 'open');
      await until(
        'a shell prompt on the serial console',
        async () => {
          await typeInTerminal(page, 'console', '');
          await new Promise((r) => setTimeout(r, 2000));
          return /berth-vm# /.test(await terminalRows(page, 'console').innerText());
        },
        BOOT_WAIT_MS,
      );
      await typeInTerminal(page, 'console', 'echo $((6*7))');
      await waitFor(terminalRows(page, 'console'), 30_000).toHaveText(/^42\s*$/m);
      await shot('vm-serial-console');
    },
    BOOT_WAIT_MS * 2 + 120_000,
  );

  it('shows the VM’s screen in the graphical console, not a blank canvas', async () => {
    await page.getByRole('tab', { name: 'Graphical console' }).click();
    const vga = page.getByTestId('vga-console');
    await waitFor(vga, 60_000).toHaveAttribute('data-vga-state', 'open');
    await until(
      'something drawn on the screen',
      async () => (await canvasColours(page)) > 1,
      60_000,
    );
    await shot('vm-graphical-console');

    // Disconnect ends it; Reconnect draws the screen again.
    await page.getByRole('button', { name: 'Disconnect' }).last().click();
    await waitFor(page.getByTestId('vga-console')).toBeHidden();
    await page.getByRole('button', { name: 'Reconnect' }).last().click();
    await waitFor(page.getByTestId('vga-console'), 60_000).toHaveAttribute(
      'data-vga-state',
      'open',
    );
    await until('the screen again', async () => (await canvasColours(page)) > 1, 60_000);
  }, 240_000);

  it('serves the VNC stream on the socket to an operator, not to a viewer', async () => {
    const session = connectTerminal(server.url, {
      cookie: await cookieHeader(browser.context, server.url),
    });
    await connected(session);
    const served = await openVga(session, { instance: VM });
    expect(served.error).toBeUndefined();
    // An RFB server speaks first, with its protocol version.
    expect(served.greeting).toMatch(/^RFB 003\.008\n/);

    const viewer =
      (await db.users.get('e2e-vga-viewer')) ??
      (await db.users.create({ username: 'e2e-vga-viewer' }));
    await db.members.set('default', viewer.id, 'viewer');
    const token = (await db.tokens.create(viewer.id, 'e2e vga viewer')).secret;
    const socket = connectTerminal(server.url, { token });
    await connected(socket);
    const refused = await openVga(socket, { instance: VM });
    expect(refused.error).toEqual({
      code: 'FORBIDDEN',
      message: 'Not allowed: Your role in project "default" does not allow console',
    });
  });

  it('has no graphical console for a container', async () => {
    await launchBusybox(page.request, server.url, CONTAINER, { start: false });
    const socket = connectTerminal(server.url, {
      cookie: await cookieHeader(browser.context, server.url),
    });
    await connected(socket);
    const refused = await openVga(socket, { instance: CONTAINER });
    expect(refused.error?.code).toBe('INVALID_ARGUMENT');
    expect(refused.error?.message).toContain('VGA console is only supported by virtual machines');

    await page.goto(`${server.url}/instances/${CONTAINER}#terminals`);
    await waitFor(page.getByRole('heading', { name: CONTAINER })).toBeVisible();
    const tab = page.getByRole('tab', { name: 'Graphical console' });
    await waitFor(tab).toBeVisible();
    expect(await tab.isDisabled()).toBe(true);
    expect(await tab.getAttribute('title')).toBe('Only virtual machines have a graphical console');
  }, 120_000);

  it('stops and deletes the VM by its name', async () => {
    await page.goto(`${server.url}/instances`);
    const row = page.locator(`tr[data-instance="${VM}"]`);
    await row.getByRole('button', { name: `Stop ${VM}` }).click();
    await waitFor(row, 120_000).toContainText('Stopped');
    page.once('dialog', (d) => void d.accept());
    await row.getByRole('button', { name: `Delete ${VM}` }).click();
    await waitFor(row, 60_000).toBeHidden();
    expect(qemuPid(server.dataDir, 'default', VM)).toBe(0);
  }, 240_000);
});
