// A problem's colour on the page, by its stage (the inspector app's colours).
import type { ProblemStatus } from '../wire/fieldcheck'

export function statusColor(s: ProblemStatus): string {
  switch (s) {
    case 'reported':
    case 'filed':
      return '#1989fa'
    case 'dispatched':
    case 'rectifying':
    case 'reopened':
      return '#ff976a'
    case 'returned':
      return '#ee0a24'
    case 'rectified':
    case 'verified':
      return '#07c160'
    default:
      return '#969799'
  }
}

export function formatTime(iso: string, lang: string): string {
  const ms = Date.parse(iso)
  if (!Number.isFinite(ms)) return ''
  return new Date(ms).toLocaleString(lang === 'en' ? 'en-GB' : 'zh-CN', { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' })
}
