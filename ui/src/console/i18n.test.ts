import { describe, expect, it } from 'vitest'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { ct, en, errorText, lang, nameText, setLang, zh, type CKey } from './i18n'

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    if (statSync(p).isDirectory()) return sources(p)
    return /\.(vue|ts)$/.test(f) && !f.endsWith('.test.ts') ? [readFileSync(p, 'utf8')] : []
  })
}

describe('console i18n', () => {
  it('en has exactly the zh keys, none empty, same placeholders', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(zh).sort())
    for (const k of Object.keys(zh) as CKey[]) {
      expect(zh[k].trim(), k).not.toBe('')
      expect(en[k].trim(), k).not.toBe('')
      expect(placeholders(en[k]), k).toEqual(placeholders(zh[k]))
    }
  })

  it('every literal key the console uses exists', () => {
    const src = sources(__dirname).join('\n')
    const used = new Set([...src.matchAll(/\bct\('([a-z0-9_]+)'/g)].map((m) => m[1]))
    expect(used.size).toBeGreaterThan(100)
    for (const k of used) expect(k in zh, k).toBe(true)
  })

  it('dynamic key families are complete', () => {
    const families: [string, string[]][] = [
      ['status_', ['reported', 'filed', 'rejected', 'dispatched', 'rectifying', 'returned', 'rectified', 'verified', 'closed', 'reopened']],
      ['role_', ['admin', 'inspector', 'unit_handler', 'volunteer']],
      ['source_', ['inspection', 'quick_report', 'volunteer']],
      ['action_', ['file', 'reject', 'dispatch', 'accept', 'return', 'rectify', 'request_extension', 'decide_extension', 'verify', 'close', 'recheck', 'add_photos', 'edit']],
      ['ev_', ['reported', 'edited', 'photos_added', 'filed', 'rejected', 'dispatched', 'accepted', 'returned', 'rectified', 'verified', 'closed', 'extension_requested', 'extension_decided', 'rechecked']],
      ['err_', ['wrong_credentials', 'session_expired', 'not_signed_in', 'record_changed', 'action_refused', 'not_found']],
    ]
    for (const [prefix, names] of families) for (const n of names) expect(`${prefix}${n}` in zh, prefix + n).toBe(true)
  })

  it('Chinese by default, English on switch; server codes in plain words', () => {
    expect(lang.value).toBe('zh-CN')
    expect(ct('menu_ledger')).toBe('问题台账')
    expect(errorText('wrong_credentials', 'wrong username or password')).toBe('用户名或密码错误')
    expect(errorText('action_refused', 'not dispatched yet')).toBe('无法办理：not dispatched yet')
    expect(errorText('brand_new', 'boom')).toBe('操作失败：boom')
    expect(nameText({ name: '城管局', name_en: 'Urban management' })).toBe('城管局')
    setLang('en')
    expect(ct('menu_ledger')).toBe('Ledger')
    expect(errorText('session_expired', 'x')).toBe('Your session has expired; please sign in again')
    expect(nameText({ name: '城管局', name_en: 'Urban management' })).toBe('Urban management')
    expect(nameText({ name: '城管局', name_en: '' })).toBe('城管局')
    setLang('zh-CN')
  })
})
