// Enrollment and sync: pure helpers for the Enroll and Sync screens (tested in sync.test.ts).
import type { Progress, SyncReport } from '../wire/fieldcheck'
import type { Key } from './i18n'

export interface EnrollLink {
  server: string
  code: string
}

/** Parses `fieldcheck://enroll?server=…&code=…` (what the server's QR codes encode). */
export function parseEnrollUrl(text: string): EnrollLink | null {
  const s = text.trim()
  const m = /^fieldcheck:\/\/enroll\/?\?(.*)$/i.exec(s)
  if (!m) return null
  const q = new URLSearchParams(m[1])
  const server = (q.get('server') ?? '').trim()
  const code = (q.get('code') ?? '').trim()
  if (!code || !/^https?:\/\/[^\s/]+/i.test(server)) return null
  return { server, code }
}

// Where a sync run is (the bridge's `sync_status` progress).
export type { Phase, Progress } from '../wire/fieldcheck'

/**
 * Overall completion 0–100 for a progress bar: reference 0–5, records 5–45, photos 45–90,
 * pull 90–100 (pull has no known total, so it creeps towards 99).
 */
export function progressPercent(p: Progress | null | undefined): number {
  if (!p) return 0
  const frac = (done: number, total: number) => (total > 0 ? Math.min(1, done / total) : 1)
  switch (p.phase) {
    case 'reference':
      return 2
    case 'push':
      return Math.round(5 + 40 * frac(p.events_up, p.events_up_total))
    case 'photos':
      return Math.round(45 + 45 * frac(p.photo_bytes_up, p.photo_bytes_total))
    case 'pull':
      return Math.min(99, 90 + Math.floor(p.events_down / 100))
    case 'done':
      return 100
  }
}

/** The translation key and parameters describing where a run is. */
export function progressLabel(p: Progress): { key: Key; params: Record<string, string | number> } {
  switch (p.phase) {
    case 'reference':
      return { key: 'sync_phase_reference', params: {} }
    case 'push':
      return { key: 'sync_phase_push', params: { done: p.events_up, total: p.events_up_total } }
    case 'photos':
      return {
        key: 'sync_phase_photos',
        params: { done: formatBytesShort(p.photo_bytes_up), total: formatBytesShort(p.photo_bytes_total) },
      }
    case 'pull':
      return { key: 'sync_phase_pull', params: { done: p.events_down } }
    case 'done':
      return { key: 'sync_phase_done', params: {} }
  }
}

export function formatBytesShort(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`
  return `${(n / 1024 / 1024).toFixed(1)} MB`
}

const KNOWN = [
  'network',
  'server_unavailable',
  'unauthorized',
  'user_disabled',
  'enroll_code_invalid',
  'invalid_server_url',
  'protocol_too_old',
  'not_enrolled',
  'certificate_not_trusted',
  'tls_failed',
  'invalid_ca_cert',
] as const

/** Plain words for a sync/enroll error code. */
export function syncErrorKey(code: string): Key {
  return (KNOWN as readonly string[]).includes(code) ? (`sync_err_${code}` as Key) : 'sync_err_other'
}

/** A notice for the inspector about a finished run: a translation key and its parameters. */
export interface SyncNotice {
  key: Key
  params: Record<string, string | number>
}

/**
 * What the inspector should be told about a run beyond its counts: the server was restored
 * from a backup (the device sent again what the server lost and re-checked its photos), and
 * records the restored server did not take yet (kept on the device, sent again next run).
 */
export function syncNotices(report: SyncReport | null | undefined): SyncNotice[] {
  if (!report) return []
  const out: SyncNotice[] = []
  const r = report.server_restored
  if (r) {
    out.push({ key: 'sync_server_restored', params: { events: r.events_resent } })
    if (r.photos_rechecked > 0) {
      out.push({ key: 'sync_server_restored_photos', params: { photos: r.photos_rechecked } })
    }
  }
  if (report.deferred > 0) out.push({ key: 'sync_deferred', params: { n: report.deferred } })
  return out
}
