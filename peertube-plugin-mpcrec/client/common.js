// peertube-plugin-mpcrec, client side (scope "common", an ES module PeerTube imports).
//
// Watch page: when PeerTube has loaded a video (action:video-watch.video.loaded), ask the
// plugin's route for the videos to show next to it and put them at the top of PeerTube's
// recommended column (my-recommended-videos .other-videos), hiding PeerTube's own
// miniatures only once ours are there. If the route is slow, fails, or answers PeerTube's
// fallback, PeerTube's own list stays as it is: the column is never blank.
// "For you" page: /p/for-you, the logged-in user's own list, linked from PeerTube's left
// menu for logged-in users (filter:left-menu.links.create.result).
// Training choice: /my-account/p/recommendations (a tab of My account: parentRoute and
// menuItem of registerClientRoute), where a user opts out of training or back in.

const SETTING_WATCH = 'mpcrec-watch-page'
const SETTING_FOR_YOU = 'mpcrec-for-you'
const COLUMN = 'my-recommended-videos .other-videos, .other-videos'
const CLIENT_TIMEOUT_MS = 2000 // the server already bounds the node; this bounds the whole route
const WAIT_COLUMN_MS = 5000
const FOR_YOU_PATH = '/p/for-you'
const CHOICE_ROUTE = 'recommendations'
const MENU_SECTIONS = ['quick-access', 'in-my-library', 'my-library'] // v7-v8, v6, v6.x

function register ({ registerHook, registerClientRoute, peertubeHelpers }) {
  let current = ''

  registerHook({
    target: 'action:video-watch.video.loaded',
    handler: ({ video }) => {
      if (!video || !video.uuid) return
      current = video.uuid
      fillWatchColumn(peertubeHelpers, video.uuid, () => current === video.uuid)
        .catch(() => {}) // PeerTube's list stays
    }
  })

  registerHook({
    target: 'filter:left-menu.links.create.result',
    handler: (sections) => addForYouLink(peertubeHelpers, sections).catch(() => sections)
  })

  if (typeof registerClientRoute === 'function') {
    registerClientRoute({
      route: 'for-you',
      title: 'For you',
      onMount: ({ rootEl }) => fillForYou(peertubeHelpers, rootEl).catch(() => {})
    })
    registerClientRoute({
      route: CHOICE_ROUTE,
      parentRoute: '/my-account',
      menuItem: { label: 'Recommendations' },
      title: 'Recommendations',
      onMount: ({ rootEl }) => fillTrainingChoice(peertubeHelpers, rootEl).catch(() => {})
    })
  }
}

// The left menu's sections as PeerTube builds them (key, title, links); "For you" goes
// first in the first section PeerTube shows logged-in users, or in a section of its own.
async function addForYouLink (helpers, sections) {
  if (!Array.isArray(sections) || !helpers.isLoggedIn()) return sections
  const settings = await helpers.getSettings()
  if (settings[SETTING_FOR_YOU] === false) return sections
  if (sections.some((s) => (s.links || []).some((l) => l.path === FOR_YOU_PATH))) return sections
  const label = await helpers.translate('For you')
  const link = { path: FOR_YOU_PATH, icon: 'recently-added', label, shortLabel: label }
  const section = MENU_SECTIONS.map((key) => sections.find((s) => s && s.key === key && Array.isArray(s.links)))
    .find(Boolean)
  if (section) {
    const at = section.key === 'quick-access' ? 1 : 0 // after Home
    section.links.splice(Math.min(at, section.links.length), 0, link)
    return sections
  }
  return [{ key: 'mpcrec', title: label, links: [link] }, ...sections]
}

async function fillWatchColumn (helpers, uuid, stillCurrent) {
  const settings = await helpers.getSettings()
  if (settings[SETTING_WATCH] === false) return
  const [column, answer] = await Promise.all([
    waitFor(COLUMN, WAIT_COLUMN_MS),
    fetchJson(helpers, `/recommendations?videoId=${encodeURIComponent(uuid)}`)
  ])
  if (!column || !stillCurrent()) return
  if (!answer || answer.source !== 'mpcrec' || !Array.isArray(answer.data) || answer.data.length === 0) {
    showPeerTubeList(column)
    return
  }
  showOurList(column, answer.data, await helpers.translate('Other videos'))
}

async function fillForYou (helpers, rootEl) {
  rootEl.textContent = ''
  const page = element('div', 'mpcrec-for-you')
  page.append(element('h1', 'mpcrec-title', await helpers.translate('For you')))
  rootEl.append(page)
  const settings = await helpers.getSettings()
  if (settings[SETTING_FOR_YOU] === false || !helpers.isLoggedIn()) {
    page.append(element('p', 'mpcrec-message', await helpers.translate('Log in to see videos chosen for you.')))
    return
  }
  const answer = await fetchJson(helpers, '/for-you?count=24')
  if (!answer || answer.source !== 'mpcrec' || !answer.data || answer.data.length === 0) {
    const message = element('p', 'mpcrec-message', await helpers.translate('No recommendations right now. '))
    const link = element('a', '', await helpers.translate('Browse videos'))
    link.href = '/videos/browse'
    message.append(link)
    page.append(message)
    return
  }
  page.append(videoList(answer.data, 'mpcrec-grid'))
  page.append(choiceLink(await helpers.translate('Choose whether what you watch trains these recommendations')))
}

function choiceLink (text) {
  const link = element('a', 'mpcrec-choice-link', text)
  link.href = `/my-account/p/${CHOICE_ROUTE}`
  const paragraph = element('p', 'mpcrec-message')
  paragraph.append(link)
  return paragraph
}

// The training choice: a checkbox, saved at once (PUT training), read back from the server.
async function fillTrainingChoice (helpers, rootEl) {
  rootEl.textContent = ''
  const page = element('div', 'mpcrec-choice')
  page.append(element('h1', 'mpcrec-title', await helpers.translate('Recommendations')))
  rootEl.append(page)
  if (!helpers.isLoggedIn()) {
    page.append(element('p', 'mpcrec-message', await helpers.translate('Log in to choose.')))
    return
  }
  const current = await requestJson(helpers, 'GET', '/training')
  if (!current) {
    page.append(element('p', 'mpcrec-message mpcrec-error', await helpers.translate('Your choice cannot be read right now.')))
    return
  }
  page.append(element('p', '', await helpers.translate(
    'Your recommendations are learnt on this instance from what you watch, like and save to playlists. ' +
    'Only a summary of many users\' tastes leaves the instance, protected by secure computation.')))
  const label = element('label', 'mpcrec-choice-toggle')
  const box = element('input', '')
  box.type = 'checkbox'
  box.name = 'mpcrec-train-on-me'
  box.checked = !current.optedOut
  label.append(box, document.createTextNode(' ' + await helpers.translate('Use my activity to train recommendations')))
  const status = element('p', 'mpcrec-status')
  page.append(label, status)
  if (current.historyEnabled === false) {
    page.append(element('p', 'mpcrec-message mpcrec-history-off', await helpers.translate(
      'Your video history is disabled in your PeerTube settings: you are not part of training whatever you choose here.')))
  }
  box.addEventListener('change', async () => {
    box.disabled = true
    const saved = await requestJson(helpers, 'PUT', '/training', { optedOut: !box.checked })
    box.disabled = false
    if (!saved) {
      box.checked = !box.checked
      status.textContent = await helpers.translate('Not saved: try again later.')
      return
    }
    box.checked = !saved.optedOut
    status.dataset.optedOut = String(saved.optedOut)
    status.textContent = await helpers.translate(saved.optedOut
      ? 'Saved: you are left out of training from the next round on.'
      : 'Saved: your activity trains your recommendations again.')
  })
}

function fetchJson (helpers, path) {
  return requestJson(helpers, 'GET', path)
}

async function requestJson (helpers, method, path, body) {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), CLIENT_TIMEOUT_MS)
  const headers = { ...(helpers.getAuthHeader() || {}), Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  try {
    const response = await fetch(helpers.getBaseRouterRoute() + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal
    })
    if (!response.ok) return null
    return await response.json()
  } catch {
    return null
  } finally {
    clearTimeout(timer)
  }
}

function waitFor (selector, timeoutMs) {
  const found = document.querySelector(selector)
  if (found) return Promise.resolve(found)
  return new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      const now = document.querySelector(selector)
      if (now) { observer.disconnect(); clearTimeout(timer); resolve(now) }
    })
    const timer = setTimeout(() => { observer.disconnect(); resolve(null) }, timeoutMs)
    observer.observe(document.body, { childList: true, subtree: true })
  })
}

function showPeerTubeList (column) {
  column.dataset.mpcrec = 'peertube' // what the column shows (for admins and tests)
  column.classList.remove('mpcrec-active')
  column.querySelectorAll(':scope > .mpcrec-videos').forEach((old) => old.remove())
}

function showOurList (column, videos, title) {
  showPeerTubeList(column)
  const ours = element('div', 'mpcrec-videos')
  ours.dataset.source = 'mpcrec'
  const header = element('div', 'title-page-container')
  header.append(element('h2', '', title))
  ours.append(header, videoList(videos, 'mpcrec-column'))
  column.prepend(ours)
  column.classList.add('mpcrec-active') // CSS hides PeerTube's miniatures, kept in the DOM
  column.dataset.mpcrec = 'mpcrec'
}

function videoList (videos, className) {
  const list = element('div', className)
  for (const video of videos) list.append(miniature(video))
  return list
}

function miniature (video) {
  const item = element('div', 'mpcrec-video')
  item.dataset.uuid = video.uuid
  const thumb = element('a', 'mpcrec-thumbnail')
  thumb.href = video.watchPath
  if (video.thumbnailPath) {
    const img = element('img', '')
    img.src = video.thumbnailPath
    img.alt = ''
    img.loading = 'lazy'
    thumb.append(img)
  }
  if (video.duration) thumb.append(element('span', 'mpcrec-duration', duration(video.duration)))
  const name = element('a', 'mpcrec-name', video.name)
  name.href = video.watchPath
  name.title = video.name
  item.append(thumb, name)
  return item
}

function duration (seconds) {
  const s = Math.max(0, Math.round(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const rest = String(s % 60).padStart(2, '0')
  return h ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`
}

function element (tag, className, text) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}

export { register }
