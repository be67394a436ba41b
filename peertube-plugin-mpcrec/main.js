// @ts-check
// peertube-plugin-mpcrec, server side: settings, and a router PeerTube mounts at
// /plugins/mpcrec/router/ (PeerTube's own OAuth middleware runs first, so
// peertubeHelpers.user.getAuthUser(res) is the logged-in user, or undefined).
const { registerSettings } = require('./lib/settings')
const { buildRouter } = require('./lib/router')

/**
 * @param {import('@peertube/peertube-types').RegisterServerOptions} options
 */
async function register ({ registerSetting, settingsManager, getRouter, peertubeHelpers }) {
  registerSettings(registerSetting)
  buildRouter({ router: getRouter(), settingsManager, peertubeHelpers })
  peertubeHelpers.logger.info('mpcrec: recommendations route ready')
}

async function unregister () {}

module.exports = { register, unregister }
