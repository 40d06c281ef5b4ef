// The ranking's periods as city calendar days: this week (Monday first, as the office counts),
// this month, this quarter, each up to and including today, or a custom range. The server is
// the authority for the figures (and answers with the range it used); the console computes the
// range to show it and to preset the custom picker.
import type { RankingPeriod } from './wire'

export interface DayRange {
  from: string
  to: string
}

function parseDay(day: string): Date {
  const [y, m, d] = day.split('-').map((s) => Number.parseInt(s, 10))
  return new Date(Date.UTC(y, m - 1, d))
}

function dayText(d: Date): string {
  return d.toISOString().slice(0, 10)
}

export function addDays(day: string, n: number): string {
  const d = parseDay(day)
  d.setUTCDate(d.getUTCDate() + n)
  return dayText(d)
}

/** The period containing `today` (a city day), from its first day up to today. */
export function periodRange(period: Exclude<RankingPeriod, 'custom'>, today: string): DayRange {
  const d = parseDay(today)
  if (period === 'week') {
    const sinceMonday = (d.getUTCDay() + 6) % 7
    return { from: addDays(today, -sinceMonday), to: today }
  }
  if (period === 'month') return { from: dayText(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1))), to: today }
  const q = Math.floor(d.getUTCMonth() / 3) * 3
  return { from: dayText(new Date(Date.UTC(d.getUTCFullYear(), q, 1))), to: today }
}

/** A custom range, put in order. */
export function customRange(a: string, b: string): DayRange {
  return a <= b ? { from: a, to: b } : { from: b, to: a }
}

/** A rate 0..1 as a percentage text (one decimal), '—' when there is nothing to rate. */
export function percent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return '—'
  return `${(rate * 100).toFixed(1)}%`
}
