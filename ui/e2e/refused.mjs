// A report the server refuses is never lost: the built UI in Debian's Chromium (phone viewport,
// zh-CN, a GPS fix in 南街 from phone.mjs) against a real `fieldcheck-bridge` on a fresh device
// enrolled as the 东街 volunteer usr-vol-1 with a real `fieldcheck-server demo`. A quick report
// by GPS alone is placed in 南街 on the device (nearest registered point) and refused by the
// server at sync (out_of_scope). The ledger and the record show it with the reason in plain
// words; it is corrected to a point in the volunteer's own street and sent again, and the server
// then holds it exactly once with its photo. A second refused report is discarded knowingly
// (the confirmation cancelled first, then given).
//
// Build: cargo build -p fieldcheck-bridge -p fieldcheck-server && npm run build (binaries: procs.mjs).
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openPhone } from './phone.mjs'
import { assert, pullEvents, screenshotDir, serverApi, startBridge, startServer, step, tearDown } from './procs.mjs'

const shots = screenshotDir()
const dir = mkdtempSync(join(tmpdir(), 'fieldcheck-refused-'))

let server
let bridge
let browser
const keepAlive = setInterval(() => {}, 1000)
try {
  step('start fieldcheck-server demo and a fresh bridge enrolled as the 东街 volunteer')
  server = await startServer('127.0.0.1:0', join(dir, 'server'))
  const volCode = server.codes['usr-vol-1']?.code
  assert(volCode, `no enrollment code for usr-vol-1 in the server's output:\n${server.out}`)
  bridge = await startBridge(join(dir, 'device.sqlite3'))
  const bridgeUrl = bridge.url
  const bridgeCall = bridge.call
  const enrolled = await bridgeCall('enroll', { server: server.url, code: volCode })
  assert(enrolled.user.id === 'usr-vol-1', `enrolled as ${JSON.stringify(enrolled.user)}`)

  const phone = await openPhone(bridgeUrl, shots)
  browser = phone.browser
  const { page, go, shot, jpeg } = phone
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
  // The Sync screen still shows the previous run's result and count when it opens: wait for
  // *this* run to finish (a new finished_at_ms) before reading its report.
  const syncNow = async () => {
    const before = (await bridgeCall('sync_status')).finished_at_ms ?? null
    await go('/sync')
    await page.locator('[data-test=sync-now]').click()
    const deadline = Date.now() + 60000
    let status
    for (;;) {
      status = await bridgeCall('sync_status')
      if (!status.running && (status.finished_at_ms ?? null) !== before) break
      assert(Date.now() < deadline, `sync did not finish: ${JSON.stringify(status)}`)
      await new Promise((ok) => setTimeout(ok, 100))
    }
    await page.locator('[data-test=sync-result]').waitFor({ timeout: 60000 })
    await page.locator('[data-test=pending-records] .van-cell__value').getByText('0', { exact: true }).waitFor()
    return status.last_report
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
  const login = await serverApi(server.url, '/login', { method: 'POST', body: { username: 'usr-admin-1', password: 'fieldcheck-demo' } })
  assert(login.ok, `admin login: ${login.status}`)
  const { token } = await login.json()
  const events = (await pullEvents(server.url, token)).filter((e) => e.entity_id === id)
  assert(events.length === 1 && events[0].kind === 'problem.reported', `server events: ${JSON.stringify(events)}`)
  assert(events[0].payload.district_id === 's-dj' && events[0].payload.point_id === 'p-032', JSON.stringify(events[0].payload))
  const blob = await serverApi(server.url, `/blobs/${events[0].photos[0].hash}`, { token })
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
  await tearDown(browser, [bridge?.child, server?.child], dir)
}
