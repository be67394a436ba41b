// @ts-check
// The client script outside the watch page, in headless Chromium: the "For you" link in
// PeerTube's left menu, and the training choice page (My account > Recommendations).

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { chromium } = require('playwright-core')
const { startPeerTube } = require('./harness')
const { SETTINGS } = require('../lib/settings')
const { OPT_OUT_PREFIX } = require('../lib/consent')

const BROWSER = process.env.MPCREC_CHROMIUM || '/usr/bin/chromium'
const skip = fs.existsSync(BROWSER) ? false : `no Chromium at ${BROWSER} (make chromium installs it)`
const manifest = { videos: [], users: [1, 2] }

/** @type {import('playwright-core').Browser} */
let browser

before(async () => {
  if (skip) return
  browser = await chromium.launch({ executablePath: BROWSER, args: ['--no-sandbox', '--disable-gpu'] })
})

after(async () => { await browser?.close() })

/** @param {boolean} forYou @param {number[]} historyOff */
function peertubeWith (forYou = true, historyOff = /** @type {number[]} */ ([])) {
  const settings = { [SETTINGS.watchPage]: true, [SETTINGS.forYou]: forYou }
  return startPeerTube({ manifest, settings, serveClient: true, historyOff })
}

/**
 * @param {{ url: string }} peertube
 * @param {number | null} user
 * @param {string} [route]
 */
async function openShell (peertube, user, route = '') {
  const page = await browser.newPage({ viewport: { width: 1000, height: 600 } })
  const query = new URLSearchParams()
  if (user) query.set('token', `token-of-${user}`)
  if (route) query.set('route', route)
  await page.goto(`${new URL(peertube.url).origin}/app?${query}`)
  await page.waitForFunction(() => /** @type {any} */ (window).shellReady === true)
  return page
}

/** @param {import('playwright-core').Page} page */
function menuLinks (page) {
  return page.$$eval('my-menu [data-key] a', (links) => links.map((a) => [
    /** @type {HTMLElement} */ (a.parentElement).dataset.key, a.getAttribute('href'), a.textContent
  ]))
}

test('logged-in users get a "For you" link in the left menu, after Home', { skip }, async () => {
  const peertube = await peertubeWith()
  try {
    const page = await openShell(peertube, 1)
    const links = await menuLinks(page)
    assert.deepEqual(links.slice(0, 3), [
      ['quick-access', '/home', 'Home'],
      ['quick-access', '/p/for-you', 'For you'],
      ['quick-access', '/videos/subscriptions', 'Subscriptions']
    ])
    assert.equal(links.filter(([, href]) => href === '/p/for-you').length, 1)
    await page.close()
    const anonymous = await openShell(peertube, null)
    assert.deepEqual((await menuLinks(anonymous)).map(([, href]) => href), ['/home'])
    await anonymous.close()
  } finally {
    await peertube.stop()
  }
  const off = await peertubeWith(false)
  try {
    const page = await openShell(off, 1)
    assert.equal((await menuLinks(page)).some(([, href]) => href === '/p/for-you'), false)
    await page.close()
  } finally {
    await off.stop()
  }
})

test('a user opts out of training on the Recommendations page of My account, and back in', { skip }, async () => {
  const peertube = await peertubeWith()
  try {
    const page = await openShell(peertube, 1, 'recommendations')
    const seen = await page.evaluate(() => /** @type {any} */ (window).routeSeen)
    assert.deepEqual(seen, { parentRoute: '/my-account', menuItem: { label: 'Recommendations' } })
    const box = page.locator('input[name="mpcrec-train-on-me"]')
    assert.equal(await box.isChecked(), true)
    await box.click()
    await page.waitForSelector('.mpcrec-status[data-opted-out="true"]')
    assert.equal(peertube.storage.get(`${OPT_OUT_PREFIX}1`), 'true')
    assert.equal(peertube.storage.has(`${OPT_OUT_PREFIX}2`), false)
    await page.close()
    const again = await openShell(peertube, 1, 'recommendations') // read back from the server
    const boxAgain = again.locator('input[name="mpcrec-train-on-me"]')
    assert.equal(await boxAgain.isChecked(), false)
    await boxAgain.click()
    await again.waitForSelector('.mpcrec-status[data-opted-out="false"]')
    assert.equal(peertube.storage.get(`${OPT_OUT_PREFIX}1`), 'false')
    assert.equal(await again.locator('.mpcrec-history-off').count(), 0)
    await again.close()
  } finally {
    await peertube.stop()
  }
})

test('a user whose PeerTube history is off is told they are not trained on', { skip }, async () => {
  const peertube = await peertubeWith(true, [2])
  try {
    const page = await openShell(peertube, 2, 'recommendations')
    await page.waitForSelector('.mpcrec-history-off')
    assert.match(await page.locator('.mpcrec-history-off').innerText(), /not part of training/)
    await page.close()
    const anonymous = await openShell(peertube, null, 'recommendations')
    assert.match(await anonymous.locator('.mpcrec-choice').innerText(), /Log in to choose/)
    await anonymous.close()
  } finally {
    await peertube.stop()
  }
})
