// Browser smoke test: the built UI in Debian's Chromium (phone viewport, 390 × 844) against a
// real `fieldcheck-bridge` over a fresh demo device. Saves a screenshot of every main screen
// to ui/test-results/screenshots/ (FIELDCHECK_SCREENSHOTS=../docs/screenshots refreshes the
// ones kept in the repository). Run: `npm run e2e` (needs `cargo build -p fieldcheck-bridge`
// and `npm run build` first; Chromium from the Debian package, never a downloaded browser).
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openPhone } from './phone.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '../..')
const bin =
  process.env.FIELDCHECK_BRIDGE_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(root, 'target'), 'debug/fieldcheck-bridge')
const shots = resolve(join(root, 'ui'), process.env.FIELDCHECK_SCREENSHOTS ?? 'test-results/screenshots')
mkdirSync(shots, { recursive: true })
const dir = mkdtempSync(join(tmpdir(), 'fieldcheck-e2e-'))

function startBridge() {
  const child = spawn(bin, ['--db', join(dir, 'device.sqlite3'), '--bind', '127.0.0.1:0', '--ui', join(root, 'ui/dist'), '--demo'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((ok, fail) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      const m = out.match(/http:\/\/[\d.:]+\//)
      if (m) ok({ child, url: m[0] })
    })
    child.on('exit', (code) => fail(new Error(`bridge exited with ${code}`)))
    setTimeout(() => fail(new Error('bridge did not start')), 30000)
  })
}

const step = (name) => console.log(`  • ${name}`)
let bridge
let browser
try {
  bridge = await startBridge()
  const phone = await openPhone(bridge.url, shots)
  browser = phone.browser
  const { page, go, shot } = phone

  step('home')
  await go('/')
  await page.getByText('黄志强，你好').waitFor()
  await page.getByText('随手拍上报问题').waitFor()
  await shot('home')

  step('points sorted by distance from the GPS fix')
  await go('/points')
  await page.getByText('按距离排序').waitFor()
  const first = page.locator('.van-cell__title').first()
  await first.getByText('南街光禄坊农贸市场').waitFor()
  await shot('points')
  // The map (Leaflet, lazy-loaded) in no-tiles mode: points on a grid with a scale bar.
  await page.locator('.van-nav-bar__right').click()
  await page.locator('.leaflet-control-scale').waitFor()
  await page.locator('path.leaflet-interactive').first().waitFor()
  await shot('points-map')
  await page.locator('.van-nav-bar__right').click()

  step('point detail and an inspection with a failed item')
  await first.click()
  await page.getByRole('button', { name: '开始巡查' }).waitFor()
  await shot('point-detail')
  await page.getByRole('button', { name: '开始巡查' }).click()
  await page.waitForURL(/#\/inspections\//)
  await page.locator('[data-test=running-score]').waitFor()
  // fm-04 (pass/fail): pass
  await page.getByRole('button', { name: '合格' }).first().click()
  await page.locator('.van-tag--success').first().waitFor()
  // fm-05 (pass/fail, no photo needed): fail, then raise a problem from it
  await page.getByRole('button', { name: '不合格' }).nth(1).click()
  await page.getByRole('button', { name: '生成问题' }).waitFor()
  await page.getByRole('button', { name: '生成问题' }).click()
  await page.getByText(/已生成问题/).waitFor()
  const score = await page.locator('[data-test=running-score]').innerText()
  if (!(Number(score) < 100)) throw new Error(`running score ${score} should drop after a failure`)
  await shot('inspection')
  await go('/')
  await page.getByText('未完成的巡查').waitFor()
  await page.getByText('南街光禄坊农贸市场').waitFor()

  step('quick report with a photo')
  await go('/report')
  const jpegB64 = await page.evaluate(() => {
    const c = document.createElement('canvas')
    c.width = 640
    c.height = 480
    const g = c.getContext('2d')
    g.fillStyle = '#7a9'
    g.fillRect(0, 0, 640, 480)
    g.fillStyle = '#c33'
    g.fillRect(200, 150, 240, 180)
    return c.toDataURL('image/jpeg', 0.9).split(',')[1]
  })
  await page
    .locator('[data-test=photo-gallery]')
    .setInputFiles({ name: 'scene.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(jpegB64, 'base64') })
  await page.locator('.thumbs img').first().waitFor()
  await page.locator('[data-test=category]').click()
  await page.locator('.van-cascader__option').first().click()
  await page.locator('.van-cascader__options').nth(1).locator('.van-cascader__option').first().click()
  await page.getByText('精度 ±8 米').waitFor()
  await page.locator('textarea').fill('人行道暴露垃圾，约2平方米')
  await shot('report')
  await page.locator('[data-test=save-report]').click()
  await page.waitForURL(/#\/problems\//)
  await page.locator('[data-test=status]').getByText('已上报').waitFor()
  await page.locator('[data-test=before-photo]').waitFor()
  await page.getByText('位置').click()
  await page.locator('.leaflet-control-scale').waitFor()
  await shot('problem-detail')

  step('ledger with search')
  await go('/ledger')
  await page.getByText('人行道暴露垃圾').first().waitFor()
  await page.locator('.van-search input').fill('井盖')
  await page.locator('.van-search input').press('Enter')
  await page.getByText('人行道井盖缺失').waitFor()
  await shot('ledger')

  step('city office files and dispatches the report')
  await go('/settings')
  await page.locator('[data-test=switch-user]').selectOption('usr-admin-1')
  await page.getByText('创城办').first().waitFor()
  await go('/ledger')
  await page.locator('.van-search input').fill('人行道暴露')
  await page.locator('.van-search input').press('Enter')
  await page.getByText('人行道暴露垃圾').first().click()
  await page.locator('[data-test=action-file]').click()
  await page.locator('[data-test=action-submit]').click()
  await page.locator('[data-test=status]').getByText('已立案').waitFor()
  await page.locator('[data-test=action-dispatch]').click()
  await page.locator('.van-popup select').selectOption('u-hwc')
  await page.locator('[data-test=action-submit]').click()
  await page.locator('[data-test=status]').getByText('已派遣').waitFor()
  await shot('problem-dispatched')
  const problemHash = new URL(page.url()).hash

  step('the unit accepts and rectifies with an after-photo (before/after side by side)')
  await go('/settings')
  await page.locator('[data-test=switch-user]').selectOption('usr-hdl-5')
  await page.getByText('责任单位').first().waitFor()
  await go(problemHash.slice(1))
  await page.locator('[data-test=action-accept]').click()
  await page.locator('[data-test=action-submit]').click()
  await page.locator('[data-test=status]').getByText('整改中').waitFor()
  await page.locator('[data-test=action-rectify]').click()
  // Without the after-photo the core refuses, and the refusal is shown in words.
  await page.locator('[data-test=action-submit]').click()
  await page.getByText('整改反馈须附整改后照片').waitFor()
  const afterB64 = await page.evaluate(() => {
    const c = document.createElement('canvas')
    c.width = 640
    c.height = 480
    const g = c.getContext('2d')
    g.fillStyle = '#7a9'
    g.fillRect(0, 0, 640, 480)
    return c.toDataURL('image/jpeg', 0.9).split(',')[1]
  })
  await page
    .locator('.van-popup [data-test=photo-gallery]')
    .setInputFiles({ name: 'after.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(afterB64, 'base64') })
  await page.locator('.van-popup .thumbs img').first().waitFor()
  await page.locator('[data-test=action-submit]').click()
  await page.locator('[data-test=status]').getByText('已整改').waitFor()
  await page.locator('[data-test=after-photo]').waitFor()
  await shot('problem-rectified')

  step('settings in English')
  await go('/settings')
  await page.locator('[data-test=lang-en]').click()
  await page.getByText('Storage used').waitFor()
  await page.locator('.van-tabbar').getByText('Ledger').waitFor()
  await shot('settings-en')
  console.log(`ok: screenshots in ${shots}`)
} finally {
  await browser?.close()
  bridge?.child.kill()
  rmSync(dir, { recursive: true, force: true })
}
