// @ts-check
// The plugin's routes under load, side by side with the node they call, in one run:
//
//   node bench/route.js [--items 100000] [--requests 1000] [--warmup 100] --out FILE.json
//
// A real `mpcrec serve` on a random snapshot of --items videos (mpcrec.bench.recommend's
// build_snapshot: 32 dimensions, 1,000 users with 50 seen videos each), the plugin's
// router registered in the stand-in PeerTube of the tests (test/harness.js: express,
// PeerTube's helpers; loadByUrl answers from memory, so PeerTube's own database lookups
// are NOT measured), and one keep-alive client sending sequential requests, alternating
// four kinds so that they share the machine's load: the node's personal list and related
// videos directly (with the shared secret), and the plugin's /for-you and /recommendations
// (a logged-in user: personal blend). Prints p50/p95/p99/max (ms) and writes them with the
// load average. Target (issue 12): p99 <= 50 ms through the plugin's route.

const { spawn, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { startPeerTube } = require('../test/harness')
const { SETTINGS } = require('../lib/settings')

const REPO = path.resolve(__dirname, '..', '..')
const PYTHON = process.env.MPCREC_PYTHON || path.join(REPO, '.venv', 'bin', 'python')
const TARGET_P99_MS = 50
const USERS = 1000

/** @param {string[]} argv */
function options (argv) {
  const args = { items: 100000, requests: 1000, warmup: 100, out: '' }
  for (let k = 0; k < argv.length; k += 2) {
    const name = argv[k].replace(/^--/, '')
    if (!(name in args)) throw new Error(`unknown option ${argv[k]}`)
    // @ts-ignore
    args[name] = name === 'out' ? argv[k + 1] : Number(argv[k + 1])
  }
  if (!args.out) throw new Error('--out FILE.json is required')
  return args
}

/** @param {number} i */
const urlOf = (i) => `https://tube${i % 50}.example/videos/watch/${String(i).padStart(12, '0')}`
/** @param {number} i */
const uuidOf = (i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`

/** @param {string} dir @param {number} items */
async function startNode (dir, items) {
  const snapshot = path.join(dir, 'snapshot.npz')
  const secretFile = path.join(dir, 'api.secret')
  const secret = 'bench-route-secret-' + 'r'.repeat(32)
  fs.writeFileSync(secretFile, secret, { mode: 0o600 })
  execFileSync(PYTHON, ['-c', 'import sys, pathlib; from mpcrec.bench.recommend import build_snapshot; ' +
    `build_snapshot(${items}, 32, ${USERS}, 50, 0).save(pathlib.Path(sys.argv[1]))`, snapshot], { env: pythonEnv(), stdio: 'inherit' })
  const child = spawn(PYTHON, ['-m', 'mpcrec.cli.serve', '--snapshot', snapshot, '--secret-file', secretFile,
    '--port', '0', '--watch-seconds', '0'], { env: pythonEnv(), stdio: ['ignore', 'ignore', 'pipe'] })
  const url = await new Promise((resolve, reject) => {
    let seen = ''
    child.stderr.on('data', (chunk) => {
      seen += chunk
      const match = /serving recommendations on (http:\/\/[0-9.]+:\d+)/.exec(seen)
      if (match) resolve(match[1])
    })
    child.on('exit', (code) => reject(new Error(`mpcrec serve exited ${code}: ${seen}`)))
  })
  return { url, secret, stop: () => child.kill('SIGTERM') }
}

function pythonEnv () {
  const extra = process.env.PYTHONPATH ? `${path.delimiter}${process.env.PYTHONPATH}` : ''
  return { ...process.env, PYTHONPATH: `${REPO}${extra}`, OMP_NUM_THREADS: '1' }
}

/** @param {number[]} samples */
function percentiles (samples) {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (/** @type {number} */ q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length
  return { p50_ms: at(0.5), p95_ms: at(0.95), p99_ms: at(0.99), max_ms: sorted[sorted.length - 1], mean_ms: mean }
}

/** @param {string} url @param {Record<string, string>} headers @param {(body: any) => boolean} ok */
async function timed (url, headers, ok) {
  const start = process.hrtime.bigint()
  const response = await fetch(url, { headers })
  const body = await response.json()
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (!response.ok || !ok(body)) throw new Error(`${url}: ${response.status} ${JSON.stringify(body).slice(0, 200)}`)
  return ms
}

async function main () {
  const args = options(process.argv.slice(2))
  const loadBefore = os.loadavg()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpcrec-route-bench-'))
  const node = await startNode(dir, args.items)
  const videos = Array.from({ length: args.items }, (_, i) => ({ id: i + 1, uuid: uuidOf(i), url: urlOf(i), name: `Video ${i}`, remote: i % 50 !== 0 }))
  const users = Array.from({ length: USERS }, (_, k) => k + 1)
  const settings = {
    [SETTINGS.nodeUrl]: node.url,
    [SETTINGS.secret]: node.secret,
    [SETTINGS.count]: '10',
    [SETTINGS.timeoutMs]: '2000',
    [SETTINGS.watchPage]: true,
    [SETTINGS.forYou]: true
  }
  const peertube = await startPeerTube({ manifest: { videos, users }, settings })
  const direct = { Authorization: `Bearer ${node.secret}` }
  /** @type {Record<string, number[]>} */
  const samples = { node_personal: [], node_related: [], plugin_for_you: [], plugin_recommendations: [] }
  let seed = 1
  const random = (/** @type {number} */ n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n }
  try {
    for (let k = 0; k < args.warmup + args.requests; k++) {
      const user = 1 + random(USERS)
      const video = random(args.items)
      const as = { Authorization: `Bearer token-of-${user}` }
      const list = (/** @type {any} */ b) => Array.isArray(b.data) && b.data.length === 10
      const fromPlugin = (/** @type {any} */ b) => b.source === 'mpcrec' && b.data.length === 10
      const round = [
        await timed(`${node.url}/api/v1/recommendations/videos?userId=${user}&count=10`, direct, list),
        await timed(`${node.url}/api/v1/recommendations/videos?videoId=${uuidOf(video)}&count=10`, direct, list),
        await timed(`${peertube.url}/for-you?count=10`, as, fromPlugin),
        await timed(`${peertube.url}/recommendations?videoId=${uuidOf(video)}&count=10`, as, fromPlugin)
      ]
      if (k < args.warmup) continue
      Object.values(samples).forEach((list, j) => list.push(round[j]))
    }
  } finally {
    await peertube.stop()
    node.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const measured = Object.fromEntries(Object.entries(samples).map(([name, s]) => [name, percentiles(s)]))
  const worst = Math.max(measured.plugin_for_you.p99_ms, measured.plugin_recommendations.p99_ms)
  const result = {
    benchmark: 'recommend-plugin-route',
    items: args.items,
    dim: 32,
    users: USERS,
    count: 10,
    requests: args.requests,
    warmup: args.warmup,
    ...measured,
    target_p99_ms: TARGET_P99_MS,
    target_met: worst <= TARGET_P99_MS,
    not_measured: "PeerTube's database lookups (loadByUrl answers from memory in the stand-in)",
    machine: { cpus: os.cpus().length, node: process.version, loadavg_before: loadBefore, loadavg_after: os.loadavg() },
    command: `node bench/route.js ${process.argv.slice(2).join(' ')}`
  }
  fs.mkdirSync(path.dirname(path.resolve(args.out)), { recursive: true })
  fs.writeFileSync(args.out, JSON.stringify(result, null, 2) + '\n')
  console.log('path                    p50     p95     p99     max  (ms)')
  for (const [name, p] of Object.entries(measured)) {
    console.log(`${name.padEnd(22)} ${[p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms].map((v) => v.toFixed(2).padStart(7)).join(' ')}`)
  }
  console.log(`load average ${loadBefore.map((v) => v.toFixed(1)).join(' ')} -> ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}; ` +
    `target p99 <= ${TARGET_P99_MS} ms through the plugin: ${result.target_met ? 'met' : 'NOT met'}`)
}

main().catch((err) => { console.error(err.message); process.exit(1) })
