// Single sign-on end to end: a real OpenID provider (oidc-provider over
// HTTPS, in this process), the real Berth server configured for it, real
// Chromium. A Berth user signs in through the provider's sign-in and consent
// pages and is that user in Berth, with their projects only; identities Berth
// does not know, or has disabled, are refused on Berth's login page with no
// session; sign-out ends the session; without configuration there is no
// single sign-on button.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser } from './helpers/browser.ts';
import { expect as waitFor } from './helpers/expect.ts';
import { startOidcProvider, type Identity, type RunningProvider } from './helpers/oidc-provider.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { trpcMutation } from './helpers/trpc.ts';
import { signIn, trpcCall } from './helpers/accounts.ts';

const screenshots = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../test-results/screenshots',
);
const providerName = 'Test IdP';
const ssoButton = `Sign in with ${providerName}`;

const identity = (login: string, name: string): Identity => ({
  login,
  password: `${login}-at-the-provider`,
  // The provider's subject differs from the user name: Berth matches on preferred_username.
  sub: `idp-${login}-4711`,
  claims: { preferred_username: login, email: `${login}@example.test`, name },
});
/** A Berth user, a viewer in "default". */
const alice = identity('alice', 'Alice Liddell');
/** Known to the provider, unknown to Berth. */
const mallory = identity('mallory', 'Mallory Moriarty');
/** A Berth user an admin has disabled. */
const dora = identity('dora', 'Dora Disabled');

let idp: RunningProvider;
let server: RunningServer;
let admin: Page;
let adminBrowser: Awaited<ReturnType<typeof launchBrowser>>;
const browsers: Awaited<ReturnType<typeof launchBrowser>>[] = [];
let alicePassword = '';

/** A browser of its own per person: nobody shares the provider's or Berth's cookies. */
async function personPage(): Promise<Page> {
  // The provider's certificate is self-signed; Berth itself verifies it properly.
  const browser = await launchBrowser({ ignoreHTTPSErrors: true });
  browsers.push(browser);
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(20_000);
  return page;
}

/** From Berth's login page through the provider's sign-in and consent pages. */
async function signInAtProvider(page: Page, who: Identity) {
  await page.goto(`${server.url}/login`);
  await page.getByRole('button', { name: ssoButton }).click();
  await page.waitForURL((url) => url.origin === idp.issuer);
  await waitFor(
    page.getByRole('heading', { name: 'Test identity provider: sign in' }),
  ).toBeVisible();
  await page.getByLabel('Login').fill(who.login);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await waitFor(page.getByText('Berth asks to see your profile, email.')).toBeVisible();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL((url) => url.origin === server.url);
}

async function sessionCookies(page: Page) {
  return (await page.context().cookies(server.url)).filter((c) =>
    c.name.includes('authjs.session-token'),
  );
}

/** Refused: back on Berth's login page with the reason, and signed in nowhere in Berth. */
async function expectRefused(page: Page, who: Identity) {
  await page.waitForURL(/\/login\?/);
  await waitFor(page.getByRole('alert')).toHaveText(
    'Single sign-on succeeded, but no enabled Berth user has your user name. Ask a Berth administrator to create or enable your account.',
  );
  await waitFor(page.getByRole('button', { name: ssoButton })).toBeVisible();
  await page.screenshot({ path: path.join(screenshots, `oidc-refused-${who.login}.png`) });
  expect(await sessionCookies(page)).toEqual([]);
  await page.goto(`${server.url}/instances`);
  await page.waitForURL(/\/login$/);
  const api = await trpcCall(page.request, server.url, 'query', 'projects.list', undefined);
  expect(api).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
  // The server says whom it refused, for the administrator.
  expect(server.output()).toContain(
    `single sign-on refused for subject "${who.sub}": no enabled Berth user "${who.login}"`,
  );
}

beforeAll(async () => {
  await mkdir(screenshots, { recursive: true });
  idp = await startOidcProvider({ identities: [alice, mallory, dora] });
  const clientSecret = `berth-client-secret-${Date.now()}`;
  server = await startServer({
    env: {
      NODE_ENV: 'production',
      BERTH_OIDC_ISSUER: idp.issuer,
      BERTH_OIDC_CLIENT_ID: 'berth',
      BERTH_OIDC_CLIENT_SECRET: clientSecret,
      BERTH_OIDC_NAME: providerName,
      // As a deployment with an internal CA would: trust it, verify everything.
      NODE_EXTRA_CA_CERTS: idp.caFile,
    },
  });
  idp.register({
    clientId: 'berth',
    clientSecret,
    redirectUri: `${server.url}/api/auth/callback/oidc`,
  });

  adminBrowser = await launchBrowser();
  admin = adminBrowser.context.pages()[0] ?? (await adminBrowser.context.newPage());
  admin.setDefaultTimeout(20_000);
  await signIn(admin, server.url, server.adminUser, server.adminPassword);
  await admin.waitForURL(/\/instances$/);
  const request = admin.request;
  await trpcMutation(request, server.url, 'projects.create', { name: 'other' });
  // Made by an admin, so alice "must change her password": at her next password login.
  const made = await trpcMutation<{ generatedPassword: string }>(
    request,
    server.url,
    'users.create',
    { username: 'alice' },
  );
  alicePassword = made.generatedPassword;
  await trpcMutation(request, server.url, 'members.set', {
    project: 'default',
    username: 'alice',
    role: 'viewer',
  });
  await trpcMutation(request, server.url, 'users.create', { username: 'dora' });
  await trpcMutation(request, server.url, 'members.set', {
    project: 'default',
    username: 'dora',
    role: 'viewer',
  });
  await trpcMutation(request, server.url, 'users.disable', { username: 'dora' });
});

afterAll(async () => {
  for (const browser of browsers) await browser.close().catch(() => {});
  await adminBrowser?.close().catch(() => {});
  await server?.stop();
  const errors = idp?.errors() ?? [];
  await idp?.stop();
  if (errors.length) console.log(`The provider reported:\n${errors.join('\n')}`);
});

describe('single sign-on with an OpenID provider', () => {
  it('the login page offers the configured provider by its name', async () => {
    const page = await personPage();
    await page.goto(`${server.url}/login`);
    await waitFor(page.getByRole('button', { name: 'Sign in', exact: true })).toBeVisible();
    await waitFor(page.getByRole('button', { name: ssoButton })).toBeVisible();
  });

  it('alice signs in at the provider and is alice in Berth, seeing her project only', async () => {
    const page = await personPage();
    await signInAtProvider(page, alice);
    // Straight in: a pending password change holds up password logins, not single sign-on.
    await page.waitForURL(/\/instances$/);
    await waitFor(page.getByRole('heading', { name: 'Instances' })).toBeVisible();
    await waitFor(page.getByRole('button', { name: 'Account alice' })).toBeVisible();
    expect(await sessionCookies(page)).toHaveLength(1);

    await waitFor(page.getByLabel('Project', { exact: true }).locator('option')).toHaveText(
      'default',
    );
    const options = await page
      .getByLabel('Project', { exact: true })
      .locator('option')
      .allInnerTexts();
    expect(options).toEqual(['default']);
    const projects = await trpcCall<{ name: string }[]>(
      page.request,
      server.url,
      'query',
      'projects.list',
      undefined,
    );
    expect(projects.data?.map((p) => p.name)).toEqual(['default']);
    const me = await trpcCall<{ username: string; isAdmin: boolean }>(
      page.request,
      server.url,
      'query',
      'account.me',
      undefined,
    );
    expect(me.data).toMatchObject({ username: 'alice', isAdmin: false });
    // A viewer: the policy still decides, whoever vouched for her.
    expect(await page.getByRole('link', { name: 'Users' }).count()).toBe(0);
    const other = await trpcCall(page.request, server.url, 'query', 'instances.list', {
      project: 'other',
    });
    expect(other).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    const users = await trpcCall(page.request, server.url, 'query', 'users.list', undefined);
    expect(users.code).toBe('FORBIDDEN');
    await page.screenshot({ path: path.join(screenshots, 'oidc-signed-in.png'), fullPage: true });

    // Signing out ends the Berth session.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login$/);
    // On the address she used (not the one the server listens on, `localhost`).
    expect(new URL(page.url()).origin).toBe(server.url);
    expect(await sessionCookies(page)).toEqual([]);
    await page.goto(`${server.url}/instances`);
    await page.waitForURL(/\/login$/);
    const after = await trpcCall(page.request, server.url, 'query', 'projects.list', undefined);
    expect(after).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });

    // Her password login still asks for the password change first.
    await signIn(page, server.url, 'alice', alicePassword);
    await page.waitForURL(/\/change-password$/);
  });

  it('an identity the provider knows but Berth does not is refused', async () => {
    const page = await personPage();
    await signInAtProvider(page, mallory);
    await expectRefused(page, mallory);
  });

  it('a disabled Berth user is refused', async () => {
    const page = await personPage();
    await signInAtProvider(page, dora);
    await expectRefused(page, dora);
  });

  it('cancelling at the provider comes back to the login page with a message', async () => {
    const page = await personPage();
    await page.goto(`${server.url}/login`);
    await page.getByRole('button', { name: ssoButton }).click();
    await page.waitForURL((url) => url.origin === idp.issuer);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.waitForURL(/\/login\?/);
    await waitFor(page.getByRole('alert')).toHaveText(
      'Single sign-on was cancelled or refused by the provider.',
    );
    expect(await sessionCookies(page)).toEqual([]);
  });

  it('without BERTH_OIDC_* the login page offers no single sign-on', async () => {
    const plain = await startServer();
    try {
      const page = await personPage();
      await page.goto(`${plain.url}/login`);
      await waitFor(page.getByRole('button', { name: 'Sign in', exact: true })).toBeVisible();
      expect(await page.getByRole('button', { name: /^Sign in with/ }).count()).toBe(0);
    } finally {
      await plain.stop();
    }
  });
});
