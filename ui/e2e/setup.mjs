// Setting up a new city end to end (issue 15): a fresh `fieldcheck-server serve` with no demo
// data — on SQLite, or on PostgreSQL in a schema of its own when FIELDCHECK_CONSOLE_PG names a
// database URL — whose only account is the first admin, made by `fieldcheck-server user add`
// (an import never makes admins); the built console (ui/dist-console) in Debian's Chromium at
// 1440 × 900, and a `fieldcheck` CLI device:
//
//   the admin uploads a workbook (made here with exceljs, as an office would save it from
//   Excel) with five deliberate errors of different kinds on four sheets: each is listed with
//   its sheet, row and column, it cannot be applied, and nothing changed on the server; then a
//   two-district city of 500 points, 40 units and 60 users, previewed and applied; a new
//   inspector is added in the console, their enrollment code (with its QR code) enrolls a CLI
//   device, whose sync brings every new point; the user is disabled in the console and the
//   device's next sync is refused with the code user_disabled, its data kept.
//
// Screenshots go to ui/test-results/screenshots/console/ (FIELDCHECK_SCREENSHOTS
// =../docs/screenshots refreshes docs/screenshots/console/). Needs `cargo build -p
// fieldcheck-server -p fieldcheck-cli` and `npm run build`.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ExcelJS from 'exceljs'
import { assert, consoleBrowser, consoleSession, root, screenshotDir, serverBin, startProcess, step, tearDown } from './procs.mjs'

const started = Date.now()
const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, 'target')
const cliBin = process.env.FIELDCHECK_CLI_BIN ?? join(targetDir, 'debug/fieldcheck')
const pg = process.env.FIELDCHECK_CONSOLE_PG ?? ''
const backend = pg ? 'postgres' : 'sqlite'
const ADMIN = 'city-admin'
const ADMIN_PASSWORD = 'first admin of the city'
const shots = join(screenshotDir(), 'console')
mkdirSync(shots, { recursive: true })
const dir = mkdtempSync(join(tmpdir(), `fieldcheck-setup-${backend}-`))
const schema = `e2e_setup_${process.pid}`
const children = []
let browser

// `serve` has no schema option: the schema rides in the URL as a connection option, which the
// setup subcommands, the server and psql all honour.
const databaseUrl = pg
  ? `${pg}${pg.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`
  : `sqlite://${join(dir, 'server')}/fieldcheck.db`

/** The server's environment: this run's database and directories, nothing inherited. */
const serverEnv = () => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FIELDCHECK_')))
  return {
    ...env,
    FIELDCHECK_DATABASE_URL: databaseUrl,
    FIELDCHECK_BLOB_DIR: join(dir, 'server/blobs'),
    FIELDCHECK_BIND: '127.0.0.1:0',
    FIELDCHECK_CONSOLE_DIR: join(root, 'ui/dist-console'),
    FIELDCHECK_LOG_FORMAT: 'text',
  }
}

function psql(sql) {
  execFileSync('psql', [pg, '-v', 'ON_ERROR_STOP=1', '-Atqc', sql], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'], // DROP … CASCADE lists every table it drops
    env: { ...process.env, PGCONNECT_TIMEOUT: '5' },
  })
}

/** The device CLI: its exit status and both outputs (a refusal is an outcome, not a throw). */
function cliRun(args) {
  const r = spawnSync(cliBin, ['--db', join(dir, 'device.sqlite3'), '--lang', 'en', ...args], { encoding: 'utf8' })
  if (r.error) throw r.error
  return r
}
function cli(args) {
  const r = cliRun(args)
  assert(r.status === 0, `fieldcheck ${args.join(' ')}: exit ${r.status}\n${r.stdout}${r.stderr}`)
  return r.stdout
}
const cliJson = (args) => JSON.parse(cli(['--json', ...args]))

// ---------------------------------------------------------------------------------------
// The workbooks: sheets and column titles as the office's template has them (fieldcheck-refdata
// kinds.rs), the same city as crates/fieldcheck-server/tests/console_setup.rs `city()`.

const DISTRICT_COLS = ['编号', '名称', '层级', '上级编号', '编号前缀']
const UNIT_COLS = ['编号', '名称', '类型', '所属区域']
const POINT_COLS = ['编号', '名称', '类型', '纬度', '经度', '所属区域', '属地单位', '行业单位']
const USER_COLS = ['编号', '姓名', '角色', '所属单位', '负责区域', '电话']
const pad = (n, w) => String(n).padStart(w, '0')

/** 鼓楼 and 台江, two streets each, two communities per street; units, points, users over them. */
function city(points, units, users) {
  const districts = []
  const communities = []
  for (const [d, zh, prefix] of [
    ['cd-gl', '鼓楼区', 'GL'],
    ['cd-tj', '台江区', 'TJ'],
  ]) {
    districts.push([d, zh, '区', '', prefix])
    for (let st = 1; st <= 2; st++) {
      const sid = `${d}-s${st}`
      districts.push([sid, `${zh}第${st}街道`, '街道', d, ''])
      for (let c = 1; c <= 2; c++) {
        const cid = `${sid}-c${c}`
        districts.push([cid, `${zh}${st}街${c}社区`, '社区', sid, ''])
        communities.push(cid)
      }
    }
  }
  const unitRows = Array.from({ length: units }, (_, i) => [
    `cu-${pad(i, 3)}`,
    `单位${i}`,
    i % 2 === 0 ? '社区居委会' : '交警大队',
    communities[i % communities.length],
  ])
  // Coordinates as numbers, as Excel keeps them.
  const pointRows = Array.from({ length: points }, (_, i) => [
    `cp-${pad(i, 5)}`,
    `点位${i}`,
    i % 3 === 0 ? '背街小巷' : '主干道',
    Number((26 + (i % 100) * 0.001).toFixed(6)),
    Number((119.2 + Math.floor(i / 100) * 0.001).toFixed(6)),
    communities[i % communities.length],
    `cu-${pad((i * 2) % units, 3)}`,
    `cu-${pad((i * 2 + 1) % units, 3)}`,
  ])
  const userRows = Array.from({ length: users }, (_, i) => {
    const [role, unit] = [
      ['巡查员', ''],
      ['责任单位', `cu-${pad(i % units, 3)}`],
      ['志愿者', ''],
    ][i % 3]
    return [`cusr-${pad(i, 3)}`, `用户${i}`, role, unit, i % 2 === 0 ? 'cd-gl' : 'cd-tj', `1380000${pad(i, 4)}`]
  })
  return [
    { name: '区域', columns: DISTRICT_COLS, rows: districts },
    { name: '单位', columns: UNIT_COLS, rows: unitRows },
    { name: '点位', columns: POINT_COLS, rows: pointRows },
    { name: '用户', columns: USER_COLS, rows: userRows },
  ]
}

async function writeWorkbook(path, sheets) {
  const wb = new ExcelJS.Workbook()
  for (const s of sheets) {
    const ws = wb.addWorksheet(s.name)
    ws.addRow(s.columns)
    // An empty value is an empty cell; every other value keeps its type (text stays text, so
    // "=HYPERLINK(…)" is a string that looks like a formula, not a formula).
    for (const row of s.rows) ws.addRow(row.map((v) => (v === '' ? null : v)))
  }
  writeFileSync(path, Buffer.from(await wb.xlsx.writeBuffer()))
}

const POINTS = 500
const UNITS = 40
const USERS = 60
const good = city(POINTS, UNITS, USERS)
const bad = structuredClone(good)
// Five mistakes an office makes, each on its own row; spreadsheet rows count the header as 1.
// 区域 row 5: a name that a spreadsheet would run as a formula.
bad[0].rows[3][1] = '=HYPERLINK("http://example.invalid","鼓楼区1街2社区")'
// 单位 row 3: a district that does not exist.
bad[1].rows[1][3] = 'nowhere'
// 点位 row 4: a latitude off the globe.
bad[2].rows[2][3] = 200
// 点位 row 6: the id of row 5 again.
bad[2].rows[4][0] = bad[2].rows[3][0]
// 用户 row 3: a unit handler of a unit that does not exist.
bad[3].rows[1][3] = 'cu-999'
const FIVE_ERRORS = [
  { sheet: '区域', row: '5', column: '名称', says: /HYPERLINK/ },
  { sheet: '单位', row: '3', column: '所属区域', says: /nowhere/ },
  { sheet: '点位', row: '4', column: '纬度', says: /200/ },
  { sheet: '点位', row: '6', column: '编号', says: /cp-00003/ },
  { sheet: '用户', row: '3', column: '所属单位', says: /cu-999/ },
]

// ---------------------------------------------------------------------------------------

/** What the server holds: the reference lists, the users and the audited changes. */
async function holdings(api) {
  const ref = await api.call('/console/reference')
  const users = await api.call('/console/setup/users')
  const audit = await api.call('/console/setup/audit?limit=100')
  return { ref, users, audit }
}

try {
  console.log(`setup e2e on ${backend}`)
  if (pg) {
    step(`PostgreSQL: a schema of this run's own (${schema})`)
    psql(`CREATE SCHEMA ${schema}`)
  } else {
    mkdirSync(join(dir, 'server'), { recursive: true })
  }

  step('the first admin, made by the server subcommand on an empty database')
  const add = spawnSync(
    serverBin,
    ['user', 'add', ADMIN, '--name', '市创文办管理员', '--role', 'admin', '--password', ADMIN_PASSWORD, '--actor', 'installer'],
    { encoding: 'utf8', env: serverEnv() },
  )
  assert(add.status === 0, `user add: exit ${add.status}\n${add.stdout}${add.stderr}`)
  assert(add.stdout.includes(`added ${ADMIN}`), `user add said: ${add.stdout}`)

  step('fieldcheck-server serve, with no demo data')
  const { child, m } = await startProcess(serverBin, ['serve'], /listening on (http:\/\/[\d.:]+)/, 'server', { env: serverEnv() })
  children.push(child)
  const base = m[1]
  const api = await consoleSession(base, ADMIN, ADMIN_PASSWORD)
  const empty = await holdings(api)
  assert(empty.ref.points.length === 0 && empty.ref.units.length === 0 && empty.ref.districts.length === 0, 'no demo city')
  assert(empty.users.length === 1 && empty.users[0].id === ADMIN && empty.users[0].role === 'admin', `only the admin: ${JSON.stringify(empty.users)}`)

  const badFile = join(dir, 'city-five-errors.xlsx')
  const goodFile = join(dir, 'city.xlsx')
  await writeWorkbook(badFile, bad)
  await writeWorkbook(goodFile, good)

  const opened = await consoleBrowser(shots)
  browser = opened.browser
  const { page, shot, byTest } = opened

  step('the admin signs in and opens 城市设置 → 导入数据')
  await page.goto(`${base}/console/`)
  await byTest('signin-username').locator('input').fill(ADMIN)
  await byTest('signin-password').locator('input').fill(ADMIN_PASSWORD)
  await byTest('signin-submit').click()
  await byTest('menu-setup').click()
  await byTest('menu-setup-import').click()
  await byTest('setup-import-page').waitFor()

  step('a workbook with five errors: each listed by sheet, row and column; it cannot be applied')
  await page.setInputFiles('[data-test="import-file"]', badFile)
  const errorRows = byTest('import-errors').locator('tbody tr')
  await errorRows.first().waitFor()
  const listed = []
  for (const tr of await errorRows.all()) {
    const [sheet, row, column, message] = (await tr.locator('td').allInnerTexts()).map((t) => t.trim())
    listed.push({ sheet, row, column, message })
  }
  assert(listed.length === 5, `five errors listed, got ${listed.length}: ${JSON.stringify(listed)}`)
  for (const want of FIVE_ERRORS) {
    const hit = listed.find((e) => e.sheet === want.sheet && e.row === want.row && e.column === want.column)
    assert(hit, `an error at ${want.sheet} row ${want.row} column ${want.column}: ${JSON.stringify(listed)}`)
    assert(want.says.test(hit.message), `the error at ${want.sheet} row ${want.row} says what is wrong: ${hit.message}`)
  }
  assert((await byTest('import-errors-title').innerText()).includes('5'), 'the title counts five errors')
  assert(await byTest('import-apply').isDisabled(), 'a file with errors cannot be applied')
  await shot('20-setup-import-five-errors')

  step('nothing changed, and the server refuses the file even when sent past the page')
  const forced = await api.send('/console/setup/import/apply?filename=city-five-errors.xlsx', {
    method: 'POST',
    body: readFileSync(badFile),
    type: 'application/octet-stream',
  })
  assert(forced.status === 422, `apply of the bad file: ${forced.status}`)
  const refusal = await forced.json()
  assert(refusal.code === 'import_invalid' && refusal.errors.length === 5, `refusal: ${JSON.stringify(refusal).slice(0, 300)}`)
  const after = await holdings(api)
  assert(JSON.stringify(after.ref) === JSON.stringify(empty.ref), 'the reference data is as it was')
  assert(JSON.stringify(after.users) === JSON.stringify(empty.users), 'the users are as they were')
  assert(!after.audit.entries.some((e) => e.action === 'reference.import'), 'no import in the audit')

  step('the two-district city: 500 points, 40 units, 60 users previewed, then applied')
  await page.setInputFiles('[data-test="import-file"]', goodFile)
  await byTest('added-points').filter({ hasText: String(POINTS) }).waitFor()
  const added = async (kind) => Number((await byTest(`added-${kind}`).innerText()).trim())
  assert((await added('districts')) === 14, 'two districts, four streets, eight communities')
  assert((await added('units')) === UNITS, `${UNITS} units added`)
  assert((await added('users')) === USERS, `${USERS} users added`)
  assert((await byTest('import-errors').count()) === 0, 'no errors')
  assert(!(await byTest('import-apply').isDisabled()), 'it can be applied')
  // The preview is the screen worth keeping: applying clears it, leaving the success message.
  await shot('21-setup-import-city')
  await byTest('import-apply').click()
  const applied = page.locator('.el-message--success')
  await applied.waitFor()
  assert(/已应用/.test(await applied.innerText()), `applied: ${await applied.innerText()}`)
  const imported = await holdings(api)
  assert(imported.ref.points.length === POINTS, `${POINTS} active points: ${imported.ref.points.length}`)
  assert(imported.ref.units.length === UNITS, `${UNITS} units: ${imported.ref.units.length}`)
  assert(imported.ref.districts.length === 14, `14 districts: ${imported.ref.districts.length}`)
  const live = imported.users.filter((u) => !u.removed && !u.disabled)
  assert(live.length === USERS + 1, `${USERS} users and the admin: ${live.length}`)
  assert(live.some((u) => u.id === ADMIN && u.role === 'admin'), 'the admin is kept')

  step('用户与设备: a new inspector for 鼓楼区, with a password')
  const USER = 'wang-xc'
  await byTest('menu-setup-users').click()
  await byTest('users-table').locator('tbody tr').nth(USERS).waitFor()
  await byTest('user-add').click()
  const form = page.locator('.el-dialog', { has: byTest('user-form') })
  await form.waitFor()
  await byTest('user-form-id').fill(USER)
  await byTest('user-form-name').fill('王巡查')
  // The role stays the form's default: inspector (巡查员).
  assert((await byTest('user-form-role').innerText()).includes('巡查员'), 'an inspector by default')
  await form.locator('.el-form-item', { hasText: '负责区域' }).locator('.el-select').click()
  await page.locator('.el-tree-node__content:visible', { hasText: /^鼓楼区$/ }).click()
  await form.locator('.el-dialog__header').click() // closes the tree's dropdown
  await byTest('user-form-password').fill('a long password')
  await byTest('user-form-save').click()
  await byTest(`user-state-${USER}`).waitFor()
  const userRow = page.locator('tr', { has: byTest(`user-state-${USER}`) })
  assert((await userRow.innerText()).includes('鼓楼区'), `the new user's districts: ${await userRow.innerText()}`)
  const wang = (await api.call('/console/setup/users')).find((u) => u.id === USER)
  assert(wang.role === 'inspector' && wang.has_password && JSON.stringify(wang.district_ids) === '["cd-gl"]', `stored: ${JSON.stringify(wang)}`)

  step('an enrollment code with its QR code, issued in the browser')
  await byTest(`user-code-${USER}`).click()
  await byTest('enroll-code').locator('img').waitFor()
  const qr = await byTest('enroll-code').locator('img').getAttribute('src')
  assert(qr.startsWith('data:image/svg+xml') && qr.includes('svg'), 'the QR code is an image')
  const code = (await byTest('enroll-code-text').innerText()).trim()
  assert(code.length >= 6, `an enrollment code: ${code}`)
  await shot('22-setup-enroll-code')
  await page.keyboard.press('Escape')
  await byTest('enroll-code').waitFor({ state: 'hidden' })

  step('a fieldcheck CLI device enrolls with the code; its sync brings every new point')
  const enrolled = cli(['enroll', '--server', base, '--code', code, '--name', '王巡查的手机'])
  assert(enrolled.includes(USER), `enrolled as the new user: ${enrolled}`)
  cli(['sync'])
  const seen = cliJson(['points'])
  // Devices hold the whole city's points (scope is enforced on what they report).
  assert(seen.length === POINTS, `the device sees ${POINTS} points: ${seen.length}`)
  assert(seen.every((r) => /^cp-\d{5}$/.test(r.point.id)), 'the imported points')
  const inGulou = good[2].rows.filter((r) => r[5].startsWith('cd-gl-')).length
  assert(cliJson(['points', '--district', 'cd-gl']).length === inGulou, `${inGulou} of them in 鼓楼区`)
  const synced = (await api.call('/console/setup/users')).find((u) => u.id === USER)
  assert(synced.devices.length === 1 && synced.devices[0].last_sync_ms, `the office sees the device: ${JSON.stringify(synced.devices)}`)

  step('disabled in the browser (confirmed): the next sync is refused with user_disabled')
  await page.reload()
  await byTest(`user-disable-${USER}`).click()
  await page.locator('.el-message-box__btns .el-button--primary').click()
  await byTest(`user-state-${USER}`).filter({ hasText: '已停用' }).waitFor()
  await page.locator('tr', { has: byTest(`user-state-${USER}`) }).locator('.el-table__expand-icon').click()
  await page.locator('.devices', { hasText: '王巡查的手机' }).waitFor()
  await shot('23-setup-user-disabled')
  const refused = cliRun(['sync'])
  const said = `${refused.stdout}${refused.stderr}`
  assert(refused.status !== 0, `the sync fails: exit ${refused.status}\n${said}`)
  assert(cliJson(['points']).length === POINTS, 'the device keeps its points')
  assert(/user_disabled/.test(said), `the refusal names user_disabled:\n${said}`)

  console.log(`setup e2e on ${backend}: ok (${((Date.now() - started) / 1000).toFixed(1)} s)`)
} finally {
  await tearDown(browser, children, dir)
  if (pg) {
    try {
      psql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    } catch (e) {
      console.error(`could not drop schema ${schema}: ${e.message}`)
    }
  }
}
