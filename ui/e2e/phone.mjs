// What the browser tests share: Debian's Chromium (never a downloaded browser) with a phone
// context (390 × 844, zh-CN, a GPS fix in 鼓楼区), page errors failing the test, navigation by
// route hash, screenshots taken once toasts and popups have finished animating away, and test
// photos drawn by the page.
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
  /** A 640 × 480 JPEG of one colour, made by the page's canvas; `mark` adds a white block. */
  const jpeg = async (color, { mark = false } = {}) =>
    Buffer.from(
      await page.evaluate(
        ([color, mark]) => {
          const c = document.createElement('canvas')
          c.width = 640
          c.height = 480
          const g = c.getContext('2d')
          g.fillStyle = color
          g.fillRect(0, 0, 640, 480)
          if (mark) {
            g.fillStyle = '#fff'
            g.fillRect(100, 100, 200, 120)
          }
          return c.toDataURL('image/jpeg', 0.9).split(',')[1]
        },
        [color, mark],
      ),
      'base64',
    )
  return { browser, page, go, shot, jpeg }
}
