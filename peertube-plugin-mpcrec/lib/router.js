// @ts-check
// The plugin's routes, under /plugins/mpcrec/router/ (PeerTube authenticates the caller):
//
//   GET recommendations?videoId=<uuid>[&count=n]  videos to show next to a video: related to
//       it, and personalised for the logged-in user (anonymous viewers: related only)
//   GET for-you[?count=n]                           the logged-in user's own list (401 if anonymous)
//
// The user is always PeerTube's logged-in user (getAuthUser); a request naming a userId is
// refused, so nobody can ask for someone else's recommendations. Answers are
// { total, data: [PeerTube videos], source: 'mpcrec' } or, when the node is off, down, slow
// or does not know the video, { total: 0, data: [], source: 'peertube', reason }: the client
// then keeps PeerTube's own list.

const { askNode } = require('./node-client')
const { readSettings, positiveInt, MAX_COUNT } = require('./settings')
const { toPeerTubeVideos } = require('./videos')

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const SPARE = 5 // ask the node for a few more: PeerTube may hide some (private, blocked, this video)

/**
 * @typedef {import('express').Request} Request
 * @typedef {import('express').Response} Response
 * @typedef {import('@peertube/peertube-types').PeerTubeHelpers} PeerTubeHelpers
 */

/**
 * @param {Response} res
 * @param {string} reason
 */
function fallback (res, reason) {
  return res.json({ total: 0, data: [], source: 'peertube', reason })
}

/**
 * @param {Request} req
 * @param {Response} res
 */
function refuseUserId (req, res) {
  if (req.query.userId === undefined) return false
  res.status(400).json({
    code: 'user_id_not_accepted',
    detail: 'recommendations are for the logged-in user only; do not send a userId'
  })
  return true
}

/**
 * @param {{ router: import('express').Router,
 *   settingsManager: import('@peertube/peertube-types').PluginSettingsManager,
 *   peertubeHelpers: PeerTubeHelpers }} options
 */
function buildRouter ({ router, settingsManager, peertubeHelpers }) {
  const { logger } = peertubeHelpers

  /**
   * @param {Response} res
   * @param {Awaited<ReturnType<typeof readSettings>>} settings
   * @param {Record<string, string | number>} params
   * @param {{ count: number, excludeUuid?: string }} options
   */
  async function answer (res, settings, params, options) {
    let result = await askNode(settings, params)
    if (!result.ok && result.reason.endsWith('unknown_user') && params.videoId) {
      const { userId, ...anonymous } = params // a user new since the last round
      result = await askNode(settings, anonymous)
    }
    if (!result.ok) {
      logger.debug(`mpcrec: PeerTube's list instead: ${result.reason}`)
      return fallback(res, result.reason)
    }
    const data = await toPeerTubeVideos(result.answer.data, peertubeHelpers.videos, options)
    if (data.length === 0) return fallback(res, 'no video PeerTube can show')
    return res.json({
      total: data.length,
      data,
      source: 'mpcrec',
      fallback: result.answer.fallback,
      modelVersion: result.answer.modelVersion
    })
  }

  router.get('/recommendations', async (req, res) => {
    try {
      if (refuseUserId(req, res)) return
      const videoId = String(req.query.videoId || '').toLowerCase()
      if (!UUID.test(videoId)) {
        return res.status(400).json({ code: 'bad_video_id', detail: 'videoId must be a video UUID' })
      }
      const settings = await readSettings(settingsManager)
      if (!settings.watchPage) return fallback(res, 'disabled on the watch page')
      const count = positiveInt(req.query.count, settings.count, settings.count)
      const user = await peertubeHelpers.user.getAuthUser(res)
      /** @type {Record<string, string | number>} */
      const params = { videoId, count: Math.min(count + SPARE, MAX_COUNT) }
      if (user) params.userId = user.id
      return await answer(res, settings, params, { count, excludeUuid: videoId })
    } catch (err) {
      logger.error('mpcrec: recommendations failed', { err })
      return fallback(res, 'plugin error')
    }
  })

  router.get('/for-you', async (req, res) => {
    try {
      if (refuseUserId(req, res)) return
      const user = await peertubeHelpers.user.getAuthUser(res)
      if (!user) return res.status(401).json({ code: 'login_required', detail: 'log in to see videos for you' })
      const settings = await readSettings(settingsManager)
      if (!settings.forYou) return res.status(404).json({ code: 'disabled', detail: 'the "For you" page is off' })
      const count = positiveInt(req.query.count, settings.count, MAX_COUNT)
      const params = { userId: user.id, count: Math.min(count + SPARE, MAX_COUNT) }
      return await answer(res, settings, params, { count })
    } catch (err) {
      logger.error('mpcrec: for-you failed', { err })
      return fallback(res, 'plugin error')
    }
  })

  return router
}

module.exports = { buildRouter }
