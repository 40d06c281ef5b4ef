import { describe, expect, it } from 'vitest'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { en, format, initialLang, lang, rt, setLang, zh, type Key } from './i18n'

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    if (statSync(p).isDirectory()) return sources(p)
    return /\.(vue|ts)$/.test(f) && !f.endsWith('.test.ts') ? [readFileSync(p, 'utf8')] : []
  })
}

describe('report page i18n', () => {
  it('en has exactly the zh keys with the same placeholders, none empty', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(zh).sort())
    for (const k of Object.keys(zh) as Key[]) {
      expect(en[k].trim(), k).not.toBe('')
      expect(placeholders(en[k]), k).toEqual(placeholders(zh[k]))
    }
  })

  it('every literal key the page uses exists', () => {
    const src = sources(__dirname).join('\n')
    const used = new Set([...src.matchAll(/\brt\('([a-z0-9_]+)'/g)].map((m) => m[1]))
    expect(used.size).toBeGreaterThan(40)
    for (const k of used) expect(k in zh, k).toBe(true)
    // The keys built at run time.
    for (const s of ['pending', 'approved', 'rejected', 'anonymous']) expect(`vstatus_${s}` in zh).toBe(true)
  })

  it('follows the phone language unless switched', () => {
    expect(initialLang(null, 'zh-CN')).toBe('zh-CN')
    expect(initialLang(null, 'zh-TW')).toBe('zh-CN')
    expect(initialLang(null, 'en-US')).toBe('en')
    expect(initialLang(null, 'fr-FR')).toBe('zh-CN')
    expect(initialLang(null, undefined)).toBe('zh-CN')
    expect(initialLang('zh-CN', 'en-US')).toBe('zh-CN')
    expect(initialLang('en', 'zh-CN')).toBe('en')
  })

  it('switches and fills placeholders', () => {
    setLang('zh-CN')
    expect(rt('queue_banner', { n: 3 })).toBe('离线：3 条上报待发送')
    expect(rt('mine_duplicate', { code: 'W-0001' })).toBe('与 W-0001 合并')
    setLang('en')
    expect(lang.value).toBe('en')
    expect(rt('report_accuracy', { accuracy: 12 })).toBe('±12 m')
    setLang('zh-CN')
    expect(rt('report_accuracy', { accuracy: 12 })).toBe('±12 米')
    expect(format('{a}-{b}', { a: 1 })).toBe('1-{b}')
  })
})
