// Playwright fixtures for e2e on the built app: every request that is not to 127.0.0.1 is aborted and recorded,
// and the test fails if any was attempted (no CDN, no Hub, no telemetry). Also collects page errors.
import { test as base, expect } from '@playwright/test';

export interface NetworkGuard {
  blocked: string[];
}

export const test = base.extend<{ network: NetworkGuard; pageErrors: string[]; allowBlockedHosts: string[] }>(
  {
    /** Hosts a test expects the app to TRY (they are still blocked): e.g. the Hub, to test the offline message. */
    allowBlockedHosts: [[], { option: true }],
    network: async ({ context, allowBlockedHosts }, use) => {
      const guard: NetworkGuard = { blocked: [] };
      await context.route('**/*', (route) => {
        const url = new URL(route.request().url());
        if (url.hostname === '127.0.0.1' || url.protocol === 'blob:' || url.protocol === 'data:') {
          return route.continue();
        }
        guard.blocked.push(route.request().url());
        return route.abort('blockedbyclient');
      });
      await use(guard);
      const unexpected = guard.blocked.filter((url) => !allowBlockedHosts.includes(new URL(url).hostname));
      expect(unexpected, 'requests to hosts other than 127.0.0.1').toEqual([]);
    },
    pageErrors: async ({ page }, use) => {
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await use(errors);
      expect(errors, 'uncaught errors in the page').toEqual([]);
    },
  },
);

export { expect };
