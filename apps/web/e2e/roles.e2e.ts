// Roles, members, tokens and the audit log end to end: the real server, a
// real browser per person, the real engine. The admin makes a viewer and an
// operator in `default` and a project `other`; the viewer sees `default`
// read-only and nothing of `other` (nor a terminal); the operator may start
// and open a shell; the audit page shows what happened, sign-ins and
// terminals included; an API token works until it is deleted.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser } from './helpers/browser.ts';
import { expect as waitFor } from './helpers/expect.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { buildBusyboxImage, launchBusybox, trpcQuery } from './helpers/trpc.ts';
import {
  connected,
  connectTerminal,
  cookieHeader,
  runTerminal,
  terminalRows,
  typeInTerminal,
} from './helpers/terminal.ts';
import {
  signIn,
  signInChangingPassword,
  signOut,
  trpcCall,
  trpcQueryWithToken,
} from './helpers/accounts.ts';

const screenshots = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../test-results/screenshots',
);

let server: RunningServer;
let adminBrowser: Awaited<ReturnType<typeof launchBrowser>>;
let userBrowser: Awaited<ReturnType<typeof launchBrowser>>;
/** The admin's page. */
let admin: Page;
/** Vera's page, later the operator's. */
let user: Page;
let veraPassword = '';
let lxcAvailable = false;

async function shot(page: Page, name: string) {
  await page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: true });
}

async function openPage(browser: Awaited<ReturnType<typeof launchBrowser>>): Promise<Page> {
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(20_000);
  page.on('dialog', (dialog) => void dialog.accept());
  return page;
}

beforeAll(async () => {
  await mkdir(screenshots, { recursive: true });
  server = await startServer();
  adminBrowser = await launchBrowser();
  userBrowser = await launchBrowser();
  admin = await openPage(adminBrowser);
  user = await openPage(userBrowser);
});

afterAll(async () => {
  await adminBrowser?.close().catch(() => {});
  await userBrowser?.close().catch(() => {});
  await server?.stop();
});

describe('roles, members, tokens and the audit log', () => {
  it('the admin makes an instance, a project "other", and the users vera and otto', async () => {
    await signIn(admin, server.url, server.adminUser, server.adminPassword);
    await admin.waitForURL(/\/instances$/);
    const request = admin.request;
    await buildBusyboxImage(request, server.url);
    await launchBusybox(request, server.url, 'roles1', { start: false });
    const drivers = await trpcQuery<{ type: string; available: boolean }[]>(
      request,
      server.url,
      'instances.drivers',
      undefined,
    );
    lxcAvailable = drivers.some((d) => d.type === 'container' && d.available);

    await admin
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Projects' })
      .click();
    await admin.getByLabel('Name', { exact: true }).fill('other');
    await admin.getByRole('button', { name: 'Create project' }).click();
    await waitFor(admin.getByRole('cell', { name: 'other', exact: true })).toBeVisible();

    await admin
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Users' })
      .click();
    await waitFor(admin.getByRole('heading', { name: 'Users' })).toBeVisible();
    // A too-short password is refused, naming the field.
    await admin.getByLabel('User name').fill('vera');
    await admin.getByLabel('Password (leave empty to generate one)').fill('short');
    await admin.getByRole('button', { name: 'Create user' }).click();
    await waitFor(admin.getByText('must be at least 12 characters')).toBeVisible();
    // No password: one is generated and shown once.
    await admin.getByLabel('Password (leave empty to generate one)').fill('');
    await admin.getByRole('button', { name: 'Create user' }).click();
    const secret = admin.getByRole('status', { name: 'Password for vera' }).getByTestId('secret');
    await waitFor(secret).toBeVisible();
    veraPassword = (await secret.innerText()).trim();
    expect(veraPassword).toMatch(/^\S{20}$/);
    await waitFor(admin.locator('tr[data-user="vera"]')).toContainText('password change pending');

    await admin.getByLabel('User name').fill('otto');
    await admin.getByLabel('Password (leave empty to generate one)').fill('otto-given-password');
    await admin.getByRole('button', { name: 'Create user' }).click();
    await waitFor(admin.locator('tr[data-user="otto"]')).toBeVisible();
    await shot(admin, 'users');
  });

  it('makes vera a viewer and otto an operator in "default" only', async () => {
    await admin
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Projects' })
      .click();
    await admin.getByRole('link', { name: 'Members of default' }).click();
    await waitFor(admin.getByRole('heading', { name: 'Members of default' })).toBeVisible();
    for (const [name, role] of [
      ['vera', 'viewer'],
      ['otto', 'operator'],
    ] as const) {
      await admin.getByLabel('User name').fill(name);
      await admin.getByLabel('Role', { exact: true }).selectOption(role);
      await admin.getByRole('button', { name: 'Save member' }).click();
      await waitFor(admin.getByLabel(`Role of ${name}`)).toHaveValue(role);
    }
    // Unknown users are refused, naming the field.
    await admin.getByLabel('User name').fill('nobody');
    await admin.getByRole('button', { name: 'Save member' }).click();
    await waitFor(admin.getByRole('alert')).toContainText('username: user "nobody" not found');
    await shot(admin, 'members');
  });

  it('vera changes her password at first login, then sees default read-only', async () => {
    await signInChangingPassword(user, server.url, 'vera', veraPassword, 'vera-own-password-1');
    const row = user.locator('tr[data-instance="roles1"]');
    await waitFor(row).toBeVisible();
    // Offered nothing her role does not allow...
    const start = row.getByRole('button', { name: 'Start roles1' });
    await waitFor(start).toBeVisible();
    expect(await start.isDisabled()).toBe(true);
    expect(await row.getByRole('button', { name: 'Delete roles1' }).count()).toBe(0);
    expect(await user.getByRole('button', { name: 'Create instance' }).count()).toBe(0);
    expect(await user.getByRole('link', { name: 'Users' }).count()).toBe(0);
    // ...and refused by the server all the same.
    const started = await trpcCall(user.request, server.url, 'mutation', 'instances.changeState', {
      project: 'default',
      name: 'roles1',
      state: { action: 'start' },
    });
    expect(started).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    const deleted = await trpcCall(user.request, server.url, 'mutation', 'instances.delete', {
      project: 'default',
      name: 'roles1',
    });
    expect(deleted).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    const users = await trpcCall(user.request, server.url, 'query', 'users.list', undefined);
    expect(users.code).toBe('FORBIDDEN');
    // Nor a shell: the terminal is refused by policy before anything runs.
    const socket = connectTerminal(server.url, {
      cookie: await cookieHeader(userBrowser.context, server.url),
    });
    await connected(socket);
    const exec = await runTerminal(socket, { kind: 'exec', instance: 'roles1', command: ['id'] });
    expect(exec.error?.code).toBe('FORBIDDEN');
  });

  it('vera does not see project "other" at all', async () => {
    const options = await user
      .getByLabel('Project', { exact: true })
      .locator('option')
      .allInnerTexts();
    expect(options).toEqual(['default']);
    const projects = await trpcCall<{ name: string }[]>(
      user.request,
      server.url,
      'query',
      'projects.list',
      undefined,
    );
    expect(projects.data?.map((p) => p.name)).toEqual(['default']);
    for (const [type, procedure, input] of [
      ['query', 'instances.list', { project: 'other' }],
      ['query', 'projects.get', { project: 'other' }],
      ['query', 'members.list', { project: 'other' }],
      [
        'mutation',
        'instances.changeState',
        { project: 'other', name: 'x', state: { action: 'start' } },
      ],
    ] as const) {
      const answer = await trpcCall(user.request, server.url, type, procedure, input);
      expect(answer, procedure).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    }
  });

  it('an operator may start the instance and open a shell in it', async () => {
    await signOut(user, server.url);
    // A wrong password first: refused, and (below) in the audit log without the password.
    await signIn(user, server.url, 'otto', 'not-ottos-password');
    await waitFor(user.getByText('Wrong user name or password.')).toBeVisible();
    await signInChangingPassword(
      user,
      server.url,
      'otto',
      'otto-given-password',
      'otto-own-password-1',
    );
    const row = user.locator('tr[data-instance="roles1"]');
    const start = row.getByRole('button', { name: 'Start roles1' });
    await waitFor(start).toBeVisible();
    expect(await start.isDisabled()).toBe(false);
    // Not an admin: still no delete.
    expect(await row.getByRole('button', { name: 'Delete roles1' }).count()).toBe(0);
    if (!lxcAvailable) {
      // The policy lets the call through; only the missing driver can refuse it.
      const answer = await trpcCall(user.request, server.url, 'mutation', 'instances.changeState', {
        project: 'default',
        name: 'roles1',
        state: { action: 'start' },
      });
      expect(answer.code).not.toBe('FORBIDDEN');
      console.log('The LXC driver is unavailable here: the operator start was authorised only');
      return;
    }
    await start.click();
    await waitFor(row, 60_000).toContainText('Running');
    // A login shell in the browser's exec terminal, then `exit`.
    await user.goto(`${server.url}/instances/roles1`);
    await user.getByRole('tab', { name: 'Terminals' }).click();
    await user.getByRole('tab', { name: 'Exec' }).click();
    const exec = user.getByTestId('terminal-exec');
    await waitFor(exec, 30_000).toHaveAttribute('data-terminal-state', 'open');
    await waitFor(terminalRows(user, 'exec')).toContainText('#');
    await typeInTerminal(user, 'exec', 'exit');
    await waitFor(exec).toHaveAttribute('data-terminal-state', 'exited');
    await user.goto(`${server.url}/instances`);
    await row.getByRole('button', { name: 'Stop roles1' }).click();
    await waitFor(row, 60_000).toContainText('Stopped');
  });

  it('the audit page shows the actions with their results', async () => {
    await admin
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Audit log' })
      .click();
    await waitFor(admin.getByRole('heading', { name: 'Audit log' })).toBeVisible();
    const created = admin.locator('tr[data-audit-action="users.create"]', { hasText: 'vera' });
    await waitFor(created.filter({ hasText: 'success' })).toBeVisible();
    await waitFor(
      created.filter({ hasText: 'password: must be at least 12 characters' }),
    ).toBeVisible();
    await waitFor(
      admin.locator('tr[data-audit-action="projects.create"]', { hasText: 'other' }),
    ).toContainText('success');
    await waitFor(
      admin.locator('tr[data-audit-action="members.set"]', { hasText: 'vera' }),
    ).toContainText('success');
    // Vera's refused start is there too, with the reason.
    const refused = admin
      .locator('tr[data-audit-action="instances.changeState"]', { hasText: 'vera' })
      .filter({ hasText: 'failure: Your role in project "default" does not allow lifecycle' });
    await waitFor(refused).toBeVisible();
    await waitFor(refused).toContainText('default');
    // Sign-ins, refused and not, and sign-outs: who, from where, and why a refusal.
    const signIns = admin.locator('tr[data-audit-action="auth.signIn"]', { hasText: 'otto' });
    const wrong = signIns.filter({ hasText: 'failure: wrong password' });
    await waitFor(wrong).toContainText('user otto');
    await waitFor(wrong).toContainText('with a password from 127.0.0.1');
    await waitFor(signIns.filter({ hasText: 'success' })).toBeVisible();
    await waitFor(
      admin.locator('tr[data-audit-action="auth.signOut"]', { hasText: 'vera' }),
    ).toContainText('success');
    // Terminals: vera's exec refused by policy; otto's shell opened (when LXC could run it).
    const veraExec = admin.locator('tr[data-audit-action="terminal.exec"]', { hasText: 'vera' });
    await waitFor(veraExec).toContainText(
      'failure: Your role in project "default" does not allow exec',
    );
    await waitFor(veraExec).toContainText('instance roles1');
    await waitFor(veraExec).toContainText('["id"]');
    if (lxcAvailable) {
      const ottoExec = admin.locator('tr[data-audit-action="terminal.exec"]', { hasText: 'otto' });
      await waitFor(ottoExec).toContainText('success');
      await waitFor(ottoExec).toContainText('instance roles1');
      await waitFor(ottoExec).toContainText('["/bin/sh","-l"]');
    }
    // No password ever reaches the log.
    const log = await admin.locator('table[aria-label="Audit log"]').innerText();
    expect(log).not.toContain('otto-given-password');
    expect(log).not.toContain('not-ottos-password');
    // Filtered by project: only other's entries (none of default's).
    await admin.getByLabel('Filter by project').selectOption('other');
    await waitFor(admin.locator('tr[data-audit-action="members.set"]')).toBeHidden();
    await waitFor(admin.locator('tr[data-audit-action="projects.create"]')).toBeVisible();
    await admin.getByLabel('Filter by project').selectOption('');
    await waitFor(admin.locator('tr[data-audit-action="members.set"]')).toBeVisible();
    await shot(admin, 'audit');
  });

  it('an API token made in the UI authenticates tRPC calls until it is deleted', async () => {
    await admin.getByRole('button', { name: `Account ${server.adminUser}` }).click();
    await admin.getByRole('link', { name: 'API tokens' }).click();
    await waitFor(admin.getByRole('heading', { name: 'API tokens' })).toBeVisible();
    await admin.getByLabel('Token name').fill('ci');
    await admin.getByLabel('Expires after (days, empty for never)').fill('30');
    await admin.getByRole('button', { name: 'Create token' }).click();
    const secret = admin.getByRole('status', { name: 'New token "ci"' }).getByTestId('secret');
    await waitFor(secret).toBeVisible();
    const token = (await secret.innerText()).trim();
    expect(token).toMatch(/^berth_[0-9a-f]{40}$/);
    await waitFor(admin.locator('tr[data-token="ci"]')).toBeVisible();

    const anonymous = await fetch(`${server.url}/api/trpc/projects.list`);
    expect(anonymous.status).toBe(401);
    const withToken = await trpcQueryWithToken<{ name: string }[]>(
      server.url,
      token,
      'projects.list',
    );
    expect(withToken.status).toBe(200);
    expect(withToken.data?.map((p) => p.name).sort()).toEqual(['default', 'other']);
    await shot(admin, 'tokens');

    await admin.getByRole('button', { name: 'Delete token ci' }).click();
    await waitFor(admin.locator('tr[data-token="ci"]')).toBeHidden();
    const refused = await trpcQueryWithToken(server.url, token, 'projects.list');
    expect(refused).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
  });
});
