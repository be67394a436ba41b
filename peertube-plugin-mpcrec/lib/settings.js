// @ts-check
// The plugin's settings (PeerTube's admin page: Plugins/Themes > mpcrec > Settings).
// The node's URL and the shared secret are private: PeerTube never sends them to browsers.

const SETTINGS = {
  nodeUrl: 'mpcrec-node-url',
  secret: 'mpcrec-api-secret',
  count: 'mpcrec-count',
  timeoutMs: 'mpcrec-timeout-ms',
  watchPage: 'mpcrec-watch-page',
  forYou: 'mpcrec-for-you'
}
const DEFAULTS = { nodeUrl: 'http://127.0.0.1:9090', count: 10, timeoutMs: 300 }
const MAX_COUNT = 100 // PeerTube's own page maximum, and the node's

/**
 * @param {import('@peertube/peertube-types').RegisterServerOptions['registerSetting']} registerSetting
 */
function registerSettings (registerSetting) {
  registerSetting({
    name: SETTINGS.nodeUrl,
    label: 'mpcrec node URL',
    type: 'input',
    default: DEFAULTS.nodeUrl,
    descriptionHTML: 'Where the mpcrec node serves its API (<code>peertube.listen</code> in node.yaml). Keep it on loopback.',
    private: true
  })
  registerSetting({
    name: SETTINGS.secret,
    label: 'Shared secret',
    type: 'input-password',
    descriptionHTML: 'The content of the node\'s <code>api_secret_file</code>.',
    private: true
  })
  registerSetting({
    name: SETTINGS.count,
    label: 'How many videos to show',
    type: 'input',
    default: String(DEFAULTS.count),
    private: false
  })
  registerSetting({
    name: SETTINGS.timeoutMs,
    label: 'Node timeout (milliseconds)',
    type: 'input',
    default: String(DEFAULTS.timeoutMs),
    descriptionHTML: 'Past this, viewers see PeerTube\'s own list.',
    private: true
  })
  registerSetting({
    name: SETTINGS.watchPage,
    label: 'Show mpcrec\'s videos next to the video on the watch page',
    type: 'input-checkbox',
    default: true,
    private: false
  })
  registerSetting({
    name: SETTINGS.forYou,
    label: 'Show a "For you" page to logged-in users',
    type: 'input-checkbox',
    default: true,
    private: false
  })
}

/**
 * @param {unknown} raw
 * @param {number} fallback
 * @param {number} max
 */
function positiveInt (raw, fallback, max) {
  const value = Number.parseInt(String(raw ?? ''), 10)
  if (!Number.isFinite(value) || value <= 0) return fallback
  return Math.min(value, max)
}

/**
 * The settings, typed and bounded.
 *
 * @param {import('@peertube/peertube-types').PluginSettingsManager} settingsManager
 */
async function readSettings (settingsManager) {
  const raw = await settingsManager.getSettings(Object.values(SETTINGS))
  return {
    nodeUrl: String(raw[SETTINGS.nodeUrl] || DEFAULTS.nodeUrl).replace(/\/+$/, ''),
    secret: String(raw[SETTINGS.secret] || ''),
    count: positiveInt(raw[SETTINGS.count], DEFAULTS.count, MAX_COUNT),
    timeoutMs: positiveInt(raw[SETTINGS.timeoutMs], DEFAULTS.timeoutMs, 10000),
    watchPage: raw[SETTINGS.watchPage] !== false && raw[SETTINGS.watchPage] !== 'false',
    forYou: raw[SETTINGS.forYou] !== false && raw[SETTINGS.forYou] !== 'false'
  }
}

module.exports = { SETTINGS, DEFAULTS, MAX_COUNT, registerSettings, readSettings, positiveInt }
