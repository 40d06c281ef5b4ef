// A timeline entry's payload in a line of plain words (unit, deadline, reason, result…).
import { ct, ctOr } from './i18n'
import { unitName } from './reference'
import { formatTime } from './time'

export function eventLabel(kind: string): string {
  const tail = kind.startsWith('problem.') ? kind.slice('problem.'.length) : kind
  return ctOr(`ev_${tail}`, kind)
}

export function summaryParts(summary: Record<string, unknown> | null | undefined): string[] {
  if (!summary || typeof summary !== 'object') return []
  const out: string[] = []
  const s = summary as Record<string, unknown>
  if (typeof s.unit_id === 'string') out.push(`${ct('a_unit')}：${unitName(s.unit_id)}`)
  if (typeof s.deadline === 'string') out.push(`${ct('d_deadline')}：${formatTime(s.deadline)}`)
  if (typeof s.passed === 'boolean') out.push(s.passed ? ct('a_pass') : ct('a_fail'))
  if (typeof s.approved === 'boolean') out.push(s.approved ? ct('a_approve') : ct('a_deny'))
  if (typeof s.until === 'string') out.push(`${ct('a_until')}：${s.until.length > 10 ? formatTime(s.until) : s.until}`)
  const r = s.reason
  if (typeof r === 'string' && r) out.push(`${ct('a_reason')}：${r}`)
  else if (r && typeof r === 'object') {
    const rr = r as { type?: string; of?: string; reason?: string }
    if (rr.type === 'duplicate') out.push(`${ct('d_duplicate_of')}：${rr.of ?? ''}`)
    else if (rr.reason) out.push(`${ct('a_reason')}：${rr.reason}`)
  }
  if (typeof s.note === 'string' && s.note) out.push(`${ct('a_note')}：${s.note}`)
  if (typeof s.description === 'string' && s.description) out.push(s.description)
  return out
}
