// A real OpenID provider (oidc-provider) for the single sign-on test, run in
// the test process. It serves HTTPS with a self-signed certificate made here,
// as a deployment's provider would; Berth trusts it through
// NODE_EXTRA_CA_CERTS (`caFile`). Its own sign-in page checks a password and
// its consent page asks before telling Berth who the user is.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Provider, { type InteractionDetails } from 'oidc-provider';
import { selfSignedCertificate } from './certificate.ts';

export interface Identity {
  /** What the person types on the provider's sign-in page. */
  login: string;
  password: string;
  /** The provider's stable subject identifier. */
  sub: string;
  claims: { preferred_username?: string; email: string; name: string };
}

export interface RelyingParty {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

export interface RunningProvider {
  /** `https://localhost:<port>`. */
  issuer: string;
  /** The provider's certificate, for the relying party's NODE_EXTRA_CA_CERTS. */
  caFile: string;
  /**
   * Registers the one client (Berth) and starts answering. Separate from the
   * start, since Berth's callback URL is known only once Berth runs, and Berth
   * needs the issuer to start.
   */
  register(client: RelyingParty): void;
  /** Errors the provider reported (shown when a test fails). */
  errors(): string[];
  stop(): Promise<void>;
}

const escape = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

function page(res: ServerResponse, title: string, body: string, status = 200) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head>` +
      `<body><main><h1>${escape(title)}</h1>${body}</main></body></html>`,
  );
}

async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return new URLSearchParams(body);
}

function signInPage(res: ServerResponse, uid: string, error?: string) {
  page(
    res,
    'Test identity provider: sign in',
    `${error ? `<p role="alert">${escape(error)}</p>` : ''}
    <form method="post" action="/interaction/${uid}/login">
      <label>Login <input name="login" autocomplete="username" required autofocus></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
      <button type="submit">Sign in</button>
    </form>
    <form method="post" action="/interaction/${uid}/abort"><button type="submit">Cancel</button></form>`,
    error ? 401 : 200,
  );
}

function consentPage(res: ServerResponse, details: InteractionDetails, clientName: string) {
  const scopes = (details.prompt.details.missingOIDCScope ?? []).filter((s) => s !== 'openid');
  page(
    res,
    'Test identity provider: allow access',
    `<p>${escape(clientName)} asks to see your ${escape(scopes.join(', ') || 'identity')}.</p>
    <form method="post" action="/interaction/${details.uid}/consent">
      <button type="submit">Allow</button>
    </form>
    <form method="post" action="/interaction/${details.uid}/abort"><button type="submit">Deny</button></form>`,
  );
}

export async function startOidcProvider(options: {
  identities: Identity[];
  clientName?: string;
}): Promise<RunningProvider> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-oidc-'));
  const errors: string[] = [];
  let provider: Provider | undefined;
  let handleOidc: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const clientName = options.clientName ?? 'Berth';

  const interaction = async (req: IncomingMessage, res: ServerResponse, step: string) => {
    const oidc = provider!;
    const details = await oidc.interactionDetails(req, res);
    if (req.method === 'GET' && step === '') {
      if (details.prompt.name === 'login') return signInPage(res, details.uid);
      if (details.prompt.name === 'consent') return consentPage(res, details, clientName);
      return page(res, 'Not implemented', `<p>prompt ${escape(details.prompt.name)}</p>`, 501);
    }
    if (req.method !== 'POST') return page(res, 'Method not allowed', '', 405);
    if (step === 'login' && details.prompt.name === 'login') {
      const form = await formBody(req);
      const who = options.identities.find(
        (i) => i.login === form.get('login') && i.password === form.get('password'),
      );
      if (!who) return signInPage(res, details.uid, 'Wrong login or password.');
      return oidc.interactionFinished(
        req,
        res,
        { login: { accountId: who.sub } },
        { mergeWithLastSubmission: false },
      );
    }
    if (step === 'consent' && details.prompt.name === 'consent') {
      const accountId = details.session?.accountId;
      if (!accountId) return page(res, 'No session', '', 400);
      const grant =
        (details.grantId ? await oidc.Grant.find(details.grantId) : undefined) ??
        new oidc.Grant({ accountId, clientId: details.params.client_id });
      const missing = details.prompt.details;
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {}))
        grant.addResourceScope(indicator, scopes.join(' '));
      return oidc.interactionFinished(
        req,
        res,
        { consent: { grantId: await grant.save() } },
        { mergeWithLastSubmission: true },
      );
    }
    if (step === 'abort') {
      return oidc.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'The user cancelled at the provider' },
        { mergeWithLastSubmission: false },
      );
    }
    return page(res, 'Bad request', '', 400);
  };

  const { cert, key } = selfSignedCertificate(dir, 'provider', {
    commonName: 'localhost',
    subjectAltName: 'DNS:localhost',
  });
  const server = createServer(
    { cert: await readFile(cert), key: await readFile(key) },
    (req, res) => {
      if (!provider || !handleOidc) return page(res, 'Not ready', '', 503);
      const url = new URL(req.url ?? '/', 'https://localhost');
      const match = /^\/interaction\/([\w-]+)(?:\/(login|consent|abort))?$/.exec(url.pathname);
      if (!match) return handleOidc(req, res);
      interaction(req, res, match[2] ?? '').catch((error: unknown) => {
        errors.push(String(error));
        if (!res.headersSent) page(res, 'Error', `<p>${escape(String(error))}</p>`, 500);
      });
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const issuer = `https://localhost:${(server.address() as AddressInfo).port}`;

  return {
    issuer,
    caFile: cert,
    register(client) {
      if (provider) throw new Error('the test provider has one client');
      const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
        format: 'jwk',
      });
      provider = new Provider(issuer, {
        clients: [
          {
            client_id: client.clientId,
            client_secret: client.clientSecret,
            client_name: clientName,
            redirect_uris: [client.redirectUri],
            grant_types: ['authorization_code'],
            response_types: ['code'],
            token_endpoint_auth_method: 'client_secret_basic',
          },
        ],
        jwks: { keys: [{ ...signingKey, kid: 'test-signing-key', use: 'sig', alg: 'RS256' }] },
        cookies: { keys: [randomBytes(32).toString('hex')] },
        claims: {
          openid: ['sub'],
          profile: ['name', 'preferred_username'],
          email: ['email', 'email_verified'],
        },
        ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600 },
        async renderError(ctx, out) {
          (ctx as { type: string; body: string }).type = 'html';
          (ctx as { type: string; body: string }).body =
            `<!doctype html><title>Error</title><h1>Error</h1><p>${escape(String(out.error))}: ${escape(String(out.error_description ?? ''))}</p>`;
        },
        // Its own pages above, not the library's development-only ones.
        features: { devInteractions: { enabled: false } },
        interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
        async findAccount(_ctx, sub) {
          const who = options.identities.find((i) => i.sub === sub);
          if (!who) return undefined;
          return {
            accountId: sub,
            claims: () => ({ sub, ...who.claims, email_verified: true }),
          };
        },
      });
      for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error'])
        provider.on(event, (...args: unknown[]) => {
          const error = args[args.length - 1] as { error?: string };
          // A cancelled sign-in is the user's answer, not a fault.
          if (error?.error === 'access_denied') return;
          const ctx = args[0] as { oidc?: { params?: Record<string, unknown> } } | undefined;
          const params = ctx?.oidc?.params ? ` ${JSON.stringify(ctx.oidc.params)}` : '';
          errors.push(`${event}: ${String(error)}${params}`);
        });
      handleOidc = provider.callback();
    },
    errors: () => [...errors],
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
