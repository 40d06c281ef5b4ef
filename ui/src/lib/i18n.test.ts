import { describe, expect, it } from 'vitest'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { en, errorText, format, lang, setLang, t, translate, txt, zh, type Key } from './i18n'

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    if (statSync(p).isDirectory()) return sources(p)
    return /\.(vue|ts)$/.test(f) && !f.endsWith('.test.ts') ? [readFileSync(p, 'utf8')] : []
  })
}

describe('i18n', () => {
  it('en has exactly the zh keys, none empty', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(zh).sort())
    for (const [k, v] of Object.entries(en)) expect(v.trim(), k).not.toBe('')
    for (const [k, v] of Object.entries(zh)) expect(v.trim(), k).not.toBe('')
  })

  it('translations use the same placeholders', () => {
    for (const k of Object.keys(zh) as Key[]) expect(placeholders(en[k]), k).toEqual(placeholders(zh[k]))
  })

  it('every literal key the screens use exists', () => {
    const src = sources(join(__dirname, '..')).join('\n')
    const used = new Set([...src.matchAll(/\bt\('([a-z0-9_]+)'/g)].map((m) => m[1]))
    expect(used.size).toBeGreaterThan(50)
    for (const k of used) expect(k in zh, k).toBe(true)
  })

  it('dynamic key families are complete', () => {
    const families: [string, string[]][] = [
      ['status_', ['reported', 'filed', 'rejected', 'dispatched', 'rectifying', 'returned', 'rectified', 'verified', 'closed', 'reopened']],
      ['role_', ['admin', 'inspector', 'unit_handler', 'volunteer']],
      ['severity_', ['low', 'normal', 'high', 'urgent']],
      ['action_', ['file', 'reject', 'dispatch', 'accept', 'return', 'rectify', 'request_extension', 'decide_extension', 'verify', 'close', 'recheck', 'add_photos', 'edit']],
      ['ev_', ['reported', 'edited', 'photos_added', 'filed', 'rejected', 'dispatched', 'accepted', 'returned', 'rectified', 'verified', 'closed', 'extension_requested', 'extension_decided', 'rechecked']],
    ]
    for (const [prefix, names] of families) for (const n of names) expect(`${prefix}${n}` in zh, prefix + n).toBe(true)
  })

  it('defaults to Chinese and switches to English', () => {
    expect(lang.value).toBe('zh-CN')
    expect(t('tab_ledger')).toBe('台账')
    setLang('en')
    expect(t('tab_ledger')).toBe('Ledger')
    expect(txt({ zh: '农贸市场', en: "Farmers' market" })).toBe("Farmers' market")
    expect(txt({ zh: '农贸市场' })).toBe('农贸市场')
    setLang('zh-CN')
    expect(txt({ zh: '农贸市场', en: "Farmers' market" })).toBe('农贸市场')
  })

  it('fills placeholders', () => {
    expect(format('{a} and {b}', { a: 1, b: 'x' })).toBe('1 and x')
    expect(translate('en', 'insp_progress', { done: 3, total: 15 })).toBe('3/15 items checked')
    expect(translate('zh-CN', 'insp_progress', { done: 3, total: 15 })).toBe('已检查 3/15 项')
  })

  it('maps core error codes to words, with a fallback', () => {
    expect(errorText('after_photo_required', 'x')).toBe('整改反馈须附整改后照片')
    expect(errorText('photo_corrupt', 'bad jpeg')).toContain('bad jpeg')
    expect(errorText('something_new', 'boom')).toBe('操作失败：boom')
  })
})
