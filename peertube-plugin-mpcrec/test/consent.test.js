// @ts-check
// A user's training opt-out through the plugin's routes, stored where the node reads it:
// the plugin's storage (PeerTube's storageManager), under the key the node's reader uses.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { startPeerTube } = require('./harness')
const { OPT_OUT_PREFIX } = require('../lib/consent')

const manifest = { videos: [], users: [1, 2, 3] }
/** @type {Awaited<ReturnType<typeof startPeerTube>>} */
let peertube

before(async () => {
  peertube = await startPeerTube({ manifest, settings: {}, historyOff: [3] })
})

after(async () => { await peertube?.stop() })

/**
 * @param {string} method
 * @param {string} route
 * @param {number | null} user
 * @param {any} [body]
 */
async function call (method, route, user, body) {
  /** @type {Record<string, string>} */
  const headers = { 'Content-Type': 'application/json' }
  if (user) headers.Authorization = `Bearer token-of-${user}`
  const response = await fetch(`${peertube.url}/${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  return { status: response.status, body: await response.json() }
}

test('the storage key is the one the node reads (mpcrec/data/peertube_consent.py)', () => {
  const python = fs.readFileSync(path.resolve(__dirname, '..', '..', 'mpcrec', 'data', 'peertube_consent.py'), 'utf8')
  assert.match(python, new RegExp(`^OPT_OUT_PREFIX = "${OPT_OUT_PREFIX}"`, 'm'))
  assert.match(python, /^PLUGIN_NAME = "mpcrec"/m) // PeerTube's name for peertube-plugin-mpcrec
})

test('a logged-in user opts out and back in; the choice is stored under their own key', async () => {
  assert.deepEqual((await call('GET', 'training', 1)).body, { optedOut: false, historyEnabled: true })
  const out = await call('PUT', 'training', 1, { optedOut: true })
  assert.deepEqual(out, { status: 200, body: { optedOut: true, historyEnabled: true } })
  assert.equal(peertube.storage.get(`${OPT_OUT_PREFIX}1`), 'true')
  assert.equal(peertube.storage.has(`${OPT_OUT_PREFIX}2`), false)
  assert.equal((await call('GET', 'training', 1)).body.optedOut, true)
  assert.equal((await call('GET', 'training', 2)).body.optedOut, false) // others untouched
  await call('PUT', 'training', 1, { optedOut: false })
  assert.equal(peertube.storage.get(`${OPT_OUT_PREFIX}1`), 'false')
  assert.equal((await call('GET', 'training', 1)).body.optedOut, false)
})

test('a user whose PeerTube history is off is told so', async () => {
  assert.deepEqual((await call('GET', 'training', 3)).body, { optedOut: false, historyEnabled: false })
})

test('anonymous callers, other users\' ids and malformed choices are refused', async () => {
  assert.equal((await call('GET', 'training', null)).status, 401)
  assert.equal((await call('PUT', 'training', null, { optedOut: true })).status, 401)
  const other = await call('PUT', 'training?userId=2', 1, { optedOut: true })
  assert.deepEqual([other.status, other.body.code], [400, 'user_id_not_accepted'])
  const inBody = await call('PUT', 'training', 1, { optedOut: true, userId: 2 })
  assert.equal(inBody.status, 400)
  for (const body of [{ optedOut: 'yes' }, {}, { optedOut: 1 }]) {
    const bad = await call('PUT', 'training', 1, body)
    assert.deepEqual([bad.status, bad.body.code], [400, 'bad_choice'])
  }
  assert.equal(peertube.storage.has(`${OPT_OUT_PREFIX}2`), false)
})
