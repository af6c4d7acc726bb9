// Page and API latency with 500 instances in the database (issue 4):
//
//   REST    GET /1.0/instances at recursion 0, 1 and 2, and with a filter
//   tRPC    instances.list (what the console's instance table asks for)
//   page    /instances in Chromium, from navigation until the first rows and
//           until all rows render (checked at every animation frame)
//
//   npx tsx bench/web-latency.ts [--instances 500] [--iterations 10]
//
// Starts its own server on a free port with a temporary data directory and
// creates the instances through the REST API (records and empty volumes, no
// running containers); stopping the server removes all of it.
import { parseArgs } from 'node:util';
import { defaultDatabaseUrl, openDatabase } from '@berth/db';
import { startServer } from '../apps/web/e2e/helpers/server.ts';
import { launchBrowser } from '../apps/web/e2e/helpers/browser.ts';
import { formatMs, percentile } from './stats.ts';

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '500' },
    iterations: { type: 'string', default: '10' },
  },
});
const count = Number(values.instances);
const iterations = Number(values.iterations);
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(iterations) || iterations < 1) {
  console.error('usage: npx tsx bench/web-latency.ts [--instances N] [--iterations N]');
  process.exit(2);
}

const server = await startServer();
let closeBrowser: (() => Promise<void>) | undefined;
const stop = async () => {
  await closeBrowser?.().catch(() => {});
  await server.stop();
};
process.once('SIGINT', () => void stop().then(() => process.exit(130)));

try {
  const db = await openDatabase({ url: defaultDatabaseUrl(server.dataDir), migrate: false });
  const admin = await db.users.get(server.adminUser);
  const token = (await db.tokens.create(admin!.id, 'web latency bench')).secret;
  await db.close();
  const auth = { Authorization: `Bearer ${token}` };

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { ...auth, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await res.json()) as { operation?: string; metadata?: unknown; error?: string };
    if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${json.error ?? ''}`);
    return json;
  };

  process.stderr.write(`[bench] creating ${count} instances…`);
  const started = Date.now();
  for (let i = 0; i < count; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, count - i) }, async (_, j) => {
        const created = await api('POST', '/1.0/instances', {
          name: `lat-${i + j}`,
          source: { type: 'none' },
        });
        if (created.operation) await api('GET', `${created.operation}/wait?timeout=60`);
      }),
    );
  }
  process.stderr.write(` ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

  const time = async (fn: () => Promise<void>) => {
    await fn(); // warm-up
    const samples: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const t = performance.now();
      await fn();
      samples.push(performance.now() - t);
    }
    return samples.sort((a, b) => a - b);
  };
  const expectCount = (n: number, what: string) => {
    if (n !== count) throw new Error(`${what}: expected ${count} instances, got ${n}`);
  };

  const rows: [string, number[]][] = [];
  for (const recursion of [0, 1, 2]) {
    rows.push([
      `REST GET /1.0/instances?recursion=${recursion}`,
      await time(async () => {
        const body = await api('GET', `/1.0/instances?recursion=${recursion}`);
        expectCount((body.metadata as unknown[]).length, `recursion ${recursion}`);
      }),
    ]);
  }
  rows.push([
    'REST recursion=1 filter `name eq lat-4.*`',
    await time(async () => {
      await api(
        'GET',
        `/1.0/instances?recursion=1&filter=${encodeURIComponent('name eq lat-4.*')}`,
      );
    }),
  ]);
  rows.push([
    'tRPC instances.list (the console table)',
    await time(async () => {
      const input = encodeURIComponent(JSON.stringify({ project: 'default' }));
      const res = await fetch(`${server.url}/api/trpc/instances.list?input=${input}`, {
        headers: auth,
      });
      const body = (await res.json()) as { result?: { data: unknown[] } };
      expectCount(body.result?.data.length ?? -1, 'tRPC');
    }),
  ]);

  const browser = await launchBrowser();
  closeBrowser = browser.close;
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(60_000);
  await page.goto(`${server.url}/login`);
  await page.getByLabel('User name').fill(server.adminUser);
  await page.getByLabel('Password').fill(server.adminPassword);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(/\/instances/);
  // Checked at every animation frame, so a figure is what a user would see.
  const rowShows = (name: string) =>
    page.waitForFunction(
      `!!document.querySelector('table[aria-label="Instances"] a[href="/instances/${name}"]')`,
      undefined,
      { polling: 'raf' },
    );
  const firstRows: number[] = [];
  rows.push([
    `page /instances until all ${count} rows show`,
    await time(async () => {
      const started = performance.now();
      await page.goto(`${server.url}/instances`);
      await rowShows('lat-0');
      firstRows.push(performance.now() - started);
      await rowShows(`lat-${count - 1}`);
    }),
  ]);
  rows.push([`page /instances until the first rows show`, firstRows.sort((a, b) => a - b)]);

  console.log(
    `\nBerth web latency — ${count} instances, ${iterations} iterations; ms median (p90)\n`,
  );
  console.log('| request | median | p90 |');
  console.log('|:--|--:|--:|');
  for (const [label, samples] of rows) {
    console.log(
      `| ${label} | ${formatMs(percentile(samples, 50))} | ${formatMs(percentile(samples, 90))} |`,
    );
  }
} finally {
  await stop();
}
