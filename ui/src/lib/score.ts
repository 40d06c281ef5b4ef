// Scoring as the domain computes it (fieldcheck-domain/src/checklist.rs), for showing what a
// result would score before it is saved; the saved score always comes from the core.
import type { ChecklistItem, ItemResult, Score } from './api'

export function isFailure(item: ChecklistItem, r: ItemResult): boolean {
  if (r.result === 'not_applicable') return false
  switch (item.kind) {
    case 'pass_fail':
      return r.result === 'fail'
    case 'count':
      return r.result === 'count' ? r.count > 0 : false
    case 'measured':
      if (r.result !== 'value') return false
      return item.comparison === 'at_least' ? r.value < item.threshold : r.value > item.threshold
  }
}

/** Points earned by one item, or null when not applicable. */
export function itemPoints(item: ChecklistItem, r: ItemResult): number | null {
  if (r.result === 'not_applicable') return null
  if (item.kind === 'count' && r.result === 'count') {
    const lost = Math.min(r.count * item.deduction, item.cap)
    return Math.max(item.points - lost, 0)
  }
  return isFailure(item, r) ? 0 : item.points
}

export function computeScore(items: ChecklistItem[], results: Record<string, ItemResult>): Score {
  let earned = 0
  let possible = 0
  let failed = 0
  let recorded = 0
  for (const item of items) {
    const r = results[item.id]
    if (!r) continue
    recorded++
    if (isFailure(item, r)) failed++
    const p = itemPoints(item, r)
    if (p !== null) {
      earned += p
      possible += item.points
    }
  }
  const percent = possible > 0 ? Math.round((earned / possible) * 1000) / 10 : 100
  return { earned, possible, percent, failed_items: failed, recorded_items: recorded }
}

function num(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1)
}

/** "87.5" for the big number, "35/40" for the detail line. */
export function formatScore(s: Score): { percent: string; detail: string } {
  return { percent: s.percent.toFixed(1), detail: `${num(s.earned)}/${num(s.possible)}` }
}

/** Colour band of a score: good ≥ 90, fair ≥ 75, else poor (the office's usual thresholds). */
export function scoreBand(percent: number): 'good' | 'fair' | 'poor' {
  return percent >= 90 ? 'good' : percent >= 75 ? 'fair' : 'poor'
}
