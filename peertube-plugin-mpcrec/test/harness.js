// @ts-check
// A real mpcrec node (`mpcrec serve` on a fixture snapshot) and a stand-in for PeerTube:
// an express server that loads the plugin through its published interface
// (RegisterServerOptions of @peertube/peertube-types) with the helpers the plugin uses.
// PeerTube itself cannot be installed from the package registries here.

const { spawn, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const express = require('express')

const REPO = path.resolve(__dirname, '..', '..')
const PYTHON = process.env.MPCREC_PYTHON || path.join(REPO, '.venv', 'bin', 'python')
const ROUTER_BASE = '/plugins/mpcrec/router'

function pythonEnv () {
  const extra = process.env.PYTHONPATH ? `${path.delimiter}${process.env.PYTHONPATH}` : ''
  return { ...process.env, PYTHONPATH: `${REPO}${extra}` }
}

/**
 * Write the fixture and start `python -m mpcrec.cli.serve` on a free port.
 *
 * @returns {Promise<{ url: string, manifest: any, dir: string, stop: () => Promise<void> }>}
 */
async function startNode () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpcrec-plugin-'))
  execFileSync(PYTHON, ['-m', 'tests.peertube_plugin_fixture', dir], { env: pythonEnv(), stdio: 'inherit' })
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'fixture.json'), 'utf8'))
  const args = ['-m', 'mpcrec.cli.serve', '--snapshot', manifest.snapshot,
    '--secret-file', manifest.secretFile, '--port', '0', '--watch-seconds', '0']
  const child = spawn(PYTHON, args, { env: pythonEnv(), stdio: ['ignore', 'ignore', 'pipe'] })
  const url = await new Promise((resolve, reject) => {
    let seen = ''
    const timer = setTimeout(() => reject(new Error(`mpcrec serve did not start: ${seen}`)), 60000)
    child.stderr.on('data', (chunk) => {
      seen += chunk
      const match = /serving recommendations on (http:\/\/[0-9.]+:\d+)/.exec(seen)
      if (match) { clearTimeout(timer); resolve(match[1]) }
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`mpcrec serve exited ${code}: ${seen}`)) })
  })
  child.removeAllListeners('exit')
  const stop = async () => {
    if (child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000)
    await exited
    clearTimeout(timer)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return { url, manifest, dir, stop }
}

/**
 * One video as PeerTube's model (MVideoThumbnails) shows it to a plugin: the fields and
 * methods the plugin reads.
 *
 * @param {any} v  a manifest video
 * @param {{ privacy?: number, blacklisted?: boolean, state?: number }} change
 */
function videoModel (v, change = {}) {
  return {
    id: v.id,
    uuid: v.uuid,
    name: v.name,
    url: v.url,
    privacy: change.privacy ?? 1,
    state: change.state ?? 1,
    remote: v.remote,
    nsfw: false,
    duration: 60 + v.id % 100,
    views: v.id,
    publishedAt: new Date('2026-01-01T00:00:00Z'),
    isBlacklisted: () => Boolean(change.blacklisted),
    getBestThumbnailStaticPath: () => `/lazy-static/thumbnails/${v.uuid}.jpg`
  }
}

/**
 * PeerTube with the plugin registered, listening on loopback.
 *
 * @param {{ manifest: any, settings: Record<string, any>,
 *   changes?: Record<string, { privacy?: number, blacklisted?: boolean, state?: number }>,
 *   serveClient?: boolean, storage?: Map<string, any>, historyOff?: number[] }} options
 */
async function startPeerTube ({ manifest, settings, changes = {}, serveClient = false, storage = new Map(), historyOff = [] }) {
  const plugin = require('../main.js')
  const router = express.Router()
  /** @type {any[]} */
  const registered = []
  const byUrl = new Map(manifest.videos.map((/** @type {any} */ v) => [v.url, v]))
  const byUuid = new Map(manifest.videos.map((/** @type {any} */ v) => [v.uuid, v]))
  const users = new Map(manifest.users.map((/** @type {number} */ id) => [`token-of-${id}`, { id, username: `user${id}`, videosHistoryEnabled: !historyOff.includes(id) }]))
  const load = (/** @type {any} */ v) => (v ? videoModel(v, changes[v.uuid]) : null)
  const logs = []
  const options = {
    registerSetting: (/** @type {any} */ s) => registered.push(s),
    settingsManager: {
      getSetting: async (/** @type {string} */ name) => settings[name],
      getSettings: async (/** @type {string[]} */ names) => Object.fromEntries(names.map((n) => [n, settings[n]])),
      setSetting: async () => {},
      onSettingsChange: () => {}
    },
    // PeerTube's PluginStorageManager: one JSON value per key in the plugin's row
    storageManager: {
      getData: async (/** @type {string} */ key) => (storage.has(key) ? JSON.parse(storage.get(key)) : undefined),
      storeData: async (/** @type {string} */ key, /** @type {any} */ data) => { storage.set(key, JSON.stringify(data)) },
      deleteData: async (/** @type {string} */ key) => { storage.delete(key) }
    },
    getRouter: () => router,
    peertubeHelpers: {
      logger: { info: (/** @type {any} */ m) => logs.push(m), debug: (/** @type {any} */ m) => logs.push(m), warn: console.warn, error: console.error },
      videos: {
        loadByUrl: async (/** @type {string} */ url) => load(byUrl.get(url)),
        loadByIdOrUUID: async (/** @type {string} */ id) => load(byUuid.get(id))
      },
      user: {
        // PeerTube's helper: the user its OAuth middleware authenticated, or undefined
        getAuthUser: async (/** @type {any} */ res) => res.locals.oauth?.token?.User
      }
    }
  }
  await plugin.register(/** @type {any} */ (options))
  const app = express()
  app.use(express.json()) // PeerTube parses JSON bodies before its plugin routers
  // PeerTube's optional authentication in front of plugin routers (a bearer token)
  app.use((req, res, next) => {
    const token = (req.headers.authorization || '').replace(/^Bearer /, '')
    const user = users.get(token)
    if (user) res.locals.oauth = { token: { User: user } }
    next()
  })
  app.use(ROUTER_BASE, router)
  if (serveClient) serveWatchPage(app, settings, manifest)
  const server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)) })
  const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port
  return {
    url: `http://127.0.0.1:${port}${ROUTER_BASE}`,
    registered,
    logs,
    storage,
    stop: () => new Promise((resolve) => server.close(resolve))
  }
}

/**
 * The watch-page fixture, the plugin's client files, its public settings (what PeerTube's
 * client gets from getSettings) and thumbnails (SVG), for the browser tests.
 *
 * @param {import('express').Express} app
 * @param {Record<string, any>} settings
 * @param {any} manifest
 */
function serveWatchPage (app, settings, manifest) {
  const root = path.resolve(__dirname, '..')
  app.get('/watch', (req, res) => res.sendFile(path.join(__dirname, 'watch-page.html')))
  app.get('/app', (req, res) => res.sendFile(path.join(__dirname, 'app-page.html')))
  app.use('/plugin/client', express.static(path.join(root, 'client')))
  app.use('/plugin/assets', express.static(path.join(root, 'assets')))
  app.get('/test/public-settings', (req, res) => {
    res.json({ 'mpcrec-watch-page': settings['mpcrec-watch-page'], 'mpcrec-for-you': settings['mpcrec-for-you'] })
  })
  const names = new Map(manifest.videos.map((/** @type {any} */ v) => [v.uuid, v.name]))
  app.get('/lazy-static/thumbnails/:file', (req, res) => {
    const uuid = req.params.file.replace(/\.jpg$/, '')
    const hue = (parseInt(uuid.slice(-4), 10) * 47) % 360
    const label = String(names.get(uuid) || '?').replace(/[^A-Za-z0-9 ]/g, '')
    res.type('image/svg+xml').send(`<svg xmlns="http://www.w3.org/2000/svg" width="320" height="180">
<rect width="320" height="180" fill="hsl(${hue},55%,55%)"/>
<text x="160" y="100" font-size="28" text-anchor="middle" fill="#fff" font-family="sans-serif">${label}</text></svg>`)
  })
}

/** A TCP server that accepts connections and never answers: a node that hangs. */
async function startSilentServer () {
  /** @type {import('node:net').Socket[]} */
  const sockets = []
  const server = net.createServer((socket) => { sockets.push(socket) })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(null)))
  const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => { sockets.forEach((s) => s.destroy()); server.close(resolve) })
  }
}

/** A loopback port nothing listens on. */
async function closedPortUrl () {
  const server = net.createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(null)))
  const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port
  await new Promise((resolve) => server.close(resolve))
  return `http://127.0.0.1:${port}`
}

module.exports = { startNode, startPeerTube, startSilentServer, closedPortUrl, videoModel }
