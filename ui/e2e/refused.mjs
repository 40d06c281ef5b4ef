// A report the server refuses is never lost: the built UI in Debian's Chromium (phone viewport,
// zh-CN, a GPS fix in 南街 from phone.mjs) against a real `fieldcheck-bridge` on a fresh device
// enrolled as the 东街 volunteer usr-vol-1 with a real `fieldcheck-server demo`. A quick report
// by GPS alone is placed in 南街 on the device (nearest registered point) and refused by the
// server at sync (out_of_scope). The ledger and the record show it with the reason in plain
// words; it is corrected to a point in the volunteer's own street and sent again, and the server
// then holds it exactly once with its photo. A second refused report is discarded knowingly
// (the confirmation cancelled first, then given).
//
// Binaries: FIELDCHECK_BRIDGE_BIN / FIELDCHECK_SERVER_BIN, else $CARGO_TARGET_DIR/debug/…
// Build: cargo build -p fieldcheck-bridge -p fieldcheck-server && npm run build.
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openPhone } from './phone.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '../..')
const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, 'target')
const bridgeBin = process.env.FIELDCHECK_BRIDGE_BIN ?? join(targetDir, 'debug/fieldcheck-bridge')
const serverBin = process.env.FIELDCHECK_SERVER_BIN ?? join(targetDir, 'debug/fieldcheck-server')
const shots = resolve(join(root, 'ui'), process.env.FIELDCHECK_SCREENSHOTS ?? 'test-results/screenshots')
mkdirSync(shots, { recursive: true })
const dir = mkdtempSync(join(tmpdir(), 'fieldcheck-refused-'))
const PROTOCOL = { 'x-fieldcheck-protocol': '1' }

/** Spawns a binary and resolves once `ready` matches its stdout (all of it so far). */
function startProcess(bin, args, ready, name) {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] })
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

function stop(child) {
  return new Promise((ok) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return ok()
    child.once('exit', ok)
    child.kill('SIGTERM')
    setTimeout(() => child.kill('SIGKILL'), 5000)
  })
}

const step = (name) => console.log(`  • ${name}`)
const assert = (ok, msg) => {
  if (!ok) throw new Error(msg)
}

let server
let bridge
let browser
const keepAlive = setInterval(() => {}, 1000)
try {
  step('start fieldcheck-server demo and a fresh bridge enrolled as the 东街 volunteer')
  server = await startProcess(
    serverBin,
    ['demo', '--bind', '127.0.0.1:0', '--data-dir', join(dir, 'server')],
    /device: fieldcheck enroll --server (http:\/\/[\d.:]+)/,
    'server',
  )
  const serverUrl = server.out.match(/API:\s+(http:\/\/[\d.:]+)\/api\/v1/)[1]
  const volCode = server.out.match(/^\s+usr-vol-1\s+\S+\s+\S+\s+(\S+)\s+QR:/m)?.[1]
  assert(volCode, `no enrollment code for usr-vol-1 in the server's output:\n${server.out}`)
  const serverApi = (path, { token, method = 'GET', body } = {}) =>
    fetch(`${serverUrl}/api/v1${path}`, {
      method,
      headers: {
        ...PROTOCOL,
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    })

  bridge = await startProcess(
    bridgeBin,
    ['--db', join(dir, 'device.sqlite3'), '--bind', '127.0.0.1:0', '--ui', join(root, 'ui/dist')],
    /http:\/\/[\d.:]+\//,
    'bridge',
  )
  const bridgeUrl = bridge.m[0]
  // Direct calls carry the bridge's per-start session secret when it has one, as the UI does.
  const s = await fetch(`${bridgeUrl}bridge/session`)
  const session = s.ok ? (await s.json()).session : null
  const bridgeCall = async (cmd, args = {}) => {
    const r = await fetch(`${bridgeUrl}bridge/${cmd}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(session ? { 'x-fieldcheck-session': session } : {}) },
      body: JSON.stringify(args),
    })
    if (!r.ok) throw new Error(`bridge ${cmd}: ${r.status} ${await r.text()}`)
    return r.json()
  }
  const enrolled = await bridgeCall('enroll', { server: serverUrl, code: volCode })
  assert(enrolled.user.id === 'usr-vol-1', `enrolled as ${JSON.stringify(enrolled.user)}`)

  const phone = await openPhone(bridgeUrl, shots)
  browser = phone.browser
  const { page, go, shot } = phone
  const jpeg = async (color) =>
    Buffer.from(
      await page.evaluate((color) => {
        const c = document.createElement('canvas')
        c.width = 640
        c.height = 480
        const g = c.getContext('2d')
        g.fillStyle = color
        g.fillRect(0, 0, 640, 480)
        return c.toDataURL('image/jpeg', 0.9).split(',')[1]
      }, color),
      'base64',
    )
  /** A quick report with a photo and the phone's GPS fix, no point picked; its id. */
  const quickReport = async (description, color) => {
    await go('/report')
    await page
      .locator('[data-test=photo-gallery]')
      .setInputFiles({ name: 'scene.jpg', mimeType: 'image/jpeg', buffer: await jpeg(color) })
    await page.locator('.thumbs img').first().waitFor()
    await page.locator('[data-test=category]').click()
    await page.locator('.van-cascader__option').first().click()
    await page.locator('.van-cascader__options').nth(1).locator('.van-cascader__option').first().click()
    await page.getByText('精度 ±8 米').waitFor()
    await page.locator('textarea').fill(description)
    await page.locator('[data-test=save-report]').click()
    await page.waitForURL(/#\/problems\//)
    await page.locator('[data-test=before-photo]').waitFor()
    return decodeURIComponent(page.url().split('/problems/')[1])
  }
  const syncNow = async () => {
    await go('/sync')
    await page.locator('[data-test=sync-now]').click()
    await page.locator('[data-test=sync-result]').waitFor({ timeout: 60000 })
    await page.locator('[data-test=pending-records] .van-cell__value').getByText('0', { exact: true }).waitFor()
    return (await bridgeCall('sync_status')).last_report
  }

  step('a quick report by GPS alone gets its place on the device')
  const id = await quickReport('南街口暴露垃圾', '#7a9')
  // The phone's fix is ~57 m from 南街光禄坊农贸市场 (p-010, 光禄社区).
  const placed = page.locator('[data-test=problem-district]')
  await placed.getByText('光禄社区').waitFor()
  await placed.getByText(/按(附近|周边)点位自动定位（\d+ 米）/).waitFor()

  step('sync: the server refuses it (outside the volunteer\'s districts); the app says so')
  let report = await syncNow()
  assert(report.refused.length === 1 && report.refused[0].code === 'out_of_scope', `refused: ${JSON.stringify(report.refused)}`)
  await page.locator('[data-test=sync-result]').getByText('1 条记录被服务器拒收').waitFor()

  step('the ledger keeps it, marked with the reason in plain words')
  await go('/ledger')
  const row = page.locator('.van-cell', { hasText: '南街口暴露垃圾' })
  await row.locator('[data-test=refused-tag]').getByText('服务器拒收').waitFor()
  await row.locator('[data-test=refused-reason]').getByText('不在你可以上报的区域内').waitFor()
  await shot('refused-ledger')
  await row.click()
  await page.waitForURL(/#\/problems\//)
  await page.locator('[data-test=refused-reason]').getByText(/不在你可以上报的区域内.*只保存在本设备上/).waitFor()
  await page.locator('[data-test=refused-event]').waitFor()
  // Nothing else is offered on a record the server does not have.
  assert((await page.locator('[data-test=action-edit]').count()) === 0, 'no lifecycle actions on a refused report')
  await shot('refused-detail')

  step('corrected to a point in the volunteer\'s own street and sent again')
  await page.locator('[data-test=action-resend]').click()
  await page.locator('[data-test=resend-form]').waitFor()
  await page.locator('[data-test=resend-district]').selectOption('s-dj')
  await page.locator('[data-test=resend-point] option[value="p-032"]').waitFor({ state: 'attached' })
  await page.locator('[data-test=resend-point]').selectOption('p-032')
  // The form is a popup (shot() waits for popups to close): taken once it has slid in.
  await page.waitForFunction(() => document.getAnimations().length === 0)
  await page.screenshot({ path: join(shots, 'refused-resend.png') })
  await page.locator('[data-test=resend-submit]').click()
  await page.getByText('已更正，下次同步时发送').waitFor()
  await page.locator('[data-test=refused]').waitFor({ state: 'detached' })
  await page.locator('[data-test=problem-district]').getByText('东街街道').waitFor()
  await page.locator('[data-test=superseded]').waitFor()
  report = await syncNow()
  assert(report.pushed === 1 && report.refused.length === 0, `resend sync: ${JSON.stringify(report)}`)
  assert(report.photos_uploaded === 1, `the photo goes with it: ${JSON.stringify(report)}`)

  step('the server holds it exactly once, in 东街, with its photo')
  const login = await serverApi('/login', { method: 'POST', body: { username: 'usr-admin-1', password: 'fieldcheck-demo' } })
  assert(login.ok, `admin login: ${login.status}`)
  const { token } = await login.json()
  const events = []
  for (let since = 0; ; ) {
    const r = await serverApi(`/pull?since=${since}&limit=500`, { token })
    assert(r.ok, `pull: ${r.status}`)
    const p = await r.json()
    for (const it of p.items) if (it.type === 'event' && it.event.entity_id === id) events.push(it.event)
    since = p.cursor
    if (!p.more) break
  }
  assert(events.length === 1 && events[0].kind === 'problem.reported', `server events: ${JSON.stringify(events)}`)
  assert(events[0].payload.district_id === 's-dj' && events[0].payload.point_id === 'p-032', JSON.stringify(events[0].payload))
  const blob = await serverApi(`/blobs/${events[0].photos[0].hash}`, { token })
  assert(blob.ok && (await blob.arrayBuffer()).byteLength > 1000, `photo on the server: ${blob.status}`)

  step('a second refused report is discarded knowingly')
  const other = await quickReport('拍错了的问题', '#a52')
  report = await syncNow()
  assert(report.refused.length === 1, `refused: ${JSON.stringify(report.refused)}`)
  await go(`/problems/${other}`)
  await page.locator('[data-test=refused]').waitFor()
  await page.locator('[data-test=action-discard]').click()
  await page.locator('.discard-confirm').getByText('无法恢复').waitFor()
  await page.locator('.discard-confirm .van-dialog__cancel').click()
  await page.locator('.discard-confirm').waitFor({ state: 'hidden' })
  assert((await bridgeCall('problem', { id: other })).refused?.code === 'out_of_scope', 'cancelled: still there')
  await page.locator('[data-test=action-discard]').click()
  await page.locator('.discard-confirm .van-dialog__confirm').click()
  await page.waitForURL(/#\/ledger/)
  const left = await bridgeCall('ledger', { query: { limit: 100 } })
  assert(left.total === 1 && left.items[0].id === id, `ledger after discard: ${JSON.stringify(left.items.map((r) => r.code))}`)
  console.log(`ok: screenshots in ${shots}`)
} finally {
  clearInterval(keepAlive)
  await browser?.close()
  await stop(bridge?.child)
  await stop(server?.child)
  rmSync(dir, { recursive: true, force: true })
}
