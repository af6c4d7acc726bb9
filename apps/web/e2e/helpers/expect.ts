// A few web-first assertions (playwright-core has no @playwright/test):
// each retries until it holds or the timeout passes.
import type { Locator } from 'playwright-core';

async function retry(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  describe: () => Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${what}; got ${await describe().catch((e: unknown) => String(e))}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

const text = (l: Locator) => l.first().innerText({ timeout: 1000 });

export function expect(locator: Locator, timeoutMs = 20_000) {
  return {
    toBeVisible: () =>
      retry(
        `${locator} to be visible`,
        timeoutMs,
        () => locator.first().isVisible(),
        async () => `count ${await locator.count()}`,
      ),
    toBeHidden: () =>
      retry(
        `${locator} to be hidden`,
        timeoutMs,
        async () => !(await locator.first().isVisible()),
        async () => 'visible',
      ),
    toHaveText: (expected: string | RegExp) =>
      retry(
        `${locator} to have text ${expected}`,
        timeoutMs,
        async () => {
          const t = (await text(locator)).trim();
          return typeof expected === 'string' ? t === expected : expected.test(t);
        },
        () => text(locator),
      ),
    toContainText: (expected: string) =>
      retry(
        `${locator} to contain ${expected}`,
        timeoutMs,
        async () => (await text(locator)).includes(expected),
        () => text(locator),
      ),
    toHaveValue: (expected: string) =>
      retry(
        `${locator} to have value ${expected}`,
        timeoutMs,
        async () => (await locator.first().inputValue()) === expected,
        () => locator.first().inputValue(),
      ),
    toHaveAttribute: (name: string, expected: string) =>
      retry(
        `${locator} to have ${name}=${expected}`,
        timeoutMs,
        async () => (await locator.first().getAttribute(name)) === expected,
        async () => String(await locator.first().getAttribute(name)),
      ),
  };
}
