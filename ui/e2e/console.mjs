// The office's console end to end (issue 14): the built console (ui/dist-console) served by a
// real `fieldcheck-server demo` — on SQLite, or on PostgreSQL when FIELDCHECK_CONSOLE_PG names a
// database URL — in Debian's Chromium at 1440 × 900, with a `fieldcheck` CLI device:
//
//   the device reports three problems offline and syncs; the office signs in (a wrong password
//   first), finds them in the ledger by a link, files and dispatches two in bulk to a unit (the
//   deadline shown) and rejects the third; the unit's handler signs in, cannot open another
//   unit's problem by URL, accepts one and rectifies it with an after-photo uploaded from the
//   browser, returns the other; the office re-dispatches it, tries to verify the first while a
//   colleague already did (a clear "changed meanwhile"), closes it; the ranking shows the unit's
//   rates; a session ended elsewhere sends the page to sign in; the device syncs and shows the
//   closed status with the office's events in its history. The office also sets the city up:
//   imports, users, enrollment codes and a printed sheet of QR cards for a team (as a PDF too,
//   read back with poppler's pdftotext), the audit log. Its reports: a case sheet, the
//   quarter's bulletin and a weekly schedule, each PDF downloaded and read back.
//
// Screenshots of every screen go to ui/test-results/screenshots/console/ (FIELDCHECK_SCREENSHOTS
// =../docs/screenshots refreshes docs/screenshots/console/). Needs `cargo build -p
// fieldcheck-server -p fieldcheck-cli`, `npm run build` and poppler-utils.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import jsQR from 'jsqr'
import { assert, consoleBrowser, consoleSession, root, screenshotDir, serverBin, startProcess, step, tearDown } from './procs.mjs'

const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, 'target')
const cliBin = process.env.FIELDCHECK_CLI_BIN ?? join(targetDir, 'debug/fieldcheck')
const pg = process.env.FIELDCHECK_CONSOLE_PG ?? ''
const backend = pg ? 'postgres' : 'sqlite'
const PASSWORD = 'fieldcheck-demo'
const shots = join(screenshotDir(), 'console')
mkdirSync(shots, { recursive: true })
const dir = mkdtempSync(join(tmpdir(), `fieldcheck-console-${backend}-`))
const children = []
let browser

const json = (p) => JSON.parse(readFileSync(join(root, p), 'utf8'))
const districts = json('data/demo/districts.json')
const points = json('data/demo/points.json')
const units = json('data/demo/units.json')
const categories = json('data/categories.json')

/** `district` and everything below it. */
function below(district) {
  const out = new Set([district])
  for (let grew = true; grew; ) {
    grew = false
    for (const d of districts) if (d.parent_id && out.has(d.parent_id) && !out.has(d.id)) out.add(d.id), (grew = true)
  }
  return out
}

function cli(args) {
  const out = execFileSync(cliBin, ['--db', join(dir, 'device.sqlite3'), '--lang', 'en', ...args], { encoding: 'utf8' })
  return out
}
const cliJson = (args) => JSON.parse(cli(['--json', ...args]))

async function startServer() {
  const args = ['demo', '--bind', '127.0.0.1:0', '--data-dir', join(dir, 'server')]
  if (pg) args.push('--database-url', pg, '--pg-schema', `e2e_console_${process.pid}`)
  const started = startProcess(serverBin, args, /device: fieldcheck enroll --server (http:\/\/[\d.:]+)/, 'server', {
    env: {
      ...process.env,
      FIELDCHECK_CONSOLE_DIR: join(root, 'ui/dist-console'),
      // A small lived-in city keeps the test quick; the console still has company.
      FIELDCHECK_DEMO_PROBLEMS: process.env.FIELDCHECK_DEMO_PROBLEMS ?? '150',
    },
  })
  const { child, out } = await started
  children.push(child)
  const url = out.match(/API:\s+(http:\/\/[\d.:]+)\/api\/v1/)[1]
  const codes = {}
  for (const m of out.matchAll(/^\s+(usr-\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+QR:/gm)) codes[m[1]] = m[4]
  return { url, codes }
}

try {
  console.log(`console e2e on ${backend}`)
  const { url: base, codes } = await startServer()

  step('a device reports three problems offline, then syncs')
  cli(['enroll', '--server', base, '--code', codes['usr-insp-1']])
  const mine = below('s-dj')
  const point = points.find((p) => mine.has(p.district_id))
  const category = categories.find((c) => c.code.startsWith('SR-'))
  const tag = `E2E${process.pid}`
  const reported = []
  for (const what of ['垃圾桶满溢未清运', '共享单车乱停放', '墙面小广告']) {
    // The first one (closed below) with a before-photo, so its case sheet has both photos.
    const photo = reported.length === 0 ? ['--photo', join(root, 'src-tauri/icons/icon.png')] : []
    const p = cliJson(['problem', 'add', '--category', category.code, '--point', point.id, '--description', `${what} ${tag}`, ...photo])
    reported.push(p.problem ?? p)
  }
  const sync = cli(['sync'])
  assert(/Up: 3 events, 0 already on the server, 0 refused, 0 rejected/.test(sync), `the three reports went up:\n${sync}`)

  const opened = await consoleBrowser(shots)
  browser = opened.browser
  const { ctx, page, shot, byTest } = opened
  const go = (path) => page.goto(`${base}/console${path}`)

  async function signIn(user, password = PASSWORD) {
    await byTest('signin-username').locator('input').fill(user)
    await byTest('signin-password').locator('input').fill(password)
    await byTest('signin-submit').click()
  }
  async function signOut() {
    await byTest('sign-out').click()
    await byTest('signin-submit').waitFor()
  }
  /** Opens a problem's detail and waits for it. */
  async function openProblem(id) {
    await go(`/problems/${id}`)
    await byTest('detail-code').or(byTest('detail-not-found')).first().waitFor()
  }
  async function expectStatus(status) {
    await page.locator(`[data-test="detail-status"][data-status="${status}"]`).waitFor({ timeout: 15000 })
  }
  /** Clicks an action, fills its dialog with `fill`, confirms, waits for the dialog to go. */
  async function act(kind, fill = async () => {}) {
    await byTest(`action-${kind}`).click()
    const dialog = byTest(`dialog-${kind}`)
    await dialog.waitFor()
    await fill(dialog)
    await dialog.locator('[data-test="action-confirm"]').click()
  }
  async function pick(selectTest, optionText, scope = page) {
    await scope.locator(`[data-test="${selectTest}"]`).click()
    await page.locator('.el-select-dropdown__item:visible', { hasText: optionText }).first().click()
  }

  step('sign-in: a wrong password is refused in plain words')
  await go('/')
  await byTest('signin-submit').waitFor()
  await signIn('usr-admin-1', 'not-the-password')
  await byTest('signin-error').waitFor()
  const wrong = await byTest('signin-error').innerText()
  assert(/密码|password/i.test(wrong), `wrong password message: ${wrong}`)
  await shot('01-sign-in')
  await signIn('usr-admin-1')
  await byTest('menu-overview').waitFor()

  step('overview: counts, the per-day chart and the to-do list')
  await go('/overview')
  await byTest('chart-per-day').locator('canvas').first().waitFor()
  await byTest('todo-table').waitFor()
  await shot('02-overview')

  step('ledger: the three reports found by a link that carries the filter')
  await go(`/ledger?q=${tag}`)
  await page.locator('[data-test="ledger-row"]').first().waitFor()
  assert((await page.locator('[data-test="ledger-row"]').count()) === 3, 'three reports in the filtered ledger')
  assert((await byTest('ledger-total').innerText()).includes('3'), 'the total says 3')
  const codeOf = (p) => p.code
  const [a, b, c] = reported
  const row = (p) => page.locator('tr', { has: page.locator(`[data-test="ledger-row"][data-code="${codeOf(p)}"]`) })
  await row(a).locator('.el-checkbox').first().click()
  await row(b).locator('.el-checkbox').first().click()
  await byTest('ledger-selected').waitFor()

  step('bulk: file and dispatch two to a unit, the deadline shown before confirming')
  const unit = units.find((u) => u.id === 'u-s-dj')
  await byTest('bulk-dispatch').click()
  const bulk = byTest('bulk-dispatch-dialog')
  await pick('bulk-unit', unit.name.zh, bulk)
  await bulk.locator('[data-test="deadline-preview"]').waitFor()
  const preview = await bulk.locator('[data-test="deadline-preview"]').innerText()
  assert(/\d{4}|\d+月|\d+-\d+/.test(preview), `deadline shown: ${preview}`)
  await shot('03-ledger-bulk-dispatch')
  await bulk.locator('[data-test="bulk-dispatch-confirm"]').click()
  await byTest('bulk-result').waitFor()
  const result = await byTest('bulk-result').innerText()
  assert(/2/.test(result), `bulk result: ${result}`)
  await byTest('bulk-result-close').click()
  await page.locator(`[data-test="ledger-row"][data-code="${a.code}"][data-status="dispatched"]`).waitFor()
  await go('/ledger')
  await page.locator('[data-test="ledger-row"]').nth(10).waitFor()
  await shot('04-ledger')

  step('detail: reject the third, with the reason')
  await openProblem(c.id)
  await act('reject', async (d) => {
    await d.locator('[data-test="reject-not-problem"]').click()
  })
  await expectStatus('rejected')
  await page.locator('[data-test="timeline-entry"]', { hasText: /不予立案|rejected/ }).first().waitFor()

  step('map: the same filter on the map')
  await go(`/map?q=${tag}`)
  await byTest('map').waitFor()
  await page.locator('.leaflet-marker-icon, .leaflet-interactive').first().waitFor()
  await go('/map')
  await page.locator('.leaflet-marker-icon, .leaflet-interactive').nth(3).waitFor()
  await shot('05-map')
  await signOut()

  step("the unit's handler: another unit's problem by URL is not there for them")
  const admin = await consoleSession(base, 'usr-admin-2', PASSWORD)
  const others = await admin.call('/console/problems?status=dispatched,rectifying&limit=50')
  const foreign = others.rows.find((r) => r.unit_id && r.unit_id !== unit.id)
  assert(foreign, 'the demo city has a problem of another unit')
  await signIn('usr-hdl-1')
  await byTest('menu-overview').waitFor()
  await openProblem(foreign.id)
  await byTest('detail-not-found').waitFor()
  assert((await byTest('detail-code').count()) === 0, 'nothing of the foreign problem is shown')

  step('the handler accepts one and rectifies it with an after-photo from the browser')
  await openProblem(a.id)
  await expectStatus('dispatched')
  await act('accept')
  await expectStatus('rectifying')
  const jpeg = await page.evaluate(() => {
    const cv = document.createElement('canvas')
    cv.width = 800
    cv.height = 600
    const g = cv.getContext('2d')
    g.fillStyle = '#3a7'
    g.fillRect(0, 0, 800, 600)
    g.fillStyle = '#fff'
    g.font = '48px sans-serif'
    g.fillText('整改后 after', 220, 320)
    return cv.toDataURL('image/jpeg', 0.85).split(',')[1]
  })
  await act('rectify', async (d) => {
    await d.locator('[data-test="photo-input"]').setInputFiles({
      name: 'after.jpg',
      mimeType: 'image/jpeg',
      buffer: Buffer.from(jpeg, 'base64'),
    })
    await d.locator('[data-test="uploaded-photo"]').waitFor({ timeout: 20000 })
    await shot('06-rectify-dialog')
    await d.locator('[data-test="action-note"] textarea').fill('已清运，垃圾桶已复位')
  })
  await expectStatus('rectified')
  await page.locator('[data-test="photos-after"] [data-test="photo"]').first().waitFor()

  step('the handler returns the other one, with a reason')
  await openProblem(b.id)
  await act('return', async (d) => {
    await d.locator('[data-test="action-reason"] textarea').fill('非本单位职责，应由城管执法处理')
  })
  await expectStatus('returned')
  await signOut()

  step('the office re-dispatches the returned one')
  await signIn('usr-admin-1')
  await byTest('menu-overview').waitFor()
  await openProblem(b.id)
  await act('dispatch', async (d) => {
    await pick('dispatch-unit', units.find((u) => u.id === 'u-zfj')?.name.zh ?? unit.name.zh, d)
    await d.locator('[data-test="deadline-preview"]').waitFor()
  })
  await expectStatus('dispatched')

  step('an action on a record a colleague changed meanwhile is refused in plain words')
  await openProblem(a.id)
  await expectStatus('rectified')
  const seen = await admin.call(`/console/problems/${a.id}`)
  await admin.call(`/console/problems/${a.id}/actions`, {
    method: 'POST',
    body: { version: seen.version, action: { action: 'verify', passed: true, note: '现场核查通过', photos: [] } },
  })
  await act('verify', async (d) => {
    await d.locator('[data-test="verify-pass"]').click()
  })
  await page.locator('.el-message, .el-notification, [data-test="detail-error"]', { hasText: /已被|changed/ }).first().waitFor()
  await expectStatus('verified')
  await shot('07-detail-changed-meanwhile')

  step('the office closes it; the timeline and photos show the whole case')
  await act('close')
  await expectStatus('closed')
  await byTest('timeline').waitFor()
  assert((await page.locator('[data-test="timeline-entry"]').count()) >= 7, 'the whole history is on the timeline')
  await shot('08-detail-closed')

  step("ranking: the unit's rates")
  await go('/ranking?period=quarter')
  const rankRow = page.locator('[data-test="ranking-row"]', { hasText: unit.name.zh }).first()
  await rankRow.waitFor()
  const rankText = await rankRow.innerText()
  assert(/%/.test(rankText), `the unit's row shows rates: ${rankText}`)
  await byTest('ranking-bar').locator('canvas').first().waitFor()
  await page.waitForTimeout(1000) // the trend's lines draw in
  await shot('09-ranking')

  step('exports: the filtered ledger as Excel, written in the background, downloaded later')
  await go('/ledger?status=closed')
  await byTest('ledger-table').waitFor()
  await byTest('export-button').click()
  await byTest('export-xlsx').click()
  await byTest('exports-page').waitFor()
  await byTest('export-state-done').first().waitFor({ timeout: 60_000 })
  await shot('10-exports')
  const [download] = await Promise.all([page.waitForEvent('download'), byTest('export-download').first().click()])
  const xlsx = readFileSync(await download.path())
  assert(/\.xlsx$/.test(download.suggestedFilename()), `an .xlsx file: ${download.suggestedFilename()}`)
  assert(xlsx.subarray(0, 2).toString() === 'PK' && xlsx.length > 1000, `a real workbook (${xlsx.length} bytes)`)

  step('reports: the closed case as a case sheet, the quarter bulletin, a weekly schedule: PDFs read back by pdftotext')
  /** The newest job on the exports page, once done, downloaded: its path. */
  async function newestDownload(ext) {
    await byTest('exports-page').waitFor()
    const newest = byTest('exports-table').locator('tbody tr').first()
    await newest.locator('[data-test="export-state-done"]').waitFor({ timeout: 120_000 })
    const [dl] = await Promise.all([page.waitForEvent('download'), newest.locator('[data-test="export-download"]').click()])
    assert(dl.suggestedFilename().endsWith(ext), `a ${ext} file: ${dl.suggestedFilename()}`)
    const path = join(dir, dl.suggestedFilename())
    await dl.saveAs(path)
    return path
  }
  const readPdf = (path) => execFileSync('pdftotext', ['-layout', path, '-'], { encoding: 'utf8' })
  await openProblem(a.id)
  await byTest('detail-case-sheet').click()
  const sheetPdf = await newestDownload('.pdf')
  const sheet = readPdf(sheetPdf)
  assert(sheet.includes('整改通知单') && sheet.includes(a.code) && sheet.includes(unit.name.zh), `the case sheet names the problem and its unit: ${sheet}`)
  const sheetImages = execFileSync('pdfimages', ['-list', sheetPdf], { encoding: 'utf8' })
  assert(sheetImages.trim().split('\n').length >= 4, `the before and after photos are on the sheet: ${sheetImages}`)
  await go('/ranking?period=quarter')
  await rankRow.waitFor()
  await byTest('ranking-bulletin').click()
  const bulletinPdf = await newestDownload('.pdf')
  const bulletin = readPdf(bulletinPdf)
  assert(bulletin.includes('结案率') && bulletin.includes(unit.name.zh), `the bulletin ranks the unit: ${bulletin}`)
  // The bulletin's first page as an image, for the docs (docs/screenshots/console/ with FIELDCHECK_SCREENSHOTS).
  execFileSync('pdftoppm', ['-png', '-r', '80', '-f', '1', '-l', '1', '-singlefile', bulletinPdf, join(shots, '10b-bulletin-pdf')])
  await byTest('schedule-period').click()
  await page.locator('.el-select-dropdown__item:visible', { hasText: '每周' }).first().click()
  await byTest('schedule-add').click()
  await byTest('schedules-table').locator('tbody tr').first().waitFor()
  const scheduled = readPdf(await newestDownload('.pdf'))
  assert(scheduled.includes('周通报'), `a new weekly schedule queues last week's bulletin at once: ${scheduled.slice(0, 400)}`)
  await shot('10c-reports')

  step('mock evaluation: a round drawn for today, shared between two inspectors who cover the city, its results printable')
  await go('/rounds')
  await byTest('rounds-page').waitFor()
  await byTest('round-new').click()
  const roundDialog = byTest('round-dialog')
  await roundDialog.locator('[data-test="round-name"]').waitFor()
  await roundDialog.locator('[data-test="round-name"]').fill('12月模拟测评 e2e')
  await roundDialog.locator('[data-test="round-seed"]').fill('e2e-seed')
  await roundDialog.locator('[data-test="round-quota"] .el-select').first().click()
  await page.locator('.el-select-dropdown__item:visible').first().click()
  await byTest('round-inspectors').click()
  for (const name of ['郑丽娟', '刘思远']) {
    await page.locator('.el-select-dropdown__item:visible', { hasText: name }).first().click()
  }
  await roundDialog.locator('[data-test="round-name"]').click()
  await byTest('round-create').click()
  await byTest('round-title').waitFor({ timeout: 15000 })
  assert((await byTest('round-title').innerText()).includes('12月模拟测评 e2e'), 'the new round is shown')
  const roundRows = await byTest('round-points').locator('tbody tr').count()
  assert(roundRows === 1, `one point drawn for a quota of one: ${roundRows}`)
  const assignedTo = await byTest('round-points').locator('tbody tr').first().innerText()
  assert(/郑丽娟|刘思远/.test(assignedTo), `the point is one of the two inspectors': ${assignedTo}`)
  await byTest('round-tab-results').click()
  await byTest('round-overall').waitFor()
  assert((await byTest('round-previous').innerText()).includes('没有上一轮'), 'the first round has nothing to compare with')
  await shot('10d-rounds')

  step('setup: an import with an error changes nothing; a good one adds a community')
  assert((await byTest('menu-setup').count()) === 1, 'the office sees the setup menu')
  await go('/setup/import')
  await byTest('setup-import-page').waitFor()
  const badCsv = join(dir, 'bad', '区域.csv')
  mkdirSync(join(dir, 'bad'), { recursive: true })
  writeFileSync(badCsv, '编号,名称,层级,上级编号\ne2e-c1,试点社区,社区,nowhere\n')
  await page.setInputFiles('[data-test="import-file"]', badCsv)
  await byTest('import-errors').locator('tbody tr').first().waitFor()
  const errRow = await byTest('import-errors').locator('tbody tr').first().innerText()
  assert(/区域/.test(errRow) && /2/.test(errRow) && /上级编号/.test(errRow), `the error names its sheet, row and column: ${errRow}`)
  assert(await byTest('import-apply').isDisabled(), 'a file with errors cannot be applied')
  await shot('11-setup-import-errors')
  const goodCsv = join(dir, '区域.csv')
  writeFileSync(goodCsv, '编号,名称,层级,上级编号\ne2e-c1,试点社区,社区,s-dj\n')
  await page.setInputFiles('[data-test="import-file"]', goodCsv)
  await byTest('added-districts').filter({ hasText: '1' }).waitFor()
  await byTest('import-apply').click()
  await page.locator('.el-message--success').waitFor()

  step('setup: points: filter, add one with a pin on the map, move it, the device sees it; deactivate it')
  await go('/setup/points')
  await byTest('points-table').locator('tbody tr').first().waitFor()
  assert((await byTest('points-total').innerText()).includes(String(points.length)), 'every demo point counted')
  await byTest('points-filter-q').fill(point.name.slice(0, 4))
  await byTest('points-search').click()
  await byTest(`point-state-${point.id}`).waitFor()
  const community = districts.find((d) => d.id === point.district_id)
  await byTest('point-add').click()
  await byTest('point-form-name').fill('测试新增农贸市场')
  await byTest('point-form-district').first().click()
  await page.keyboard.type(community.name.zh ?? community.name)
  await page.locator('.el-tree-node .el-select-dropdown__item:visible', { hasText: community.name.zh ?? community.name }).last().click()
  await byTest('point-form-address').fill('测试路 8 号')
  const latBox = byTest('point-form-lat').locator('input')
  const before = await latBox.inputValue()
  await byTest('point-picker').locator('.leaflet-container').click({ position: { x: 120, y: 90 } })
  await page.waitForFunction((b) => document.querySelector('[data-test="point-form-lat"] input')?.value !== b, before)
  const picked = Number(await latBox.inputValue())
  assert(Math.abs(picked - Number(before)) > 1e-6 && Math.abs(picked - point.location.lat) < 0.5, `the pin moved the latitude: ${before} -> ${picked}`)
  await shot('16-setup-point-editor')
  await byTest('point-form-save').click()
  await page.locator('.el-message--success').waitFor()
  await byTest('points-filter-q').fill('测试新增')
  await byTest('points-search').click()
  await byTest('points-table').locator('tbody tr', { hasText: '测试新增农贸市场' }).waitFor()
  const newId = (await byTest('points-table').locator('tbody tr').first().locator('td').first().innerText()).trim()
  assert(/^p-\d{4}$/.test(newId), `the next free code: ${newId}`)
  await byTest(`point-edit-${newId}`).click()
  await latBox.fill(point.location.lat.toFixed(6))
  await latBox.press('Enter')
  await byTest('point-form-save').click()
  await page.locator('.el-message--success').last().waitFor()
  cli(['sync'])
  const onDevice = cliJson(['points']).map((r) => r.point).find((p) => p.id === newId)
  assert(onDevice && Math.abs(onDevice.location.lat - point.location.lat) < 1e-6, `the device has the moved point: ${JSON.stringify(onDevice)}`)
  await byTest(`point-deactivate-${newId}`).click()
  await page.locator('.el-message-box__btns .el-button--primary').click()
  await byTest(`point-state-${newId}`).filter({ hasText: '已停用' }).waitFor()
  cli(['sync'])
  assert(!cliJson(['points']).some((r) => r.point.id === newId), 'a deactivated point is off the device list')
  await byTest('points-filter-q').fill('')
  await byTest('points-search').click()
  await byTest('points-view-map').click()
  await page.locator('.fc-point, .fc-point-cluster').first().waitFor()
  await shot('17-setup-points-map')

  step("setup: a category's deadline rule and next year's holidays")
  await go('/setup/categories')
  await byTest('categories-table').locator('tbody tr').first().waitFor()
  const rule = byTest(`deadline-amount-${category.code}`).locator('input')
  await rule.fill(String(category.deadline.amount + 1))
  await rule.press('Tab')
  await byTest(`deadline-save-${category.code}`).click()
  await page.locator('.el-message--success').last().waitFor()
  await shot('18-setup-categories')
  await go('/setup/calendar')
  await byTest('calendar-weekdays').waitFor()
  const nextYear = new Date().getFullYear() + 1
  await byTest(`calendar-year-${nextYear}`).click()
  await byTest('calendar-holidays').locator('input').click()
  const day = (n) => page.locator('.el-picker-panel:visible .el-date-table td.available .el-date-table-cell__text').filter({ hasText: new RegExp(`^\\s*${n}\\s*$`) }).first()
  for (const n of [1, 2, 3]) await day(n).click()
  await page.keyboard.press('Escape')
  await byTest('calendar-save').click()
  await page.locator('.el-message--success').last().waitFor()
  await shot('19-setup-calendar')
  const stored = await page.evaluate(async () => (await fetch('/api/v1/console/setup/calendar', { headers: { 'x-fieldcheck-protocol': '1' } })).json())
  for (const n of ['01', '02', '03']) assert(stored.calendar.holidays.includes(`${nextYear}-01-${n}`), `holiday ${nextYear}-01-${n} stored: ${stored.calendar.holidays}`)
  // The evidence stamp is switched city-wide here: off, stored, then on again for the rest.
  assert(stored.calendar.photo_stamp === true, 'photos are stamped by default')
  for (const want of [false, true]) {
    await byTest('calendar-photo-stamp').click()
    // Wait for this save's answer: the previous save's message may still be showing.
    const saved = page.waitForResponse((r) => r.url().endsWith('/api/v1/console/setup/calendar') && r.request().method() !== 'GET')
    await byTest('calendar-save').click()
    assert((await saved).ok(), 'the calendar saved')
    const cal = await page.evaluate(async () => (await fetch('/api/v1/console/setup/calendar', { headers: { 'x-fieldcheck-protocol': '1' } })).json())
    assert(cal.calendar.photo_stamp === want, `photo stamp stored as ${want}: ${cal.calendar.photo_stamp}`)
  }
  cli(['sync'])
  const onDeviceRule = cliJson(['categories']).find((c) => c.code === category.code)?.deadline
  assert(onDeviceRule?.amount === category.deadline.amount + 1, `the device has the new deadline rule: ${JSON.stringify(onDeviceRule)}`)

  step('setup: the checklist templates, every version, item by item')
  await go('/setup/templates')
  await byTest('template-items').locator('tbody tr').first().waitFor()
  const templates = readdirSync(join(root, 'data/templates')).map((f) => json(`data/templates/${f}`))
  // The server's order: by id (bytes), newest version first.
  const first = templates.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : b.version - a.version))[0]
  assert((await byTest('template-items').locator('tbody tr').count()) === first.items.length, `every item of ${first.id}`)
  assert((await byTest('template-total').innerText()).includes(String(first.items.length)), 'the item count shown')
  await shot('24-setup-templates')

  step('setup: add a user, issue an enrollment code with its QR code, disable the user')
  await go('/setup/users')
  await byTest('users-table').locator('tbody tr').first().waitFor()
  await byTest('user-add').click()
  await byTest('user-form-id').fill('e2e-insp')
  await byTest('user-form-name').fill('测试巡查员')
  await byTest('user-form-password').fill('a long password')
  await byTest('user-form-save').click()
  await byTest('user-state-e2e-insp').waitFor()
  await byTest('user-code-e2e-insp').click()
  await byTest('enroll-code').locator('img').waitFor()
  const enrollText = (await byTest('enroll-code-text').innerText()).trim()
  assert(enrollText.length >= 6, `an enrollment code: ${enrollText}`)
  await shot('12-setup-enroll-code')
  await page.keyboard.press('Escape')
  await byTest('enroll-code').waitFor({ state: 'hidden' })
  await byTest('user-disable-e2e-insp').click()
  await page.locator('.el-message-box__btns .el-button--primary').click()
  await byTest('user-state-e2e-insp').filter({ hasText: '已停用' }).waitFor()
  await shot('13-setup-users')

  step('setup: every change is in the audit log')
  await go('/setup/audit')
  await byTest('audit-table').locator('tbody tr').first().waitFor()
  const audit = await byTest('audit-table').innerText()
  for (const words of ['导入基础数据', '新增点位', '修改点位', '停用点位', '修改整改时限', '修改工作日历', '新增用户', '签发注册码', '停用用户']) assert(audit.includes(words), `the audit shows ${words}: ${audit.slice(0, 400)}`)
  await shot('14-setup-audit')

  step('setup: QR cards for a team, one code each, on A4 (a user disabled meanwhile is named)')
  await go('/setup/users')
  await byTest('users-table').locator('tbody tr').first().waitFor()
  const userRow = (id) => byTest('users-table').locator('tr', { has: byTest(`user-state-${id}`) })
  const tick = (id) => userRow(id).locator('.el-table-column--selection .el-checkbox')
  assert(await tick('e2e-insp').locator('input').isDisabled(), 'a disabled user cannot be ticked')
  const wrap = byTest('users-table').locator('.el-scrollbar__wrap').first()
  assert(await wrap.evaluate((w) => w.scrollWidth <= w.clientWidth), 'the users table with its tick boxes fits 1440 px')
  const team = ['usr-hdl-1', 'usr-hdl-2', 'usr-insp-2']
  for (const id of [...team, 'usr-insp-3']) await tick(id).click()
  await byTest('users-selected').filter({ hasText: '4' }).waitFor()
  await admin.call('/console/setup/users/usr-insp-3/disable', { method: 'POST' })
  await byTest('user-cards').click()
  const failed = page.locator('.el-message--error', { hasText: 'usr-insp-3' })
  await failed.waitFor()
  assert((await failed.innerText()).includes('王建华'), `the failure names the user: ${await failed.innerText()}`)
  await byTest('setup-cards-page').waitFor()
  const card = byTest('enroll-card')
  await card.nth(2).waitFor()
  assert((await card.count()) === 3, `three cards: ${await card.count()}`)
  const demoUsers = json('data/demo/users.json')
  const roleZh = { admin: '创城办', inspector: '巡查员', unit_handler: '责任单位', volunteer: '志愿者' }
  const sevenDays = Date.now() + 7 * 86_400_000
  const printed = []
  for (const [i, id] of team.entries()) {
    const u = demoUsers.find((x) => x.id === id)
    const cardI = card.nth(i)
    assert((await cardI.getAttribute('data-user')) === id, `card ${i} is ${id}'s, in the table's order`)
    const text = await cardI.innerText()
    assert(text.includes(u.name) && text.includes(roleZh[u.role]), `the card names ${u.name}, ${roleZh[u.role]}: ${text}`)
    if (u.unit_id) assert(text.includes(units.find((x) => x.id === u.unit_id).name.zh), `the card names ${id}'s unit: ${text}`)
    assert(text.includes('用创文巡查 App 扫码登记设备'), `the card says what to do: ${text}`)
    const expires = (await cardI.locator('[data-test="card-expires"]').innerText()).match(/有效期至 (\d{4}-\d\d-\d\d \d\d:\d\d)/)
    assert(expires, `an expiry on ${id}'s card: ${text}`)
    const expiresMs = Date.parse(`${expires[1].replace(' ', 'T')}:00+08:00`)
    assert(Math.abs(expiresMs - sevenDays) < 3_600_000, `${id}'s code lasts the default 7 days: ${expires[1]}`)
    const codeText = (await cardI.locator('[data-test="card-code"]').innerText()).trim()
    // The QR image as a phone's camera would read it: drawn, then decoded.
    const size = 320
    const pixels = await cardI.locator('[data-test="card-qr"]').evaluate(async (img, size) => {
      const im = new Image()
      im.src = img.src
      await im.decode()
      const cv = document.createElement('canvas')
      cv.width = size
      cv.height = size
      const g = cv.getContext('2d')
      g.fillStyle = '#fff'
      g.fillRect(0, 0, size, size)
      g.drawImage(im, 0, 0, size, size)
      return Array.from(g.getImageData(0, 0, size, size).data)
    }, size)
    const qr = jsQR(Uint8ClampedArray.from(pixels), size, size)
    const uri = qr?.data.match(/^fieldcheck:\/\/enroll\?server=(http[^&]+)&code=(.+)$/)
    assert(uri && decodeURIComponent(uri[2]) === codeText, `${id}'s QR holds the code on the card (${codeText}): ${qr?.data}`)
    printed.push({ name: u.name, code: codeText })
  }
  assert(new Set(printed.map((p) => p.code)).size === 3, 'a code of its own on each card')
  await page.locator('.el-message__closeBtn').first().click()
  await failed.waitFor({ state: 'hidden' })
  await shot('15-setup-cards')
  await page.emulateMedia({ media: 'print' })
  for (const t of ['menu-overview', 'brand', 'user-name', 'cards-print']) assert(await byTest(t).isHidden(), `${t} is not printed`)
  assert(await card.nth(2).isVisible(), 'the cards are printed')
  const pdf = join(shots, '15-setup-cards.pdf')
  await page.pdf({ path: pdf, preferCSSPageSize: true })
  await page.emulateMedia({ media: null })
  const pdfInfo = execFileSync('pdfinfo', [pdf], { encoding: 'utf8' })
  assert(/^Pages:\s+1$/m.test(pdfInfo), `three cards on one page: ${pdfInfo}`)
  assert(/^Page size:.*\(A4\)$/m.test(pdfInfo), `an A4 page: ${pdfInfo}`)
  const pdfText = execFileSync('pdftotext', ['-layout', pdf, '-'], { encoding: 'utf8' })
  for (const p of printed) assert(pdfText.includes(p.name) && pdfText.includes(p.code), `the PDF has ${p.name}'s card: ${pdfText}`)
  assert(!pdfText.includes('退出登录'), `the PDF has the cards alone: ${pdfText}`)

  step('a session ended elsewhere sends the page to sign in')
  const cookies = await ctx.cookies()
  const mineCookie = cookies.find((k) => k.name === 'fieldcheck_console')
  const who = await (
    await fetch(`${base}/api/v1/console/session`, {
      headers: { 'x-fieldcheck-protocol': '1', cookie: `${mineCookie.name}=${mineCookie.value}` },
    })
  ).json()
  const ended = await fetch(`${base}/api/v1/console/session`, {
    method: 'DELETE',
    headers: {
      'x-fieldcheck-protocol': '1',
      origin: base,
      cookie: `${mineCookie.name}=${mineCookie.value}`,
      'x-csrf-token': who.csrf_token,
    },
  })
  assert(ended.status === 204, `sign-out elsewhere: ${ended.status}`)
  await byTest('menu-ledger').click()
  await byTest('signin-submit').waitFor()
  assert(page.url().includes('/signin'), `on the sign-in page: ${page.url()}`)

  step("the device syncs: the closed status and the office's events in its history")
  cli(['sync'])
  const detail = cliJson(['show', a.id])
  assert(detail.problem.status === 'closed', `device status: ${detail.problem.status}`)
  const kinds = detail.history.map((h) => `${h.event.kind}:${h.event.actor}`)
  for (const k of ['problem.filed:usr-admin-1', 'problem.dispatched:usr-admin-1', 'problem.rectified:usr-hdl-1', 'problem.closed:usr-admin-1']) {
    assert(kinds.includes(k), `device history has ${k}: ${kinds.join(', ')}`)
  }
  assert(detail.history.some((h) => h.event.device === 'console'), 'events authored in the console')
  console.log(`console e2e on ${backend}: ok`)
} finally {
  await tearDown(browser, children, dir)
}
