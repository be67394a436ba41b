// @ts-check
// A user's choice to be left out of training, kept in the plugin's own storage in PeerTube's
// database (storageManager.storeData: PeerTube's "plugin" table, column "storage", row
// name = 'mpcrec'), where the mpcrec node reads it with its read-only role
// (mpcrec/data/peertube_consent.py). One key per user: two users saving at once never
// overwrite each other (PeerTube's storeData is one jsonb_set on that key).
//
//   GET training        { optedOut, historyEnabled }   the logged-in user's choice
//   PUT training        { optedOut: true | false }      change it (401 if anonymous)
//
// A user whose PeerTube history is disabled is never trained on whatever they choose here.

const OPT_OUT_PREFIX = 'training-opt-out-' // + user id; the node reads exactly this key

/**
 * @typedef {import('express').Request} Request
 * @typedef {import('express').Response} Response
 */

/** @param {number} userId */
function optOutKey (userId) {
  return `${OPT_OUT_PREFIX}${userId}`
}

/**
 * @param {import('@peertube/peertube-types').PluginStorageManager} storageManager
 * @param {number} userId
 */
async function isOptedOut (storageManager, userId) {
  const value = await storageManager.getData(optOutKey(userId))
  return value !== undefined && value !== null && value !== false && value !== 'false'
}

/**
 * @param {Response} res
 * @param {{ id: number, videosHistoryEnabled?: boolean } | undefined} user
 * @param {boolean} optedOut
 */
function choice (res, user, optedOut) {
  return res.json({ optedOut, historyEnabled: user?.videosHistoryEnabled !== false })
}

/**
 * Add the training routes to the plugin's router.
 *
 * @param {{ router: import('express').Router,
 *   storageManager: import('@peertube/peertube-types').PluginStorageManager,
 *   peertubeHelpers: import('@peertube/peertube-types').PeerTubeHelpers }} options
 */
function addConsentRoutes ({ router, storageManager, peertubeHelpers }) {
  const { logger } = peertubeHelpers

  /** @param {Request} req @param {Response} res */
  async function loggedIn (req, res) {
    const named = req.query.userId !== undefined || (req.body && req.body.userId !== undefined)
    if (named) {
      res.status(400).json({ code: 'user_id_not_accepted', detail: 'this is the logged-in user\'s own choice' })
      return undefined
    }
    const user = await peertubeHelpers.user.getAuthUser(res)
    if (!user) res.status(401).json({ code: 'login_required', detail: 'log in to choose' })
    return user
  }

  router.get('/training', async (req, res) => {
    try {
      const user = await loggedIn(req, res)
      if (!user) return
      return choice(res, user, await isOptedOut(storageManager, user.id))
    } catch (err) {
      logger.error('mpcrec: reading a training choice failed', { err })
      return res.status(500).json({ code: 'error', detail: 'could not read your choice' })
    }
  })

  router.put('/training', async (req, res) => {
    try {
      const user = await loggedIn(req, res)
      if (!user) return
      const optedOut = req.body ? req.body.optedOut : undefined
      if (typeof optedOut !== 'boolean') {
        return res.status(400).json({ code: 'bad_choice', detail: 'send {"optedOut": true} or {"optedOut": false}' })
      }
      await storageManager.storeData(optOutKey(user.id), optedOut)
      logger.info(`mpcrec: user ${user.id} ${optedOut ? 'opted out of' : 'opted back into'} training`)
      return choice(res, user, optedOut)
    } catch (err) {
      logger.error('mpcrec: saving a training choice failed', { err })
      return res.status(500).json({ code: 'error', detail: 'could not save your choice' })
    }
  })
}

module.exports = { OPT_OUT_PREFIX, optOutKey, isOptedOut, addConsentRoutes }
