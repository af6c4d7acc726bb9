// First start without BERTH_ADMIN_PASSWORD: the generated password is printed
// once, and the admin must change it before anything else.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser } from './helpers/browser.ts';
import { expect as waitFor } from './helpers/expect.ts';
import { startServer, type RunningServer } from './helpers/server.ts';

let server: RunningServer;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;

beforeAll(async () => {
  server = await startServer({ generatedAdminPassword: true });
  browser = await launchBrowser();
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(20_000);
});

afterAll(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
});

describe('first login', () => {
  it('sends the admin to change the generated password first, then lets them in', async () => {
    const passwordFile = path.join(server.dataDir, 'initial-admin-password');
    expect(existsSync(passwordFile)).toBe(true);
    await page.goto(`${server.url}/login`);
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill(server.adminPassword);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(/\/change-password$/);
    // The API refuses everything else until then.
    const blocked = await page.request.get(`${server.url}/api/trpc/projects.list`);
    expect(blocked.status()).toBe(403);
    await page.goto(`${server.url}/instances`);
    await page.waitForURL(/\/change-password$/);

    await page.getByLabel('Current password').fill(server.adminPassword);
    await page.getByLabel('New password (at least 12 characters)').fill('a-new-admin-password');
    await page.getByLabel('New password again').fill('a-new-admin-password');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.waitForURL(/\/instances$/);
    await waitFor(page.getByRole('heading', { name: 'Instances' })).toBeVisible();
    expect(existsSync(passwordFile)).toBe(false);
    const allowed = await page.request.get(`${server.url}/api/trpc/projects.list`);
    expect(allowed.status()).toBe(200);
  });
});
