// The real inspector app (src-tauri, release build with the UI embedded) under Xvfb, driven by
// tauri-driver + WebKitWebDriver over plain W3C WebDriver (Node's fetch; no client library).
// Fresh app data directory → demo device; measures start to interactive home screen (cold and
// warm), records a quick report with a photo through the file input, finds it in the ledger,
// draws the points map from an imported offline package with no tile server (tiles://), and
// saves phone-size screenshots. Prints the app budgets at the end.
//
//   npm run e2e:app            (after: cargo build --profile app -p fieldcheck-app --features custom-protocol)
//   FIELDCHECK_APP=/path/to/fieldcheck-app  FIELDCHECK_SCREENSHOTS=../docs/screenshots  (optional)
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, statSync, existsSync, readdirSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildMapPackage } from './tiles.mjs'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, 'target')
const app = resolve(process.env.FIELDCHECK_APP ?? join(targetDir, 'app', 'fieldcheck-app'))
const shots = resolve(join(root, 'ui'), process.env.FIELDCHECK_SCREENSHOTS ?? 'test-results/app')
const BUDGET_BYTES = 20 * 1024 * 1024
const BUDGET_START_MS = 1500
const driverPort = 4444 + Math.floor(Math.random() * 1000)
const children = []
let session = null
let base = ''

function step(s) {
  console.log(`[tauri e2e] ${s}`)
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function cleanup() {
  for (const c of children.reverse()) {
    try {
      c.kill('SIGTERM')
    } catch {}
  }
}
process.on('exit', cleanup)
process.on('SIGINT', () => process.exit(130))

// ---------------------------------------------------------------- WebDriver over fetch
async function wd(method, path, body) {
  const res = await fetch(`http://127.0.0.1:${driverPort}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const json = await res.json().catch(() => ({}))
  if (!res.ok) {
    const v = json.value ?? {}
    const err = new Error(`${method} ${path}: ${v.error ?? res.status}: ${v.message ?? ''}`)
    err.wdError = v.error
    throw err
  }
  return json.value
}
const s = (path, body) => wd(body === undefined ? 'GET' : 'POST', `/session/${session}${path}`, body)
const exec = (script, args = []) => s('/execute/sync', { script, args })
const execAsync = (script, args = []) => s('/execute/async', { script, args })
const ELEM = 'element-6066-11e4-a52e-4f735466cecf'
async function find(css) {
  const els = await s('/elements', { using: 'css selector', value: css })
  return els.map((e) => e[ELEM])
}
async function waitFor(what, fn, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs
  let last
  for (;;) {
    try {
      const v = await fn()
      if (v) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`)
    await sleep(50)
  }
}
async function waitCss(css, timeoutMs) {
  return waitFor(css, async () => (await find(css))[0], timeoutMs)
}
async function waitText(text, timeoutMs) {
  return waitFor(`text ${text}`, () => exec('return document.body.innerText.includes(arguments[0])', [text]), timeoutMs)
}
const click = (el) => s(`/element/${el}/click`, {})
/** Clicks the first match once it is interactable (popups animate in). */
async function tap(css) {
  await waitFor(`clickable ${css}`, async () => {
    const el = (await find(css))[0]
    if (!el) return false
    await click(el)
    return true
  })
}
const type = (el, text) => s(`/element/${el}/value`, { text })
async function go(hash) {
  await exec('location.hash = arguments[0]', [hash])
}
async function shot(name) {
  // Let toasts and popups finish animating away.
  await waitFor('no overlay', () =>
    exec(`return [...document.querySelectorAll('.van-toast, .van-popup, .van-overlay')].every(
      (e) => getComputedStyle(e).display === 'none' || e.getClientRects().length === 0)`),
  )
  await sleep(400)
  const png = await s('/screenshot')
  mkdirSync(shots, { recursive: true })
  writeFileSync(join(shots, `${name}.png`), Buffer.from(png, 'base64'))
}

// ---------------------------------------------------------------- processes
function waitLine(child, re, what, timeoutMs = 20000) {
  return new Promise((ok, fail) => {
    const t = setTimeout(() => fail(new Error(`${what} did not start`)), timeoutMs)
    const on = (d) => {
      if (re.test(String(d))) {
        clearTimeout(t)
        ok()
      }
    }
    child.stdout?.on('data', on)
    child.stderr?.on('data', on)
    child.on('exit', (c) => fail(new Error(`${what} exited with ${c}`)))
  })
}

async function startXvfb() {
  if (process.env.DISPLAY && !process.env.FIELDCHECK_XVFB) return
  const display = `:${100 + Math.floor(Math.random() * 800)}`
  const x = spawn('Xvfb', [display, '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], { stdio: 'ignore' })
  children.push(x)
  process.env.DISPLAY = display
  await waitFor('Xvfb', () => existsSync(`/tmp/.X11-unix/X${display.slice(1)}`), 10000)
}

async function startDriver(env) {
  const d = spawn('tauri-driver', ['--port', String(driverPort), '--native-port', String(driverPort + 1000)], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(d)
  d.stderr.on('data', (b) => process.env.FIELDCHECK_E2E_VERBOSE && process.stderr.write(b))
  await waitFor('tauri-driver', async () => {
    try {
      await fetch(`http://127.0.0.1:${driverPort}/status`)
      return true
    } catch {
      return false
    }
  })
}

/** Seconds since boot when a process with this executable started (clock ticks → s). */
function appStartUptime(exe) {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readlinkSync(`/proc/${pid}/exe`) !== exe) continue
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const ticks = Number(fields[19]) // field 22: starttime
      const hz = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim())
      return ticks / hz
    } catch {}
  }
  return null
}
const uptime = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0])

/** New session = the app started by WebKitWebDriver; returns ms from process start to home. */
async function launch() {
  const value = await wd('POST', '/session', {
    capabilities: { alwaysMatch: { browserName: 'wry', 'tauri:options': { application: app } } },
  })
  session = value.sessionId
  await waitFor('home screen', async () => (await find('[data-test=home-report], .home-report')).length > 0 || (await exec("return document.body.innerText.includes('随手拍上报问题')")), 20000)
  const now = uptime()
  const started = appStartUptime(app)
  return started === null ? null : Math.round((now - started) * 1000)
}

async function quit() {
  if (session) await wd('DELETE', `/session/${session}`).catch(() => {})
  session = null
}

// ---------------------------------------------------------------- the test
async function main() {
  if (!existsSync(app)) {
    throw new Error(`${app} not found: cargo build --profile app -p fieldcheck-app --features custom-protocol`)
  }
  const data = mkdtempSync(join(tmpdir(), 'fieldcheck-app-'))
  const env = { ...process.env, XDG_DATA_HOME: join(data, 'share'), XDG_CONFIG_HOME: join(data, 'config'), XDG_CACHE_HOME: join(data, 'cache'), LANG: 'zh_CN.UTF-8', LC_ALL: 'C.UTF-8', RUST_LOG: 'warn' }
  await startXvfb()
  env.DISPLAY = process.env.DISPLAY
  await startDriver(env)

  step('first start (fresh data directory: demo seeding)')
  const coldMs = await launch()
  const dbPath = JSON.parse(await execAsync(`const done = arguments[arguments.length - 1]
    window.__TAURI_INTERNALS__.invoke('settings', {}).then((r) => done(JSON.stringify(r)), (e) => done(JSON.stringify(e)))`)).db_path
  if (!dbPath?.startsWith(env.XDG_DATA_HOME)) throw new Error(`database not in the app data dir: ${dbPath}`)
  await quit()

  step('second start (measured)')
  const warmMs = []
  for (let i = 0; i < 3; i++) {
    warmMs.push(await launch())
    if (i < 2) await quit()
  }
  await s('/window/rect', { width: 390, height: 844 }).catch((e) => step(`window resize: ${e.message}`))
  await sleep(300)
  await waitText('随手拍上报问题')
  await shot('app-home')

  step('typed errors reach the UI as {code, message}')
  const err = JSON.parse(await execAsync(`const done = arguments[arguments.length - 1]
    window.__TAURI_INTERNALS__.invoke('problem', { id: 'nope' }).then((r) => done(JSON.stringify({ ok: r })), (e) => done(JSON.stringify(e)))`))
  if (err.code !== 'not_found' || typeof err.message !== 'string') throw new Error(`unexpected error shape ${JSON.stringify(err)}`)

  step('sync now on a device that is not enrolled says so')
  const sync = JSON.parse(await execAsync(`const done = arguments[arguments.length - 1]
    window.__TAURI_INTERNALS__.invoke('sync_now', {}).then((r) => done(JSON.stringify(r)), (e) => done(JSON.stringify(e)))`))
  if (sync.status !== 'not_enrolled') throw new Error(`sync_now: ${JSON.stringify(sync)}`)

  step('quick report with a photo through the file input')
  // A fixed GPS fix (no GPS under Xvfb), as the browser test's geolocation emulation does.
  await exec(`Object.defineProperty(navigator, 'geolocation', { configurable: true, value: {
      getCurrentPosition: (ok) => ok({ coords: { latitude: 26.0799, longitude: 119.2899, accuracy: 8 }, timestamp: Date.now() }),
      watchPosition: () => 0, clearWatch: () => {} } })`)
  await go('/report')
  await waitCss('[data-test=photo-gallery]')
  const jpeg = await exec(`const c = document.createElement('canvas'); c.width = 640; c.height = 480
    const g = c.getContext('2d'); g.fillStyle = '#7a9'; g.fillRect(0, 0, 640, 480); g.fillStyle = '#c33'; g.fillRect(200, 150, 240, 180)
    return c.toDataURL('image/jpeg', 0.9).split(',')[1]`)
  const photo = join(data, 'scene.jpg')
  writeFileSync(photo, Buffer.from(jpeg, 'base64'))
  const input = await waitCss('[data-test=photo-gallery]')
  await exec("arguments[0].hidden = false; arguments[0].style.display = 'block'", [{ [ELEM]: input }])
  await type(input, photo)
  await exec('arguments[0].hidden = true', [{ [ELEM]: input }])
  await waitFor('thumbnail loaded', () => exec("const i = document.querySelector('.thumbs img'); return !!i && i.complete && i.naturalWidth > 0"), 20000)
  await tap('[data-test=category]')
  await waitCss('.van-cascader__option')
  await sleep(600) // the popup slides in: a click at its old position would miss
  await tap('.van-cascader__option')
  await sleep(400) // the cascader switches to the second tab
  await waitFor('second column', async () => (await find('.van-cascader__options')).length > 1)
  await waitFor('second-level category', async () => {
    const list = (await find('.van-cascader__options'))[1]
    const opt = list && (await s(`/element/${list}/elements`, { using: 'css selector', value: '.van-cascader__option' }))[0]
    if (!opt) return false
    await click(opt[ELEM])
    return true
  })
  await waitText('精度 ±8 米')
  const desc = `桌面应用上报：路边垃圾堆放 ${Date.now() % 100000}`
  await type(await waitCss('textarea'), desc)
  await shot('app-report')
  await tap('[data-test=save-report]')
  await waitFor('problem detail', () => exec("return location.hash.startsWith('#/problems/')"))
  await waitFor('status 已上报', () => exec("const e = document.querySelector('[data-test=status]'); return !!e && e.innerText.includes('已上报')"))
  await waitFor('before photo via photo://', () => exec("const i = document.querySelector('[data-test=before-photo] img, img[data-test=before-photo]'); return !!i && i.complete && i.naturalWidth > 0"), 20000)
  await shot('app-problem')

  step('find it in the ledger')
  await go('/ledger')
  const search = await waitCss('.van-search input')
  await type(search, desc.slice(0, 12) + '\uE007')
  await waitText(desc)
  await shot('app-ledger')

  step('the CSP admits only IPC, photo:// and the tile hosts: other http(s) is refused')
  await exec(`window.__csp = []
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective.split(' ')[0] + ' ' + e.blockedURI))
    fetch('http://127.0.0.1:9/ledger').catch(() => {})
    fetch('https://example.com/upload').catch(() => {})
    const i = new Image(); i.src = 'https://example.com/beacon.png'`)
  await waitFor('three CSP refusals', () => exec('return window.__csp.length >= 3'))
  const refusedByCsp = await exec('return window.__csp')
  for (const [directive, url] of [['connect-src', 'http://127.0.0.1:9'], ['connect-src', 'https://example.com'], ['img-src', 'https://example.com']]) {
    if (!refusedByCsp.some((v) => v.startsWith(directive) && v.includes(url))) throw new Error(`not refused by ${directive}: ${url} (${JSON.stringify(refusedByCsp)})`)
  }

  step('offline map: an MBTiles package imported, the points map drawn from it with no tile server')
  // Built by `fieldcheck-server map-package` from a local tile server, which is gone again.
  const pkg = readFileSync(await buildMapPackage(data)).toString('base64')
  const imported = JSON.parse(await execAsync(`const done = arguments[arguments.length - 1]
    const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0))
    window.__TAURI_INTERNALS__.invoke('map_package_import', bytes.buffer).then((r) => done(JSON.stringify(r)), (e) => done(JSON.stringify({ error: e })))`, [pkg]))
  if (imported.name !== '鼓楼区离线地图' || imported.maxzoom !== 16) throw new Error(`map_package_import: ${JSON.stringify(imported)}`)
  await go('/points')
  await tap('[data-test=points-map]')
  await waitFor('tiles from the package via tiles://', () =>
    exec(`const imgs = [...document.querySelectorAll('.leaflet-tile-pane img')].filter((i) => i.src.startsWith('tiles:') || i.src.startsWith('http://tiles.localhost'))
      return imgs.filter((i) => i.complete && i.naturalWidth === 256).length >= 4`), 20000)
  if ((await exec("return document.querySelector('[data-tiles]')?.dataset.tiles")) !== 'package') throw new Error('the map did not choose the package')
  await sleep(500) // the markers' fade-in
  await shot('app-offline-map')
  await quit()

  // ---------------------------------------------------------------- budgets
  const bytes = statSync(app).size
  const med = [...warmMs].sort((a, b) => a - b)[1]
  console.log('\nInspector app budgets')
  console.log(`  release binary (${app.replace(root + '/', '')}): ${(bytes / 1048576).toFixed(2)} MB  (budget 20 MB) ${bytes <= BUDGET_BYTES ? 'ok' : 'OVER'}`)
  console.log(`  start → interactive home, first start (demo seeding): ${coldMs} ms`)
  console.log(`  start → interactive home, warm starts: ${warmMs.join(', ')} ms; median ${med} ms  (budget ${BUDGET_START_MS} ms) ${med <= BUDGET_START_MS ? 'ok' : 'OVER'}`)
  rmSync(data, { recursive: true, force: true })
  if (bytes > BUDGET_BYTES) throw new Error('app binary over budget')
  if (process.env.FIELDCHECK_STRICT_BUDGETS && med > BUDGET_START_MS) throw new Error('app start over budget')
  step(`ok; screenshots in ${shots}`)
}

main().then(
  () => {
    cleanup()
    process.exit(0)
  },
  async (e) => {
    console.error(`[tauri e2e] FAILED: ${e.stack ?? e}`)
    if (session) {
      const toast = await exec("return [...document.querySelectorAll('.van-toast')].map((t) => t.innerText).join(' | ')").catch(() => '')
      if (toast) console.error(`[tauri e2e] toast: ${toast}`)
      await s('/screenshot')
        .then((png) => {
          mkdirSync(shots, { recursive: true })
          writeFileSync(join(shots, 'failure.png'), Buffer.from(png, 'base64'))
        })
        .catch(() => {})
      await quit()
    }
    cleanup()
    process.exit(1)
  },
)
