// @ts-check
// Asking the mpcrec node, with the shared secret and a hard timeout.

const ROUTE = '/api/v1/recommendations/videos'

/**
 * @typedef {{ uuid: string, url: string, score: number }} NodeVideo
 * @typedef {{ total: number, data: NodeVideo[], userId: number | null,
 *   videoId?: string, fallback: string | null, modelVersion: string }} NodeAnswer
 * @typedef {{ ok: true, answer: NodeAnswer } | { ok: false, reason: string }} NodeResult
 */

/**
 * The node's answer, or why there is none (down, slow, refused, unknown video...).
 * Never throws: every failure is a reason, and the caller falls back to PeerTube's list.
 *
 * @param {{ nodeUrl: string, secret: string, timeoutMs: number }} settings
 * @param {Record<string, string | number>} params
 * @returns {Promise<NodeResult>}
 */
async function askNode (settings, params) {
  if (!settings.secret) return { ok: false, reason: 'no shared secret configured' }
  const query = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) query.set(key, String(value))
  try {
    const response = await fetch(`${settings.nodeUrl}${ROUTE}?${query}`, {
      headers: { Authorization: `Bearer ${settings.secret}`, Accept: 'application/json' },
      signal: AbortSignal.timeout(settings.timeoutMs),
      redirect: 'error'
    })
    const body = await response.json().catch(() => null)
    if (!response.ok) {
      const code = body && typeof body.code === 'string' ? body.code : 'error'
      return { ok: false, reason: `node answered ${response.status} ${code}` }
    }
    if (!body || !Array.isArray(body.data)) return { ok: false, reason: 'node answered no list' }
    return { ok: true, answer: body }
  } catch (err) {
    const name = err instanceof Error ? err.name : 'Error'
    if (name === 'TimeoutError' || name === 'AbortError') {
      return { ok: false, reason: `node did not answer within ${settings.timeoutMs} ms` }
    }
    return { ok: false, reason: `node unreachable (${err instanceof Error ? err.message : err})` }
  }
}

module.exports = { ROUTE, askNode }
