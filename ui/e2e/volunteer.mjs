// The volunteers' report page end to end (issue 17): the built page (ui/dist-report) served by
// a real `fieldcheck-server demo` at /report/, in Debian's Chromium at phone size (390 × 844,
// zh-CN, a GPS fix beside a demo point):
//
//   a volunteer opens the team's invite link and joins with name and phone (pending); the
//   office approves them in the console's 志愿者 page; they report with a photo from the camera
//   input; a second volunteer (approved by the first, their team leader, on the page) about to
//   report the same category there sees it nearby (已有人上报) and adds their photo to it instead;
//   the network is cut and they report again — kept on the phone (离线：1 条上报待发送) — and when
//   the connection returns it is sent, once, even after the page resends it; the office sees
//   both reports, the added photo and the team's counts in the console.
//
// Screenshots go to ui/test-results/screenshots/volunteer/. Needs `cargo build -p
// fieldcheck-server` and `npm run build`. FIELDCHECK_CONSOLE_PG=postgres://… runs it on
// PostgreSQL.
import { mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { assert, consoleBrowser, consoleSession, root, screenshotDir, serverBin, startProcess, step, tearDown } from './procs.mjs'
import { openPhone } from './phone.mjs'

const pg = process.env.FIELDCHECK_CONSOLE_PG ?? ''
const backend = pg ? 'postgres' : 'sqlite'
const shots = join(screenshotDir(), 'volunteer')
mkdirSync(shots, { recursive: true })
const dir = mkdtempSync(join(tmpdir(), `fieldcheck-volunteer-${backend}-`))
const children = []
const browsers = []

// Beside demo point p-005 (人民路), whose district the demo team covers.
const HERE = { latitude: 26.0810, longitude: 119.3020, accuracy: 12 }

async function startServer() {
  const args = ['demo', '--bind', '127.0.0.1:0', '--data-dir', join(dir, 'server'), '--problems', '0']
  if (pg) args.push('--database-url', pg, '--pg-schema', `e2e_volunteer_${process.pid}`)
  const { child, out } = await startProcess(serverBin, args, /device: fieldcheck enroll --server (http:\/\/[\d.:]+)/, 'server', {
    env: {
      ...process.env,
      FIELDCHECK_CONSOLE_DIR: join(root, 'ui/dist-console'),
      FIELDCHECK_REPORT_DIR: join(root, 'ui/dist-report'),
    },
  })
  children.push(child)
  const base = out.match(/API:\s+(http:\/\/[\d.:]+)\/api\/v1/)[1]
  const invite = out.match(/Volunteers' report page \(.*\): (http:\/\/\S+)/)[1]
  return { base, invite }
}

/** A phone with the page, at HERE; `tag` names its screenshots. */
async function phone(base, tag) {
  const p = await openPhone(`${base}/report/`, shots)
  browsers.push(p.browser)
  await p.page.context().setGeolocation(HERE)
  const byTest = (t) => p.page.locator(`[data-test="${t}"]`)
  const shot = (name) => p.shot(`${tag}-${name}`)
  return { ...p, byTest, shot }
}

async function joinTeam(ph, invite, name, number) {
  await ph.page.goto(invite)
  await ph.byTest('join-team').waitFor()
  await ph.byTest('join-name').fill(name)
  await ph.byTest('join-phone').fill(number)
  await ph.byTest('join-submit').click()
  await ph.byTest('pending-screen').waitFor()
  return ph.page.evaluate(async () => (await fetch('/api/v1/volunteer/me', { headers: { 'x-fieldcheck-protocol': '1' } })).json())
}

/** Fills the form: a photo, the category, a description; waits for the GPS fix. */
async function fillReport(ph, { color, category, text }) {
  await ph.byTest('location-accuracy').waitFor()
  await ph.byTest('report-photo').setInputFiles({ name: 'p.jpg', mimeType: 'image/jpeg', buffer: await ph.jpeg(color, { mark: true }) })
  await ph.byTest('report-photo-preview').waitFor()
  await ph.byTest(`category-${category}`).click()
  await ph.byTest('report-description').fill(text)
}

try {
  console.log(`volunteer page e2e on ${backend}`)
  const { base, invite } = await startServer()
  assert(invite.startsWith(`${base}/report/#/join/`), `the demo prints the team's invite link: ${invite}`)
  const office = await consoleSession(base, 'usr-admin-1', 'fieldcheck-demo')

  step('a volunteer joins the team through its invite link, pending until approved')
  const a = await phone(base, 'a')
  const meA = await joinTeam(a, invite, '王芳', '13800138001')
  assert(meA.status === 'pending', `pending: ${JSON.stringify(meA)}`)
  await a.shot('01-pending')

  step('the office approves them in the console and names them the team leader')
  const page = await office.call('/console/volunteers')
  assert(page.volunteers.some((v) => v.user_id === meA.user_id && v.status === 'pending'), 'the console lists them as pending')
  await office.call(`/console/volunteers/members/${meA.user_id}`, { method: 'POST', body: { leader: true } })
  const con = await consoleBrowser(shots)
  browsers.push(con.browser)
  await con.page.goto(`${base}/console/`)
  await con.byTest('signin-username').locator('input').fill('usr-admin-1')
  await con.byTest('signin-password').locator('input').fill('fieldcheck-demo')
  await con.byTest('signin-submit').click()
  await con.byTest('sign-out').waitFor()
  await con.page.goto(`${base}/console/volunteers`)
  await con.byTest('volunteers-page').waitFor()
  await con.byTest(`volunteer-row-${meA.user_id}`).waitFor()
  await con.shot('volunteer-console-approved')

  step('they report with a photo from the camera, at the phone\'s position')
  await a.byTest('pending-check').click()
  await a.byTest('report-submit').waitFor()
  await fillReport(a, { color: '#5a7', category: 'SR-02', text: '绿化带里有建筑垃圾' })
  await a.shot('02-form')
  await a.byTest('report-submit').click()
  await a.page.getByText(/已上报，编号/).waitFor()
  const mineA = await a.page.evaluate(async () => (await fetch('/api/v1/volunteer/reports', { headers: { 'x-fieldcheck-protocol': '1' } })).json())
  assert(mineA.reports.length === 1 && mineA.reports[0].photos.length === 1, `one report with its photo: ${JSON.stringify(mineA)}`)
  const first = mineA.reports[0]
  await a.byTest('tab-mine').click()
  await a.byTest(`mine-item-${first.code}`).waitFor()
  await a.shot('03-mine')

  step('a second volunteer joins; the leader approves them on the page')
  const b = await phone(base, 'b')
  const meB = await joinTeam(b, invite, '李强', '13800138002')
  await a.page.goto(`${base}/report/#/team`)
  await a.byTest(`team-approve-${meB.user_id}`).click()
  await a.page.waitForFunction((id) => document.querySelector(`[data-test="team-member-${id}"]`)?.dataset.status === 'approved', meB.user_id)
  await a.shot('04-team')

  step('about to report the same thing there, the second sees it nearby and adds their photo')
  await b.byTest('pending-check').click()
  await b.byTest('report-submit').waitFor()
  await fillReport(b, { color: '#a75', category: 'SR-02', text: '建筑垃圾' })
  await b.byTest('nearby-list').waitFor()
  await b.byTest(`nearby-item-${first.id}`).waitFor()
  await b.shot('05-nearby')
  await b.byTest(`nearby-add-${first.id}`).click()
  await b.page.getByText(/照片已补充到/).waitFor()
  let d = await office.call(`/console/problems/${first.id}`)
  assert(d.problem.photos.length === 2 && d.problem.photos[1].added_by === meB.user_id, `the photo joined the case: ${JSON.stringify(d.problem.photos)}`)

  step('offline, they report again: kept on the phone, sent once when the connection returns')
  await b.page.reload()
  await b.byTest('report-submit').waitFor()
  await b.page.context().setOffline(true)
  await fillReport(b, { color: '#57a', category: 'SR-01', text: '路灯不亮（离线上报）' })
  await b.byTest('report-submit').click()
  await b.byTest('queue-waiting').waitFor()
  await b.shot('06-offline-queued')
  // Nothing reached the server while offline.
  let ledger = await office.call('/console/problems?q=' + encodeURIComponent('离线上报'))
  assert(ledger.total === 0, `nothing on the server while offline: ${ledger.total}`)
  await b.page.context().setOffline(false)
  await b.byTest('queue-waiting').waitFor({ state: 'detached', timeout: 60000 })
  // The page's resend of the same report (a reload re-runs the outbox) changes nothing.
  await b.page.reload()
  await b.byTest('report-submit').waitFor()
  await b.page.waitForTimeout(1500)
  ledger = await office.call('/console/problems?q=' + encodeURIComponent('离线上报'))
  assert(ledger.total === 1, `the offline report is on the server once: ${ledger.total}`)
  const offline = ledger.rows[0]
  d = await office.call(`/console/problems/${offline.id}`)
  assert(d.problem.photos.length === 1 && d.source === 'volunteer' && d.problem.reporter === meB.user_id, `with its photo, as theirs: ${JSON.stringify(d.problem)}`)
  await b.byTest('tab-mine').click()
  await b.byTest(`mine-item-${offline.code}`).waitFor()
  await b.shot('07-mine')

  step('the office sees both in the console, and the team\'s counts')
  const vols = await office.call('/console/volunteers')
  const team = vols.teams[0]
  assert(team.members === 2 && team.reports === 2, `team counts: ${JSON.stringify(team)}`)
  await con.page.goto(`${base}/console/problems/${first.id}`)
  await con.page.getByText(first.code).first().waitFor()
  await con.shot('volunteer-console-case')
  await con.page.goto(`${base}/console/volunteers`)
  await con.byTest(`team-row-${team.id}`).waitFor()
  await con.shot('volunteer-console-teams')
  console.log(`volunteer page e2e on ${backend}: passed`)
} finally {
  for (const br of browsers) await br.close().catch(() => {})
  await tearDown(null, children, dir)
}
