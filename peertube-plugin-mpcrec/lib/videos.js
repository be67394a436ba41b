// @ts-check
// The node names videos by ActivityPub URL and UUID; PeerTube's own helpers turn them into
// PeerTube's videos (local or remote), so titles, thumbnails and privacy are PeerTube's.

const PUBLIC = 1 // VideoPrivacy.PUBLIC
const PUBLISHED = 1 // VideoState.PUBLISHED

/**
 * @typedef {import('@peertube/peertube-types').MVideoThumbnails} MVideoThumbnails
 * @typedef {{ id: number, uuid: string, name: string, url: string, watchPath: string,
 *   thumbnailPath: string | null, duration: number, views: number, isLocal: boolean,
 *   nsfw: boolean, publishedAt: string | null, score: number }} ShownVideo
 */

/**
 * Whether PeerTube may show this video in a list to anyone: public, published, not blocked.
 *
 * @param {MVideoThumbnails | undefined | null} video
 * @returns {video is MVideoThumbnails}
 */
function isShowable (video) {
  if (!video) return false
  if (video.privacy !== PUBLIC) return false
  if (video.state !== undefined && video.state !== PUBLISHED) return false
  if (typeof video.isBlacklisted === 'function' && video.isBlacklisted()) return false
  return true
}

/**
 * @param {MVideoThumbnails} video
 * @returns {string | null}
 */
function thumbnailPath (video) {
  try {
    if (typeof video.getBestThumbnailStaticPath === 'function') {
      return video.getBestThumbnailStaticPath('16:9', 400) || null
    }
  } catch {}
  return null
}

/**
 * @param {MVideoThumbnails} video
 * @param {number} score
 * @returns {ShownVideo}
 */
function toShown (video, score) {
  return {
    id: video.id,
    uuid: video.uuid,
    name: video.name,
    url: video.url,
    watchPath: `/w/${video.uuid}`,
    thumbnailPath: thumbnailPath(video),
    duration: video.duration,
    views: video.views,
    isLocal: !video.remote,
    nsfw: Boolean(video.nsfw),
    publishedAt: video.publishedAt ? new Date(video.publishedAt).toISOString() : null,
    score
  }
}

/**
 * The node's videos as PeerTube knows them, in the node's order, showable ones only.
 *
 * @param {import('./node-client').NodeVideo[]} nodeVideos
 * @param {import('@peertube/peertube-types').PeerTubeHelpers['videos']} helpers
 * @param {{ excludeUuid?: string, count: number }} options
 * @returns {Promise<ShownVideo[]>}
 */
async function toPeerTubeVideos (nodeVideos, helpers, { excludeUuid, count }) {
  const loaded = await Promise.all(nodeVideos.map(async (v) => {
    try {
      const byUrl = v.url ? await helpers.loadByUrl(v.url) : null
      return byUrl || (v.uuid ? await helpers.loadByIdOrUUID(v.uuid) : null)
    } catch {
      return null
    }
  }))
  const shown = []
  for (const [k, video] of loaded.entries()) {
    if (!isShowable(video) || video.uuid === excludeUuid) continue
    shown.push(toShown(video, nodeVideos[k].score))
    if (shown.length >= count) break
  }
  return shown
}

module.exports = { isShowable, toPeerTubeVideos }
