// What the browser tests that run the real binaries share (field.mjs, refused.mjs): where the
// binaries and screenshots are, starting and stopping them, a bridge with its session secret,
// and calls to the server's HTTP API with the protocol header.
//
// Binaries: FIELDCHECK_BRIDGE_BIN / FIELDCHECK_SERVER_BIN, else $CARGO_TARGET_DIR/debug/…
// (default target/debug). Build: cargo build -p fieldcheck-bridge -p fieldcheck-server.
import { spawn } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, 'target')
export const bridgeBin = process.env.FIELDCHECK_BRIDGE_BIN ?? join(targetDir, 'debug/fieldcheck-bridge')
export const serverBin = process.env.FIELDCHECK_SERVER_BIN ?? join(targetDir, 'debug/fieldcheck-server')

/** The screenshot directory (FIELDCHECK_SCREENSHOTS, as smoke.mjs uses it), created. */
export function screenshotDir() {
  const shots = resolve(join(root, 'ui'), process.env.FIELDCHECK_SCREENSHOTS ?? 'test-results/screenshots')
  mkdirSync(shots, { recursive: true })
  return shots
}

/**
 * Debian's Chromium with the office's console at 1440 × 900 in zh-CN (console.mjs, setup.mjs):
 * an error on the page fails the run; `shot(name)` waits for dialogs and charts to animate in.
 */
export async function consoleBrowser(shots) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  })
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
  const page = await ctx.newPage()
  page.on('pageerror', (e) => {
    throw e
  })
  const shot = async (name) => {
    await page.waitForTimeout(500)
    await page.screenshot({ path: join(shots, `${name}.png`) })
  }
  const byTest = (t) => page.locator(`[data-test="${t}"]`)
  return { browser, ctx, page, shot, byTest }
}

/**
 * A console session outside the browser (a colleague at another desk, or a look at what the
 * server holds): `send` answers the raw response (a raw body with its `type`), `call` the JSON
 * of a successful one (a JSON body), asserting success.
 */
export async function consoleSession(base, username, password) {
  const r = await fetch(`${base}/api/v1/console/session`, {
    method: 'POST',
    headers: { 'x-fieldcheck-protocol': '1', 'content-type': 'application/json', origin: base },
    body: JSON.stringify({ username, password }),
  })
  if (!r.ok) throw new Error(`sign-in of ${username}: ${r.status} ${await r.text()}`)
  const cookie = r.headers.get('set-cookie').split(';')[0]
  const info = await r.json()
  const send = (path, { method = 'GET', body, type } = {}) =>
    fetch(`${base}/api/v1${path}`, {
      method,
      headers: {
        'x-fieldcheck-protocol': '1',
        cookie,
        origin: base,
        ...(method === 'GET' ? {} : { 'x-csrf-token': info.csrf_token }),
        ...(type ? { 'content-type': type } : {}),
      },
      body,
    })
  const call = async (path, { method = 'GET', body } = {}) => {
    const res = await send(path, { method, body: body ? JSON.stringify(body) : undefined, type: body ? 'application/json' : undefined })
    const text = await res.text()
    assert(res.ok, `${method} ${path}: ${res.status} ${text}`)
    return text ? JSON.parse(text) : null
  }
  return { info, send, call }
}

export const step = (name) => console.log(`  • ${name}`)
export const assert = (ok, msg) => {
  if (!ok) throw new Error(msg)
}

/**
 * Spawns a binary and resolves once `ready` matches its stdout (all of it so far); `opts` are
 * spawn's (an `env`, say).
 */
export function startProcess(bin, args, ready, name, opts = {}) {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'], ...opts })
  return new Promise((ok, fail) => {
    let out = ''
    const timer = setTimeout(() => fail(new Error(`${name} did not start:\n${out}`)), 60000)
    child.stdout.on('data', (d) => {
      out += d
      const m = out.match(ready)
      if (m) {
        clearTimeout(timer)
        ok({ child, out, m })
      }
    })
    child.on('error', fail)
    child.on('exit', (code) => fail(new Error(`${name} exited with ${code}:\n${out}`)))
  })
}

export function stop(child) {
  return new Promise((ok) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return ok()
    child.once('exit', ok)
    child.kill('SIGTERM')
    setTimeout(() => child.kill('SIGKILL'), 5000)
  })
}

/**
 * `fieldcheck-server demo` on `bind` over `dataDir`: its child, API origin, the whole output,
 * and the demo users' enrollment codes by user id ({ name, role, code }).
 */
export async function startServer(bind, dataDir) {
  // The demo table ends with the "device:" line, printed once every code is.
  const { child, out } = await startProcess(
    serverBin,
    ['demo', '--bind', bind, '--data-dir', dataDir, '--problems', '0'],
    /device: fieldcheck enroll --server (http:\/\/[\d.:]+)/,
    'server',
  )
  const url = out.match(/API:\s+(http:\/\/[\d.:]+)\/api\/v1/)[1]
  const codes = {}
  for (const m of out.matchAll(/^\s+(usr-\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+QR:/gm)) {
    codes[m[1]] = { name: m[2], role: m[3], code: m[4] }
  }
  return { child, url, out, codes }
}

/** A call to the server's API at `base` (its origin), with the protocol header. */
export function serverApi(base, path, { token, method = 'GET', body } = {}) {
  return fetch(`${base}/api/v1${path}`, {
    method,
    headers: {
      'x-fieldcheck-protocol': '1',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  })
}

/**
 * A fresh `fieldcheck-bridge` on a free port over `db`, serving the built UI: its child, URL,
 * and direct calls that carry its per-start session secret as the UI's own calls do
 * (`fetch` answers the response, `call` the JSON of a successful one).
 */
export async function startBridge(db) {
  const { child, m } = await startProcess(
    bridgeBin,
    ['--db', db, '--bind', '127.0.0.1:0', '--ui', join(root, 'ui/dist')],
    /http:\/\/[\d.:]+\//,
    'bridge',
  )
  const url = m[0]
  const s = await fetch(`${url}bridge/session`)
  const session = s.ok ? (await s.json()).session : null
  const bridgeFetch = (cmd, args = {}) =>
    fetch(`${url}bridge/${cmd}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(session ? { 'x-fieldcheck-session': session } : {}) },
      body: JSON.stringify(args),
    })
  const call = async (cmd, args = {}) => {
    const r = await bridgeFetch(cmd, args)
    if (!r.ok) throw new Error(`bridge ${cmd}: ${r.status} ${await r.text()}`)
    return r.json()
  }
  return { child, url, session, fetch: bridgeFetch, call }
}

/** Every event the server's pull gives `token`, page after page from the start. */
export async function pullEvents(base, token) {
  const events = []
  for (let since = 0; ; ) {
    const r = await serverApi(base, `/pull?since=${since}&limit=500`, { token })
    assert(r.ok, `pull: ${r.status}`)
    const p = await r.json()
    for (const it of p.items) if (it.type === 'event') events.push(it.event)
    since = p.cursor
    if (!p.more) return events
  }
}

/** Closes the browser, stops the processes in order and removes the test's temp dir. */
export async function tearDown(browser, children, dir) {
  await browser?.close()
  for (const child of children) await stop(child)
  rmSync(dir, { recursive: true, force: true })
}
