// @ts-check
// package.json as PeerTube's plugin installer reads it (PluginPackageJSON of
// @peertube/peertube-types): the fields it requires and files that exist.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..')
/** @type {import('@peertube/peertube-types').PluginPackageJSON} */
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))

test('package.json has what PeerTube requires of a plugin', () => {
  assert.match(pkg.name, /^peertube-plugin-[a-z0-9-]+$/)
  assert.ok(pkg.description && pkg.author)
  assert.ok(pkg.engine.peertube)
  for (const url of [pkg.homepage, pkg.bugs]) assert.ok(new URL(url))
  assert.equal(typeof pkg.translations, 'object')
  assert.equal(typeof pkg.staticDirs, 'object')
  for (const file of [pkg.library, ...pkg.css, ...pkg.clientScripts.map((s) => s.script)]) {
    assert.ok(fs.existsSync(path.join(ROOT, file)), `${file} is missing`)
  }
  const main = require(path.join(ROOT, pkg.library))
  assert.equal(typeof main.register, 'function')
  assert.equal(typeof main.unregister, 'function')
})
