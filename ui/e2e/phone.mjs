// What the browser tests share: Debian's Chromium (never a downloaded browser) with a phone
// context (390 × 844, zh-CN, a GPS fix in 鼓楼区), page errors failing the test, navigation by
// route hash, and screenshots taken once toasts and popups have finished animating away.
import { join } from 'node:path'
import { chromium } from 'playwright-core'

export async function openPhone(baseUrl, shotsDir) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  })
  const ctx = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'zh-CN',
    geolocation: { latitude: 26.0799, longitude: 119.2899, accuracy: 8 },
    permissions: ['geolocation'],
  })
  const page = await ctx.newPage()
  page.on('pageerror', (e) => {
    throw e
  })
  const go = (hash) => page.goto(`${baseUrl}#${hash}`)
  const shot = async (name) => {
    await page.waitForFunction(() =>
      [...document.querySelectorAll('.van-toast, .van-popup, .van-overlay')].every(
        (e) => getComputedStyle(e).display === 'none' || e.getClientRects().length === 0,
      ),
    )
    await page.waitForTimeout(400) // radio/tab transitions
    await page.screenshot({ path: join(shotsDir, `${name}.png`) })
  }
  return { browser, page, go, shot }
}
