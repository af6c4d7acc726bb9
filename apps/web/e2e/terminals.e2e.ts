// Terminals end to end: the real server, a real busybox container (LXC),
// xterm.js in Chromium, and the `/terminals` socket.io namespace driven by an
// API client with a session, an API token, or nothing.
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
  runTerminal,
  terminalRows,
  typeInTerminal,
} from './helpers/terminal.ts';
import { buildBusyboxImage, launchBusybox, trpcMutation, trpcQuery } from './helpers/trpc.ts';

const screenshots = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../test-results/screenshots',
);
const INSTANCE = 'e2e-term1';

let server: RunningServer;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
/** The server's own SQLite file, opened beside it to make users and API tokens. */
let db: Database;
let lxcAvailable = false;
let tokens = 0;

async function shot(name: string) {
  await page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: true });
}

/** A user (no password: token-only) with `role` in the default project, or none; returns a token. */
async function tokenFor(username: string, role?: string): Promise<string> {
  const user = (await db.users.get(username)) ?? (await db.users.create({ username }));
  if (role) await db.members.set('default', user.id, role);
  return (await db.tokens.create(user.id, `e2e ${username} ${++tokens}`)).secret;
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
  const lxc = drivers.find((d) => d.type === 'container');
  lxcAvailable = lxc?.available ?? false;
  // setup.sh installs everything LXC needs: a missing driver is a failure, not a skip.
  if (!lxcAvailable)
    throw new Error(`Terminals need the LXC driver, unavailable here: ${lxc?.reason ?? '?'}`);
  const request = page.request;
  await buildBusyboxImage(request, server.url);
  await launchBusybox(request, server.url, INSTANCE);
});

afterAll(async () => {
  if (lxcAvailable && page) {
    await trpcMutation(page.request, server.url, 'instances.delete', {
      project: 'default',
      name: INSTANCE,
      force: true,
    }).catch((e: unknown) => console.error('cleanup:', e));
  }
  await browser?.close().catch(() => {});
  await db?.close();
  await server?.stop();
});

describe('terminals', () => {
  it('refuses a logged-out socket, and a wrong token', async () => {
    for (const credentials of [{}, { token: 'berth_0000000000000000000000000000000000000000' }]) {
      const socket = connectTerminal(server.url, credentials);
      await expect(connected(socket)).rejects.toThrow('UNAUTHORIZED');
      socket.close();
    }
  });

  it('runs `echo $((6*7))` in the exec terminal and shows 42', async () => {
    await page.goto(`${server.url}/instances/${INSTANCE}`);
    await waitFor(page.getByRole('heading', { name: INSTANCE })).toBeVisible();
    await page.getByRole('tab', { name: 'Terminals' }).click();
    await page.getByRole('tab', { name: 'Exec' }).click();
    const exec = page.getByTestId('terminal-exec');
    await waitFor(exec, 30_000).toHaveAttribute('data-terminal-state', 'open');
    // Busybox's login shell prompt ends with "# " for root.
    await waitFor(terminalRows(page, 'exec')).toContainText('#');
    await typeInTerminal(page, 'exec', 'echo $((6*7))');
    await waitFor(terminalRows(page, 'exec')).toHaveText(/^42\s*$/m);
    await shot('terminal-exec');
  });

  it('shows the console: a login prompt or shell output after Enter', async () => {
    await page.getByRole('tab', { name: 'Console', exact: true }).click();
    const consoleTerminal = page.getByTestId('terminal-console');
    await waitFor(consoleTerminal, 30_000).toHaveAttribute('data-terminal-state', 'open');
    await typeInTerminal(page, 'console', '');
    await waitFor(terminalRows(page, 'console')).toHaveText(/login:|#|\$/);
    await shot('terminal-console');
    // The console log keeps what tty 0 printed.
    await page.getByRole('tab', { name: 'Logs', exact: true }).click();
    await waitFor(page.getByTestId('console-log')).toHaveText(/login:|#|\$/);
    await page.getByRole('tab', { name: 'Terminals' }).click();
  });

  it('`exit` in the exec terminal shows the exit status', async () => {
    await page.getByRole('tab', { name: 'Exec' }).click();
    await typeInTerminal(page, 'exec', 'exit 3');
    await waitFor(terminalRows(page, 'exec')).toContainText('[process exited with code 3]');
    await waitFor(page.getByTestId('terminal-exec')).toHaveAttribute(
      'data-terminal-state',
      'exited',
    );
    await shot('terminal-exec-exited');
  });

  it('serves a session socket from the browser cookie', async () => {
    const socket = connectTerminal(server.url, {
      cookie: await cookieHeader(browser.context, server.url),
    });
    await connected(socket);
    const outcome = await runTerminal(
      socket,
      {
        kind: 'exec',
        instance: INSTANCE,
        command: ['/bin/sh', '-c', 'read line; echo "got $line"; exit 5'],
      },
      { input: 'hello\r' },
    );
    expect(outcome.error).toBeUndefined();
    expect(outcome.output).toContain('got hello');
    expect(outcome.exit).toBe(5);
  });

  it('serves an API-token socket, and judges it by the token’s user and role', async () => {
    const admin = connectTerminal(server.url, { token: await tokenFor(server.adminUser) });
    await connected(admin);
    const ok = await runTerminal(admin, {
      kind: 'exec',
      instance: INSTANCE,
      command: ['echo', 'token-ok'],
    });
    expect(ok).toMatchObject({ exit: 0 });
    expect(ok.output).toContain('token-ok');

    // A viewer may read the project but not exec in it.
    const viewer = connectTerminal(server.url, { token: await tokenFor('e2e-viewer', 'viewer') });
    await connected(viewer);
    const refused = await runTerminal(viewer, { kind: 'exec', instance: INSTANCE });
    expect(refused.error?.code).toBe('FORBIDDEN');
    expect(refused.output).toBe('');

    // A user without a role in the project is told it does not exist.
    const outsider = connectTerminal(server.url, { token: await tokenFor('e2e-outsider') });
    await connected(outsider);
    const hidden = await runTerminal(outsider, { kind: 'console', instance: INSTANCE });
    expect(hidden.error).toEqual({
      code: 'NOT_FOUND',
      message: 'Not found: Project "default" not found',
    });

    // The admin's audit page names each one's user and token, and how it went.
    await page.goto(`${server.url}/audit`);
    const byToken = (action: string, who: string) =>
      page.locator(`tr[data-audit-action="${action}"]`, { hasText: who }).filter({
        hasText: 'token #',
      });
    await waitFor(byToken('terminal.exec', server.adminUser)).toContainText('["echo","token-ok"]');
    await waitFor(byToken('terminal.exec', server.adminUser)).toContainText('success');
    await waitFor(byToken('terminal.exec', 'e2e-viewer')).toContainText(
      'failure: Your role in project "default" does not allow exec',
    );
    await waitFor(byToken('terminal.console', 'e2e-outsider')).toContainText(
      'failure: Project "default" not found',
    );
  });

  it('ends the shell when the client goes away', async () => {
    const token = await tokenFor(server.adminUser);
    const marker = `berth-hup-${Date.now()}`;
    /** How many processes in the container name the marker ("[b]" keeps grep and this sh out). */
    const count = async () => {
      const probe = connectTerminal(server.url, { token });
      await connected(probe);
      const { output } = await runTerminal(probe, {
        kind: 'exec',
        instance: INSTANCE,
        command: ['/bin/sh', '-c', `ps | grep -c '[b]${marker.slice(1)}'`],
      });
      return Number.parseInt(output.trim(), 10);
    };

    const socket = connectTerminal(server.url, { token });
    await connected(socket);
    // A shell that would live for a minute; its command line carries the marker.
    const ready = new Promise<void>((resolve) => socket.once('ready', () => resolve()));
    socket.emit('open', {
      kind: 'exec',
      instance: INSTANCE,
      command: ['/bin/sh', '-c', `sleep 60; : ${marker}`],
      cols: 80,
      rows: 24,
    });
    await ready;
    expect(await count()).toBe(1);
    socket.close();
    const deadline = Date.now() + 10_000;
    while ((await count()) > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    expect(await count()).toBe(0);
  });
});
