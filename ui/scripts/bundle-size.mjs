// Initial UI payload: the JS and CSS that index.html loads before the first screen (entry,
// modulepreloads, stylesheets), gzipped, for each app with a budget. Fails above a budget:
// the inspector app 300 KB (issue 5); the public report page 150 KB (issue 17: it opens from a
// link in WeChat's built-in browser over 4G).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

const apps = [
  { name: 'inspector app', dir: '../dist/', base: './', budgetKb: Number(process.env.FIELDCHECK_UI_BUDGET_KB ?? 300) },
  { name: 'report page', dir: '../dist-report/', base: '/report/', budgetKb: Number(process.env.FIELDCHECK_REPORT_BUDGET_KB ?? 150) },
]

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
let over = false
for (const app of apps) {
  const dist = new URL(app.dir, import.meta.url).pathname
  const budget = app.budgetKb * 1024
  const html = readFileSync(join(dist, 'index.html'), 'utf8')
  // Asset paths as the build writes them: relative (`./assets/…`) or under the app's base.
  const re = new RegExp(`(?:src|href)="(?:${escape(app.base)}|\\.?\\/?)(assets\\/[^"]+\\.(?:js|css))"`, 'g')
  const files = [...html.matchAll(re)].map((m) => m[1])
  if (!files.length) {
    console.error(`${app.name}: no assets found in ${join(dist, 'index.html')}`)
    process.exit(1)
  }
  let total = 0
  console.log(`${app.name} (${app.dir.replace('../', 'ui/')})`)
  for (const f of files) {
    const gz = gzipSync(readFileSync(join(dist, f)), { level: 9 }).length
    total += gz
    console.log(`${(gz / 1024).toFixed(1).padStart(8)} KB  ${f}`)
  }
  console.log(`${(total / 1024).toFixed(1).padStart(8)} KB  initial JS+CSS gzipped (budget ${budget / 1024} KB)`)
  if (total > budget) {
    console.error(`${app.name}: over budget`)
    over = true
  }
}
if (over) process.exit(1)
