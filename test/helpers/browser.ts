// Debian's headless Chromium driven by playwright-core (never a browser download).
// Without /usr/bin/chromium the browser suites skip, saying why; under CI=true they fail.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import type { BrowserContext, BrowserContextOptions } from 'playwright-core'
import t from 'tap'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'

export const BROWSER_SKIP: false | string = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium); .ci/run installs it`

if (BROWSER_SKIP !== false) {
  if (process.env.CI === 'true') t.fail(`CI=true and ${BROWSER_SKIP}`)
  else t.comment(`SKIPPING the browser tests: ${BROWSER_SKIP}`)
}

/** A headless Chromium with a fresh profile, closed (and the profile removed) at the end of the test. */
export async function launchChromium (t: Test, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const profile = mkdtempSync(join(tmpdir(), 'fastify-mcp-auth-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    ...options,
    executablePath: CHROMIUM,
    headless: true,
    // This machine's network is closed: no background traffic, no QUIC, no sandbox (root).
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  t.teardown(async () => {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  })
  return context
}
