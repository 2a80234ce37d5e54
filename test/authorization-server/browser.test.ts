// The development login and consent pages in a real browser (Debian's headless
// Chromium): load, sign in with the keyboard alone, approve, land on the
// client's redirect URI with a code and iss; axe-core finds no accessibility
// violation on either page.
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import t from 'tap'
import type { Page } from 'playwright-core'
import { authorizationUrl, registerPublicClient, startAs } from '../helpers/authorization-server.js'
import { BROWSER_SKIP, launchChromium } from '../helpers/browser.js'

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

async function axeViolations (page: Page): Promise<Array<{ id: string, help: string }>> {
  await page.addScriptTag({ content: axeSource })
  return page.evaluate(async () => {
    const result = await (globalThis as unknown as { axe: { run: () => Promise<{ violations: Array<{ id: string, help: string }> }> } }).axe.run()
    return result.violations.map(({ id, help }) => ({ id, help }))
  })
}

t.test('keyboard-only sign-in and consent in headless Chromium, no axe violations, back at the client with a code', { skip: BROWSER_SKIP }, async (t) => {
  const running = await startAs(t, {}, {
    setup: (app) => { app.get('/callback', { config: { mcpAuth: false } }, async () => 'signed in') },
  })
  const redirectUri = `${running.issuer}/callback`
  const client = await registerPublicClient(running.as, { redirect_uris: [redirectUri], client_name: 'Notes client' })
  const { url } = await authorizationUrl(running.as, client, { redirect_uri: redirectUri })

  // axe is injected as a script: the pages' CSP (default-src 'self') would block it.
  const context = await launchChromium(t, { bypassCSP: true })
  const page = await context.newPage()
  const response = await page.goto(url.href)
  t.equal(response?.status(), 200)
  t.equal(await page.title(), 'Sign in')
  t.same(await axeViolations(page), [], 'the login page')

  // The username field has focus on load; nothing is clicked.
  await page.keyboard.type('demo-user')
  await page.keyboard.press('Tab')
  await page.keyboard.type('demo')
  await page.keyboard.press('Enter')
  // The login and consent pages share one URL: wait for the consent page itself.
  await page.waitForFunction('document.title === "Allow access?"')
  t.match(await page.textContent('main') ?? '', /Notes client/)
  t.same(await axeViolations(page), [], 'the consent page')

  await page.keyboard.press('Tab')
  t.equal(await page.evaluate('document.activeElement?.textContent'), 'Allow', 'Allow is the first control')
  await Promise.all([page.waitForURL((target) => target.pathname === '/callback'), page.keyboard.press('Enter')])
  const landed = new URL(page.url())
  t.type(landed.searchParams.get('code'), 'string')
  t.equal(landed.searchParams.get('iss'), running.issuer)
  t.equal(landed.searchParams.get('state'), url.searchParams.get('state'))
})
