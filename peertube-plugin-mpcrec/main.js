// @ts-check
// peertube-plugin-mpcrec, server side: settings, and a router PeerTube mounts at
// /plugins/mpcrec/router/ (PeerTube's own OAuth middleware runs first, so
// peertubeHelpers.user.getAuthUser(res) is the logged-in user, or undefined).
const { registerSettings } = require('./lib/settings')
const { buildRouter } = require('./lib/router')
const { addConsentRoutes } = require('./lib/consent')

/**
 * @param {import('@peertube/peertube-types').RegisterServerOptions} options
 */
async function register ({ registerSetting, settingsManager, storageManager, getRouter, peertubeHelpers }) {
  registerSettings(registerSetting)
  const router = getRouter()
  buildRouter({ router, settingsManager, peertubeHelpers })
  addConsentRoutes({ router, storageManager, peertubeHelpers })
  peertubeHelpers.logger.info('mpcrec: recommendations route ready')
}

async function unregister () {}

module.exports = { register, unregister }
