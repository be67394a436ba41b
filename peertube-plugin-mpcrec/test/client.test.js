// @ts-check
// The client script in headless Chromium (Debian's `chromium`, driven by playwright-core)
// on a page with PeerTube's watch-page structure, served by the stand-in PeerTube in front
// of a real mpcrec node. MPCREC_SCREENSHOT=<file.png> saves the filled column.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { chromium } = require('playwright-core')
const { startNode, startPeerTube, closedPortUrl } = require('./harness')
const { SETTINGS } = require('../lib/settings')

const BROWSER = process.env.MPCREC_CHROMIUM || '/usr/bin/chromium'
const skip = fs.existsSync(BROWSER) ? false : `no Chromium at ${BROWSER} (make chromium installs it)`

/** @type {Awaited<ReturnType<typeof startNode>>} */
let node
/** @type {import('playwright-core').Browser} */
let browser

/** @param {string} nodeUrl */
function settings (nodeUrl, secret = node.manifest.secret) {
  return {
    [SETTINGS.nodeUrl]: nodeUrl,
    [SETTINGS.secret]: secret,
    [SETTINGS.count]: '6',
    // the node's first answers on a loaded machine can take longer than the 300 ms default;
    // the fallback within the timeout is router.test.js's to check
    [SETTINGS.timeoutMs]: '1500',
    [SETTINGS.watchPage]: true,
    [SETTINGS.forYou]: true
  }
}

before(async () => {
  if (skip) return
  node = await startNode()
  browser = await chromium.launch({ executablePath: BROWSER, args: ['--no-sandbox', '--disable-gpu'] })
})

after(async () => {
  await browser?.close()
  await node?.stop()
})

/**
 * @param {{ url: string }} peertube
 * @param {string} video
 * @param {number | null} user
 */
async function openWatchPage (peertube, video, user) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } })
  const origin = new URL(peertube.url).origin
  const token = user ? `&token=token-of-${user}` : ''
  const answered = page.waitForResponse((r) => r.url().includes('/plugins/mpcrec/router/recommendations'))
  await page.goto(`${origin}/watch?video=${video}&name=Video%200${token}`)
  await page.waitForFunction(() => /** @type {any} */ (window).hooksRan === true)
  return { page, answered }
}

test("the watch page's column shows mpcrec's videos for the logged-in viewer", { skip }, async () => {
  const peertube = await startPeerTube({ manifest: node.manifest, settings: settings(node.url), serveClient: true })
  try {
    const video = node.manifest.videos[0].uuid
    const { page, answered } = await openWatchPage(peertube, video, 1)
    const answer = await (await answered).json()
    assert.equal(answer.source, 'mpcrec', JSON.stringify(answer))
    await page.waitForSelector('.other-videos.mpcrec-active[data-mpcrec="mpcrec"] .mpcrec-video')
    const shown = await page.$$eval('.mpcrec-videos .mpcrec-video', (items) => items.map((i) => /** @type {HTMLElement} */ (i).dataset.uuid))
    const expected = node.manifest.expected.relatedFor['0:1'].filter((/** @type {string} */ u) => u !== video).slice(0, 6)
    assert.deepEqual(shown, expected)
    assert.equal(await page.locator('my-video-miniature.peertube-own').first().isVisible(), false)
    const firstLink = await page.locator('.mpcrec-video .mpcrec-name').first().getAttribute('href')
    assert.equal(firstLink, `/w/${expected[0]}`)
    if (process.env.MPCREC_SCREENSHOT) await page.screenshot({ path: process.env.MPCREC_SCREENSHOT })
    await page.close()
  } finally {
    await peertube.stop()
  }
})

test("with the node down, PeerTube's own list stays: never a blank column", { skip }, async () => {
  const peertube = await startPeerTube({ manifest: node.manifest, settings: settings(await closedPortUrl()), serveClient: true })
  try {
    const { page, answered } = await openWatchPage(peertube, node.manifest.videos[0].uuid, null)
    const answer = await (await answered).json() // PeerTube's fallback, then the page handles it
    assert.equal(answer.source, 'peertube')
    await page.waitForSelector('.other-videos[data-mpcrec="peertube"]')
    assert.equal(await page.locator('.mpcrec-videos').count(), 0)
    assert.equal(await page.locator('.other-videos.mpcrec-active').count(), 0)
    assert.equal(await page.locator('my-video-miniature.peertube-own').count(), 3)
    assert.equal(await page.locator('my-video-miniature.peertube-own').first().isVisible(), true)
    await page.close()
  } finally {
    await peertube.stop()
  }
})
