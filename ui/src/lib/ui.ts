// Small UI helpers shared by the screens.
import { showFailToast } from 'vant'
import { errorText, lang, t, zh, type Key } from './i18n'
import { CoreCallError } from './transport'
import type { ProblemStatus, Reference } from './api'
import { shallowRef } from 'vue'

export function describeError(e: unknown): string {
  if (e instanceof CoreCallError) return errorText(e.code, e.message)
  return errorText('unknown', e instanceof Error ? e.message : String(e))
}

export function fail(e: unknown): void {
  showFailToast({ message: describeError(e), wordBreak: 'break-word' })
}

export function statusLabel(s: ProblemStatus): string {
  return t(`status_${s}` as Key)
}

// The colour of each stage lives apart, so the volunteers' page takes it without this module.
export { statusColor } from './statusColor'

/**
 * A time as the city reads it: in the work calendar's zone (`Reference.utc_offset_minutes`),
 * whatever zone the phone is set to, so a deadline reads the same on every screen, in the
 * CLI and on paper. Before the reference data has loaded, the phone's own zone.
 */
export function formatTime(iso: string | number | null | undefined): string {
  if (iso === null || iso === undefined || iso === '') return ''
  const ms = typeof iso === 'number' ? iso : Date.parse(iso)
  if (!Number.isFinite(ms)) return ''
  const offset = reference.value?.utc_offset_minutes ?? -new Date(ms).getTimezoneOffset()
  // Shift the instant by the city's offset and format its UTC fields: an offset zone that
  // every engine (WebKitGTK included) understands.
  return new Date(ms + offset * 60_000).toLocaleString(lang.value === 'en' ? 'en-GB' : 'zh-CN', {
    timeZone: 'UTC',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  })
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`
  return `${(n / 1024 / 1024).toFixed(1)} MB`
}

/** Reference data, loaded once per session (and after the demo is seeded). */
export const reference = shallowRef<Reference | null>(null)

/** When an event happened, from its HLC text form `<18-digit wall ms>-<counter>-<node>`. */
export function hlcTime(hlc: string): string | null {
  const ms = Number.parseInt(hlc.split('-')[0] ?? '', 10)
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null
}

/** Why the server refused a record, in plain words for the person who recorded it. */
export function refusalText(code: string, message: string): string {
  const key = `refused_${code}` as Key
  return key in zh ? t(key, { message }) : t('refused_other', { message })
}
