// Field day end to end: the built UI in Debian's Chromium (phone viewport 390 × 844, zh-CN)
// against a real `fieldcheck-bridge` on a fresh device AND a real `fieldcheck-server demo`
// (data in a temp dir, a free port). Enroll through the Enroll screen (an enrollment link as
// the QR code carries it); inspect a farmers' market item by item with two failures → two
// problems; a quick report with a photo; stop the server and record three more; sync fails in
// plain words; start the server again on the same data → sync from the Sync screen → the
// server (admin login + pull + blobs over its HTTP API) has every problem and every photo.
// Issue 18 in the field: the office draws today's round for the inspector → a sync brings the
// tasks → Home links to them → the Tasks screen lists them nearest first and opens a point; a
// second quick report of the same category at the same spot shows the first one nearby ("附近
// 已有同类问题"), whose "add photo" opens it with the photo form; a case the office dispatches
// with a deadline in 5 hours shows on Home under "24小时内到期" and in the ledger's filter.
// Screenshots go where smoke.mjs puts them (FIELDCHECK_SCREENSHOTS).
//
// Build: cargo build -p fieldcheck-bridge -p fieldcheck-server (binaries: procs.mjs).
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openPhone } from './phone.mjs'
import { buildMapPackage } from './tiles.mjs'
import { assert, consoleSession, pullEvents, screenshotDir, serverApi, startBridge, startServer, step, stop, tearDown } from './procs.mjs'

const shots = screenshotDir()
const dir = mkdtempSync(join(tmpdir(), 'fieldcheck-field-'))
const serverDir = join(dir, 'server')
let server
let bridge
let browser
// Playwright's own handles do not keep Node alive while it waits; this does.
const keepAlive = setInterval(() => {}, 1000)
try {
  step('start fieldcheck-server demo (temp data dir, free port) and a fresh bridge')
  server = await startServer('127.0.0.1:0', serverDir)
  const port = new URL(server.url).port
  // usr-insp-1 works in 东街 (s-dj): the round below draws its markets there.
  const inspector = Object.entries(server.codes).find(([id, v]) => id === 'usr-insp-1' && v.role === 'inspector')
  const admin = Object.entries(server.codes).find(([, v]) => v.role === 'admin')
  assert(inspector && admin, `no inspector/admin enrollment codes in the server's output`)
  const [inspectorId, { name: inspectorName, code: inspectorCode }] = inspector
  bridge = await startBridge(join(dir, 'device.sqlite3'))
  const bridgeUrl = bridge.url
  // Direct calls need the bridge's per-start session secret, as the UI's own calls do.
  assert(bridge.session, 'the bridge hands out its session secret')
  const bridgeFetch = bridge.fetch
  const bridgeCall = bridge.call

  const phone = await openPhone(bridgeUrl, shots)
  browser = phone.browser
  const { page, go, shot } = phone
  const jpeg = (color) => phone.jpeg(color, { mark: true })

  step('a fresh device is not enrolled: Sync says so and links to Enroll')
  await go('/sync')
  await page.getByText('本设备尚未注册到服务器').waitFor()
  await page.locator('[data-test=go-enroll]').click()
  await page.waitForURL(/#\/enroll/)

  step('enroll through the Enroll screen (the QR code\'s link, pasted)')
  const link = `fieldcheck://enroll?server=${encodeURIComponent(server.url)}&code=${encodeURIComponent(inspectorCode)}`
  await page.locator('[data-test=enroll-link] input').fill('fieldcheck://nonsense')
  await page.getByText('不是有效的注册链接').waitFor()
  await page.locator('[data-test=enroll-link] input').fill(link)
  const serverField = page.locator('[data-test=enroll-server] input')
  assert((await serverField.inputValue()) === server.url, 'the link fills in the server')
  assert((await page.locator('[data-test=enroll-code] input').inputValue()) === inspectorCode, 'and the code')
  await shot('enroll')
  // A city CA that is not a certificate: refused in plain words before any connection.
  await page.locator('[data-test=enroll-ca-toggle]').click()
  await page.locator('[data-test=enroll-ca] textarea').fill('not a certificate')
  await page.locator('[data-test=enroll-submit]').click()
  await page.getByText('证书格式不对').waitFor()
  assert(!(await bridgeCall('sync_status')).enrolled, 'a refused CA enrolls nothing')
  await page.locator('[data-test=enroll-ca] textarea').fill('')
  // Plain http to another machine: the screen warns and asks first. Cancelled, nothing is sent;
  // confirmed, the enrollment goes ahead (here refused: a wrong code, or nothing listening).
  await serverField.fill(server.url.replace('127.0.0.1', '0.0.0.0'))
  await page.locator('[data-test=enroll-code] input').fill('WRONG-CODE')
  await page.locator('[data-test=enroll-submit]').click()
  await page.locator('.enroll-insecure').getByText('不是 https 地址').waitFor()
  await page.waitForTimeout(400) // the dialog's opening animation, for the screenshot only
  await page.screenshot({ path: join(shots, 'enroll-insecure.png') })
  await page.locator('.enroll-insecure .van-dialog__cancel').click()
  await page.locator('.enroll-insecure').waitFor({ state: 'hidden' })
  assert((await page.locator('[data-test=enroll-error]').count()) === 0, 'a cancelled enrollment shows no error')
  await page.locator('[data-test=enroll-submit]').click()
  await page.locator('.enroll-insecure .van-dialog__confirm').click()
  await page.locator('[data-test=enroll-error]').waitFor()
  assert(!(await bridgeCall('sync_status')).enrolled, 'a refused enrollment stores nothing')
  await serverField.fill(server.url)
  // A wrong code first: refused in plain words, nothing stored.
  await page.locator('[data-test=enroll-code] input').fill('WRONG-CODE')
  await page.locator('[data-test=enroll-submit]').click()
  await page.getByText('注册码错误、已过期或已被使用').waitFor()
  await page.locator('[data-test=enroll-code] input').fill(inspectorCode)
  await page.locator('[data-test=enroll-submit]').click()
  await page.waitForURL(/#\/sync/)
  await page.locator('[data-test=pending-records]').waitFor()
  const me = await bridgeCall('me')
  assert(me.user?.id === inspectorId, `signed in as the enrolled inspector, got ${JSON.stringify(me.user)}`)
  // An enrolled device belongs to its enrolled user: the demo user switch is refused.
  const switched = await bridgeFetch('login', { user_id: admin[0] })
  assert(switched.status === 403 && (await switched.json()).code === 'enrolled_device', 'user switch refused')

  step('home shows the pending-sync count and links to Sync')
  await go('/')
  await page.getByText(`${inspectorName}，你好`).waitFor()
  await page.locator('[data-test=home-sync]').waitFor()

  /** Runs one sync through the bridge's runner and waits for it to end (without the screen). */
  const syncOnce = async () => {
    const before = (await bridgeCall('sync_status')).finished_at_ms ?? 0
    await bridgeCall('sync_start')
    for (let i = 0; ; i++) {
      const s = await bridgeCall('sync_status')
      if (!s.running && (s.finished_at_ms ?? 0) > before) {
        assert(!s.last_error, `sync failed: ${JSON.stringify(s.last_error)}`)
        return s
      }
      assert(i < 600, 'sync did not finish in a minute')
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const office = await consoleSession(server.url, admin[0], 'fieldcheck-demo')

  step("the office draws today's round for this inspector; a sync brings the tasks to Home and the Tasks screen")
  // The demo city's day (UTC+8), as the server reckons "today".
  const cityToday = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10)
  await office.call('/console/rounds', {
    method: 'POST',
    body: {
      name: '今日模拟测评 e2e',
      date: cityToday,
      seed: 'e2e-field',
      quotas: [{ point_type: 'farmers_market', district_id: 's-dj', count: 2 }],
      inspectors: [inspectorId],
    },
  })
  await syncOnce()
  const taskList = await bridgeCall('tasks', { lat: 26.0799, lon: 119.2899 })
  assert(taskList.today === cityToday && taskList.tasks.length === 2 && taskList.open === 2, `two tasks today: ${JSON.stringify(taskList)}`)
  // Home was already open: opening it again (a hash change to the same route) reloads nothing.
  await page.reload()
  await page.locator('[data-test=home-tasks]').getByText('2 个点位待巡查').waitFor()
  await page.locator('[data-test=home-tasks]').click()
  await page.waitForURL(/#\/tasks/)
  await page.locator('[data-test=tasks-summary]').getByText('按距离排序').waitFor()
  await page.locator('[data-test=task]').nth(1).waitFor()
  const metres = (s) => (s.includes('公里') ? parseFloat(s) * 1000 : parseFloat(s))
  const distances = (await page.locator('[data-test=task-distance]').allInnerTexts()).map(metres)
  assert(distances.length === 2 && distances.every(Number.isFinite) && distances[0] <= distances[1], `nearest first: ${distances}`)
  const firstTask = taskList.tasks[0]
  await page.locator('[data-test=task]').first().getByText(firstTask.point_name).waitFor()
  await page.locator('[data-test=task]').first().getByText('今日模拟测评 e2e').waitFor()
  await shot('tasks')
  await page.locator('[data-test=task]').first().click()
  await page.waitForURL(new RegExp(`#/points/${firstTask.point_id}`))
  await page.getByRole('button', { name: '开始巡查' }).waitFor()

  step('inspect a farmers\' market item by item: two failures → two problems')
  await go('/points')
  await page.getByText('按距离排序').waitFor()
  const first = page.locator('.van-cell__title').first()
  await first.getByText('南街光禄坊农贸市场').waitFor() // a 农贸市场 point
  await first.click()
  await page.getByRole('button', { name: '开始巡查' }).click()
  await page.waitForURL(/#\/inspections\//)
  await page.locator('[data-test=running-score]').waitFor()
  await page.locator('[data-test=mode-one]').click()
  await page.locator('[data-test=item-of]').getByText('第 1/15 项').waitFor()
  for (let i = 0; i < 3; i++) await page.locator('[data-test=next-item]').click()
  await page.locator('[data-test=item-of]').getByText('第 4/15 项').waitFor()
  await page.getByRole('button', { name: '合格', exact: true }).click()
  await page.locator('[data-test=item-of]').getByText('第 5/15 项').waitFor() // moved on by itself
  for (const n of [5, 6]) {
    await page.getByRole('button', { name: '不合格', exact: true }).click()
    await page.getByRole('button', { name: '生成问题' }).click()
    await page.getByText(/已生成问题/).first().waitFor()
    await page.locator('[data-test=item-of]').getByText(`第 ${n + 1}/15 项`).waitFor()
  }
  const score = await page.locator('[data-test=running-score]').innerText()
  assert(Number(score) < 100, `running score ${score} should drop after failures`)
  await shot('inspection-one-by-one')
  await page.locator('[data-test=mode-list]').click()
  await page.getByText('设有消费者投诉站').waitFor()

  const quickReport = async (description, color, nearbyCode) => {
    const dbg = (m) => process.env.E2E_DEBUG && console.log(`      ${m}`)
    dbg('goto report')
    await go('/report')
    dbg('photo')
    await page
      .locator('[data-test=photo-gallery]')
      .setInputFiles({ name: 'scene.jpg', mimeType: 'image/jpeg', buffer: await jpeg(color) })
    await page.locator('.thumbs img').first().waitFor()
    dbg('category')
    await page.locator('[data-test=category]').click()
    await page.locator('.van-cascader__option').first().click()
    await page.locator('.van-cascader__options').nth(1).locator('.van-cascader__option').first().click()
    dbg('gps')
    await page.getByText('精度 ±8 米').waitFor()
    if (nearbyCode) {
      // The same category at the same spot: the earlier report is shown before saving.
      await page.locator('[data-test=nearby] [data-test=nearby-code]').getByText(nearbyCode).waitFor()
      await page.locator('[data-test=nearby] [data-test=nearby-thumb] img').first().waitFor()
    }
    dbg('save')
    await page.locator('textarea').fill(description)
    await page.locator('[data-test=save-report]').click()
    await page.waitForURL(/#\/problems\//)
    await page.locator('[data-test=before-photo]').waitFor()
    return (await page.locator('.van-nav-bar__title').innerText()).trim()
  }

  step('quick report with a photo')
  const firstCode = await quickReport('菜场门口暴露垃圾', '#7a9')
  assert(/^GL-/.test(firstCode), `the report's code: ${firstCode}`)

  step('the server goes away; three more problems are recorded offline')
  await stop(server.child)
  console.log('    server stopped')
  await quickReport('离线记录一：路边垃圾堆积', '#a52', firstCode)
  await quickReport('离线记录二：共享单车乱停放', '#25a')
  await quickReport('离线记录三：小广告', '#a2a')
  const local = await bridgeCall('ledger', { query: { limit: 100 }, mine: true })
  assert(local.total === 6, `6 problems on the device, got ${local.total}`)
  const codes = local.items.map((r) => r.problem?.code ?? r.code)

  step('sync while the server is down: progress, then the error in plain words')
  await go('/sync')
  await page.locator('[data-test=pending-records]').waitFor()
  const pending = Number(await page.locator('[data-test=pending-records] .van-cell__value').innerText())
  assert(pending > 6, `pending records ${pending}`)
  const pendingPhotos = Number(await page.locator('[data-test=pending-photos] .van-cell__value').innerText())
  assert(pendingPhotos === 4, `pending photos ${pendingPhotos}`)
  await page.locator('[data-test=sync-now]').click()
  await page.locator('[data-test=sync-error]').getByText('无法连接服务器').waitFor({ timeout: 30000 })
  await shot('sync-error')

  step('the server comes back (same data, same port); sync from the Sync screen')
  server = { ...server, ...(await startServer(`127.0.0.1:${port}`, serverDir)) }
  await page.locator('[data-test=sync-now]').click()
  await page.locator('[data-test=sync-result]').waitFor({ timeout: 60000 })
  await page.locator('[data-test=pending-records] .van-cell__value').getByText('0', { exact: true }).waitFor()
  await page.locator('[data-test=pending-photos] .van-cell__value').getByText('0', { exact: true }).waitFor()
  await shot('sync')
  const status = await bridgeCall('sync_status')
  assert(status.last_report.pushed >= pending, `pushed ${status.last_report.pushed} of ${pending}`)
  assert(status.last_report.photos_uploaded >= 4, `photos uploaded ${status.last_report.photos_uploaded}`)

  step('the server has every problem with its photos (admin login, pull, blobs)')
  const login = await serverApi(server.url, '/login', {
    method: 'POST',
    body: { username: admin[0], password: 'fieldcheck-demo' },
  })
  if (!login.ok) throw new Error(`admin login: ${login.status} ${await login.text()}`)
  const { token } = await login.json()
  const reported = new Map()
  for (const e of await pullEvents(server.url, token)) {
    if (e.kind === 'problem.reported') reported.set(e.payload.code, e)
  }
  for (const code of codes) assert(reported.has(code), `the server lacks problem ${code}`)
  const hashes = new Set(codes.flatMap((c) => (reported.get(c).photos ?? []).map((p) => p.hash)))
  assert(hashes.size >= 4, `4 photos expected on the reports, got ${hashes.size}`)
  for (const h of hashes) {
    const r = await serverApi(server.url, `/blobs/${h}`, { token })
    assert(r.ok, `the server lacks blob ${h}: ${r.status}`)
    assert((await r.arrayBuffer()).byteLength > 1000, `blob ${h} is empty`)
  }
  const raisedFromInspection = codes.filter((c) => reported.get(c).payload.inspection_id)
  assert(raisedFromInspection.length === 2, `2 problems raised by the inspection, got ${raisedFromInspection.length}`)
  console.log(`    server has ${codes.length} problems (${codes.join(', ')}) and ${hashes.size} photos`)

  step('"附近已有同类问题": the report screen offers the nearby case; "add photo" opens it with the photo form')
  await go('/report')
  await page.locator('[data-test=category]').click()
  await page.locator('.van-cascader__option').first().click()
  await page.locator('.van-cascader__options').nth(1).locator('.van-cascader__option').first().click()
  const nearbyRow = page.locator('[data-test=nearby-problem]', { hasText: firstCode })
  await nearbyRow.waitFor()
  assert((await page.locator('[data-test=nearby-problem]').count()) >= 4, 'the four quick reports of this category are all nearby')
  await shot('report-nearby')
  await nearbyRow.locator('[data-test=nearby-add-photo]').click()
  await page.waitForURL(/#\/problems\/.*act=add_photos/)
  await page.locator('[data-test=action-submit]').waitFor()
  await page.locator('.van-popup [data-test=photo-gallery]').setInputFiles({ name: 'more.jpg', mimeType: 'image/jpeg', buffer: await jpeg('#3a7') })
  await page.locator('.van-popup .thumbs img').first().waitFor()
  await page.locator('[data-test=action-submit]').click()
  await page.getByText('补充照片成功').waitFor()
  const added = await bridgeCall('ledger', { query: { text: firstCode, limit: 5 } })
  const withPhoto = added.items.find((r) => r.code === firstCode)
  assert(withPhoto?.photos.some((p) => p.role === 'evidence'), `the evidence photo is on ${firstCode}: ${JSON.stringify(withPhoto?.photos)}`)

  step('the office dispatches that case due in 5 hours: Home counts it under "24小时内到期", the ledger filters it')
  const dueIn5h = new Date(Date.now() + 5 * 3600_000).toISOString()
  const bulk = await office.call('/console/problems/bulk', {
    method: 'POST',
    body: { ids: [withPhoto.id], op: 'file_and_dispatch', unit_id: 'u-hwc', deadline: dueIn5h, note: 'e2e：限5小时内整改' },
  })
  assert(bulk.done === 1 && bulk.failed === 0, `dispatched: ${JSON.stringify(bulk)}`)
  await syncOnce()
  await go('/')
  await page.locator('[data-test=home-due-soon] .van-cell__value').getByText('1', { exact: true }).waitFor()
  await page.locator('[data-test=home-my-overdue] .van-cell__value').getByText('0', { exact: true }).waitFor()
  await shot('home-deadlines')
  await page.locator('[data-test=home-due-soon]').click()
  await page.waitForURL(/#\/ledger/)
  await page.locator('[data-test=ledger-due-soon] .van-checkbox__icon--checked').waitFor()
  await page.getByText('共 1 条').waitFor()
  await page.locator('.van-list').getByText(firstCode).waitFor()
  const pendingAfter = await bridgeCall('sync_status')
  assert(pendingAfter.pending_records === 0 && pendingAfter.pending_photos === 0, `everything synced: ${JSON.stringify(pendingAfter)}`)

  step('offline map: a package picked in Settings draws the points map with no tile server')
  const mbtiles = await buildMapPackage(dir)
  await go('/settings')
  await page.locator('[data-test=map-package-import] input[type=file]').setInputFiles(mbtiles)
  await page.locator('[data-test=map-package-info]').getByText('鼓楼区离线地图').waitFor()
  await go('/points')
  await page.locator('[data-test=points-map]').click()
  await page.locator('[data-tiles=package]').waitFor()
  await page.waitForFunction(
    () => [...document.querySelectorAll('.leaflet-tile-pane img')].filter((i) => i.src.includes('/bridge/tiles/') && i.complete && i.naturalWidth === 256).length >= 4,
    null,
    { timeout: 20000 },
  )
  await shot('points-offline-map')

  step('settings: server, storage, sign out of the server')
  await go('/settings')
  await page.locator('[data-test=settings-server]').getByText(server.url).waitFor()
  await page.locator('[data-test=user-enrolled]').waitFor()
  assert((await page.locator('[data-test=switch-user]').count()) === 0, 'no user switch on an enrolled device')
  await shot('settings')
  await page.locator('[data-test=unenroll]').click()
  await page.getByText('确定要注销本设备吗').waitFor()
  await page.locator('.van-dialog__confirm').click()
  await page.locator('[data-test=settings-enroll]').waitFor()
  console.log(`ok: screenshots in ${shots}`)
} finally {
  clearInterval(keepAlive)
  await tearDown(browser, [bridge?.child, server?.child], dir)
}
