// Initial UI payload: the JS and CSS that index.html loads before the first screen (entry,
// modulepreloads, stylesheets), gzipped. Fails above the budget (issue 5: 300 KB).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

const dist = new URL('../dist/', import.meta.url).pathname
const budget = Number(process.env.FIELDCHECK_UI_BUDGET_KB ?? 300) * 1024
const html = readFileSync(join(dist, 'index.html'), 'utf8')
const files = [...html.matchAll(/(?:src|href)="\.?\/?(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1])
let total = 0
for (const f of files) {
  const gz = gzipSync(readFileSync(join(dist, f)), { level: 9 }).length
  total += gz
  console.log(`${(gz / 1024).toFixed(1).padStart(8)} KB  ${f}`)
}
console.log(`${(total / 1024).toFixed(1).padStart(8)} KB  initial JS+CSS gzipped (budget ${budget / 1024} KB)`)
if (total > budget) {
  console.error('over budget')
  process.exit(1)
}
