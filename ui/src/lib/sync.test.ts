import { describe, expect, it } from 'vitest'
import { formatBytesShort, parseEnrollUrl, progressLabel, progressPercent, syncErrorKey, syncNotices, type Progress } from './sync'
import { en, setLang, t, zh } from './i18n'
import type { SyncReport } from '../wire/fieldcheck'

const p = (x: Partial<Progress>): Progress => ({
  phase: 'push',
  events_up: 0,
  events_up_total: 0,
  photo_bytes_up: 0,
  photo_bytes_total: 0,
  events_down: 0,
  bytes_up: 0,
  bytes_down: 0,
  ...x,
})

describe('parseEnrollUrl', () => {
  it('reads server and code', () => {
    expect(parseEnrollUrl('fieldcheck://enroll?server=http%3A%2F%2F127.0.0.1%3A8080&code=ABCD-1234')).toEqual({
      server: 'http://127.0.0.1:8080',
      code: 'ABCD-1234',
    })
    expect(parseEnrollUrl('  fieldcheck://enroll?code=X9&server=https://fc.example.cn/  ')).toEqual({
      server: 'https://fc.example.cn/',
      code: 'X9',
    })
  })
  it('rejects other links and missing parts', () => {
    expect(parseEnrollUrl('https://example.com/?server=http://a&code=1')).toBeNull()
    expect(parseEnrollUrl('fieldcheck://enroll?server=http://a')).toBeNull()
    expect(parseEnrollUrl('fieldcheck://enroll?server=ftp://a&code=1')).toBeNull()
    expect(parseEnrollUrl('fieldcheck://enroll?code=1')).toBeNull()
    expect(parseEnrollUrl('')).toBeNull()
  })
})

describe('progress', () => {
  it('is monotonic across phases', () => {
    const seq = [
      p({ phase: 'reference' }),
      p({ phase: 'push', events_up: 0, events_up_total: 10 }),
      p({ phase: 'push', events_up: 5, events_up_total: 10 }),
      p({ phase: 'push', events_up: 10, events_up_total: 10 }),
      p({ phase: 'photos', photo_bytes_up: 10, photo_bytes_total: 100 }),
      p({ phase: 'photos', photo_bytes_up: 100, photo_bytes_total: 100 }),
      p({ phase: 'pull', events_down: 250 }),
      p({ phase: 'done' }),
    ].map(progressPercent)
    for (let i = 1; i < seq.length; i++) expect(seq[i]).toBeGreaterThanOrEqual(seq[i - 1])
    expect(seq[0]).toBeGreaterThan(0)
    expect(seq[seq.length - 1]).toBe(100)
    expect(progressPercent(null)).toBe(0)
    expect(progressPercent(p({ phase: 'push', events_up_total: 0 }))).toBe(45)
    expect(progressPercent(p({ phase: 'pull', events_down: 1e6 }))).toBe(99)
  })
  it('labels name the numbers', () => {
    expect(progressLabel(p({ phase: 'push', events_up: 3, events_up_total: 7 }))).toEqual({
      key: 'sync_phase_push',
      params: { done: 3, total: 7 },
    })
    expect(progressLabel(p({ phase: 'photos', photo_bytes_up: 2048, photo_bytes_total: 3 * 1024 * 1024 })).params).toEqual({
      done: '2.0 KB',
      total: '3.0 MB',
    })
    expect(formatBytesShort(12)).toBe('12 B')
  })
  it('maps error codes to plain words', () => {
    expect(syncErrorKey('network')).toBe('sync_err_network')
    expect(syncErrorKey('something_else')).toBe('sync_err_other')
    const codes = ['network', 'server_unavailable', 'unauthorized', 'user_disabled', 'enroll_code_invalid']
    // The TLS codes of fieldcheck-core's SyncError::code(): enrolling with a city CA.
    codes.push('certificate_not_trusted', 'tls_failed', 'invalid_ca_cert')
    for (const c of codes) {
      expect(syncErrorKey(c)).not.toBe('sync_err_other')
      expect(syncErrorKey(c) in zh).toBe(true)
    }
  })
})

const report = (x: Partial<SyncReport>): SyncReport => ({
  pushed: 0,
  duplicates: 0,
  clamped: 0,
  refused: [],
  rejected: [],
  deferred: 0,
  server_restored: null,
  photos_uploaded: 0,
  photo_bytes_uploaded: 0,
  photos_failed: [],
  events_pulled: 0,
  records_removed: 0,
  ...x,
} as SyncReport)

describe('syncNotices', () => {
  it('says nothing after an ordinary run', () => {
    expect(syncNotices(null)).toEqual([])
    expect(syncNotices(report({ pushed: 3, events_pulled: 9 }))).toEqual([])
  })
  it('tells the inspector the server was restored and what was sent again', () => {
    const n = syncNotices(
      report({ pushed: 12, server_restored: { events_resent: 12, photos_rechecked: 2, cursor_was: 480 } }),
    )
    expect(n).toEqual([
      { key: 'sync_server_restored', params: { events: 12 } },
      { key: 'sync_server_restored_photos', params: { photos: 2 } },
    ])
    setLang('zh-CN')
    expect(t(n[0].key, n[0].params)).toBe('服务器已从备份恢复，已重新上传 12 条记录')
    setLang('en')
    expect(t(n[0].key, n[0].params)).toContain('restored from a backup; 12 records')
    setLang('zh-CN')
    // No photos to re-check: no photo notice.
    expect(
      syncNotices(report({ server_restored: { events_resent: 0, photos_rechecked: 0, cursor_was: 5 } })).map((x) => x.key),
    ).toEqual(['sync_server_restored'])
  })
  it('tells the inspector about deferred records', () => {
    const n = syncNotices(report({ deferred: 4 }))
    expect(n).toEqual([{ key: 'sync_deferred', params: { n: 4 } }])
    expect(t(n[0].key, n[0].params)).toContain('4 条记录')
    for (const x of n) expect(x.key in zh && x.key in en).toBe(true)
  })
})
