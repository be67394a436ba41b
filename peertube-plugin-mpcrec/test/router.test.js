// @ts-check
// The plugin's server side against a real mpcrec node process over HTTP, inside a
// stand-in PeerTube that implements the helpers the plugin uses (test/harness.js).

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { startNode, startPeerTube, startSilentServer, closedPortUrl } = require('./harness')
const { SETTINGS } = require('../lib/settings')

/** @type {Awaited<ReturnType<typeof startNode>>} */
let node
/** @type {Awaited<ReturnType<typeof startPeerTube>>} */
let peertube
const COUNT = 6

/** @param {string} nodeUrl @param {string} secret */
function settingsFor (nodeUrl, secret, extra = {}) {
  return {
    [SETTINGS.nodeUrl]: nodeUrl,
    [SETTINGS.secret]: secret,
    [SETTINGS.count]: String(COUNT),
    [SETTINGS.timeoutMs]: '300',
    [SETTINGS.watchPage]: true,
    [SETTINGS.forYou]: true,
    ...extra
  }
}

/** @param {string} url @param {number | null} [user] */
async function get (url, user = null) {
  const headers = user ? { Authorization: `Bearer token-of-${user}` } : undefined
  const response = await fetch(url, { headers })
  return { status: response.status, body: await response.json() }
}

/** The node's list as PeerTube shows it: without the current video, the first COUNT. */
function shown (/** @type {string[]} */ uuids, exclude = '') {
  return uuids.filter((u) => u !== exclude).slice(0, COUNT)
}

before(async () => {
  node = await startNode()
  peertube = await startPeerTube({ manifest: node.manifest, settings: settingsFor(node.url, node.manifest.secret) })
})

after(async () => {
  await peertube?.stop()
  await node?.stop()
})

test('the plugin registers its settings, secret and node URL private', () => {
  const byName = Object.fromEntries(peertube.registered.map((s) => [s.name, s]))
  assert.deepEqual(Object.keys(byName).sort(), Object.values(SETTINGS).sort())
  assert.equal(byName[SETTINGS.secret].private, true)
  assert.equal(byName[SETTINGS.secret].type, 'input-password')
  assert.equal(byName[SETTINGS.nodeUrl].private, true)
  assert.equal(byName[SETTINGS.watchPage].private, false)
})

test('a logged-in user gets their own list, as PeerTube videos', async () => {
  for (const user of [1, 2]) {
    const { status, body } = await get(`${peertube.url}/for-you`, user)
    assert.equal(status, 200)
    assert.equal(body.source, 'mpcrec')
    assert.deepEqual(body.data.map((/** @type {any} */ v) => v.uuid), shown(node.manifest.expected.personal[user]))
    const first = body.data[0]
    const known = node.manifest.videos.find((/** @type {any} */ v) => v.uuid === first.uuid)
    assert.equal(first.name, known.name)
    assert.equal(first.watchPath, `/w/${first.uuid}`)
    assert.equal(first.thumbnailPath, `/lazy-static/thumbnails/${first.uuid}.jpg`)
    assert.equal(first.isLocal, !known.remote)
  }
  const popular = await get(`${peertube.url}/for-you`, 4)
  assert.equal(popular.body.fallback, 'popular')
})

test("another user's id is refused, whoever asks", async () => {
  for (const path of ['for-you?userId=2', `recommendations?videoId=${node.manifest.videos[0].uuid}&userId=2`]) {
    for (const user of [1, null]) {
      const { status, body } = await get(`${peertube.url}/${path}`, user)
      assert.equal(status, 400)
      assert.equal(body.code, 'user_id_not_accepted')
      assert.equal(body.data, undefined)
    }
  }
})

test('an anonymous viewer gets related videos, and no "For you" list', async () => {
  for (const item of ['0', '5']) {
    const uuid = node.manifest.videos[Number(item)].uuid
    const { status, body } = await get(`${peertube.url}/recommendations?videoId=${uuid}`)
    assert.equal(status, 200)
    assert.equal(body.source, 'mpcrec')
    assert.deepEqual(body.data.map((/** @type {any} */ v) => v.uuid), shown(node.manifest.expected.related[item], uuid))
  }
  const forYou = await get(`${peertube.url}/for-you`)
  assert.equal(forYou.status, 401)
  assert.equal(forYou.body.code, 'login_required')
})

test('a logged-in viewer gets related videos personalised for them', async () => {
  const uuid = node.manifest.videos[0].uuid
  const mine = await get(`${peertube.url}/recommendations?videoId=${uuid}`, 1)
  assert.deepEqual(mine.body.data.map((/** @type {any} */ v) => v.uuid), shown(node.manifest.expected.relatedFor['0:1'], uuid))
  const theirs = await get(`${peertube.url}/recommendations?videoId=${uuid}`, 2)
  assert.deepEqual(theirs.body.data.map((/** @type {any} */ v) => v.uuid), shown(node.manifest.expected.relatedFor['0:2'], uuid))
})

test('videos PeerTube would not list are left out: private, blocked, unpublished', async () => {
  const current = node.manifest.videos[5].uuid
  const [a, b, c, ...rest] = node.manifest.expected.related['5']
  const hiding = await startPeerTube({
    manifest: node.manifest,
    settings: settingsFor(node.url, node.manifest.secret),
    changes: { [a]: { privacy: 3 }, [b]: { blacklisted: true }, [c]: { state: 2 } }
  })
  try {
    const { body } = await get(`${hiding.url}/recommendations?videoId=${current}`)
    assert.deepEqual(body.data.map((/** @type {any} */ v) => v.uuid), shown(rest, current))
  } finally {
    await hiding.stop()
  }
})

test("a down, hanging or misconfigured node gives PeerTube's own list within the timeout", async () => {
  const silent = await startSilentServer()
  const cases = [
    { nodeUrl: await closedPortUrl(), secret: node.manifest.secret, reason: /unreachable/ },
    { nodeUrl: silent.url, secret: node.manifest.secret, reason: /did not answer within 300 ms/ },
    { nodeUrl: node.url, secret: 'not-the-secret-' + 'x'.repeat(32), reason: /401 unauthorized/ },
    { nodeUrl: node.url, secret: '', reason: /no shared secret/ }
  ]
  try {
    for (const { nodeUrl, secret, reason } of cases) {
      const broken = await startPeerTube({ manifest: node.manifest, settings: settingsFor(nodeUrl, secret) })
      try {
        const started = performance.now()
        const { status, body } = await get(`${broken.url}/recommendations?videoId=${node.manifest.videos[0].uuid}`, 1)
        const elapsed = performance.now() - started
        assert.equal(status, 200)
        assert.deepEqual({ total: body.total, data: body.data, source: body.source }, { total: 0, data: [], source: 'peertube' })
        assert.match(body.reason, reason)
        assert.ok(elapsed < 300 + 700, `fallback after ${elapsed} ms`)
      } finally {
        await broken.stop()
      }
    }
  } finally {
    await silent.stop()
  }
})

test('a video the model does not know, or a switched-off surface, gives the fallback', async () => {
  const unknown = await get(`${peertube.url}/recommendations?videoId=11111111-1111-4111-8111-111111111111`)
  assert.equal(unknown.body.source, 'peertube')
  assert.match(unknown.body.reason, /404 unknown_video/)
  const bad = await get(`${peertube.url}/recommendations?videoId=../../etc`)
  assert.equal(bad.status, 400)
  const off = await startPeerTube({
    manifest: node.manifest,
    settings: settingsFor(node.url, node.manifest.secret, { [SETTINGS.watchPage]: false, [SETTINGS.forYou]: false })
  })
  try {
    const watch = await get(`${off.url}/recommendations?videoId=${node.manifest.videos[0].uuid}`, 1)
    assert.equal(watch.body.source, 'peertube')
    assert.equal((await get(`${off.url}/for-you`, 1)).status, 404)
  } finally {
    await off.stop()
  }
})
