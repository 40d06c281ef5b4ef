import { describe, expect, it } from 'vitest'
import type { ChecklistItem } from './api'
import { computeScore, formatScore, isFailure, itemPoints, scoreBand } from './score'

const items: ChecklistItem[] = [
  { id: 'a', text: { zh: '地面干净' }, kind: 'pass_fail', points: 10, photo_required_on_fail: true },
  { id: 'b', text: { zh: '暴露垃圾' }, kind: 'count', deduction: 2, cap: 8, points: 10, photo_required_on_fail: true },
  { id: 'c', text: { zh: '公益广告' }, kind: 'measured', threshold: 5, comparison: 'at_least', unit: '处', points: 8, photo_required_on_fail: false },
  { id: 'd', text: { zh: '噪声' }, kind: 'measured', threshold: 70, comparison: 'at_most', unit: '', points: 4, photo_required_on_fail: false },
]

describe('score (mirrors fieldcheck-domain checklist::score)', () => {
  it('decides failures per item kind', () => {
    expect(isFailure(items[0], { result: 'fail' })).toBe(true)
    expect(isFailure(items[0], { result: 'not_applicable' })).toBe(false)
    expect(isFailure(items[1], { result: 'count', count: 0 })).toBe(false)
    expect(isFailure(items[1], { result: 'count', count: 1 })).toBe(true)
    expect(isFailure(items[2], { result: 'value', value: 4 })).toBe(true)
    expect(isFailure(items[2], { result: 'value', value: 5 })).toBe(false)
    expect(isFailure(items[3], { result: 'value', value: 71 })).toBe(true)
  })

  it('deducts per occurrence up to the cap', () => {
    expect(itemPoints(items[1], { result: 'count', count: 0 })).toBe(10)
    expect(itemPoints(items[1], { result: 'count', count: 3 })).toBe(4)
    expect(itemPoints(items[1], { result: 'count', count: 9 })).toBe(2)
    expect(itemPoints(items[1], { result: 'pass' })).toBe(10)
    expect(itemPoints(items[0], { result: 'not_applicable' })).toBeNull()
  })

  it('scores recorded items only, rounding to one decimal', () => {
    const s = computeScore(items, {
      a: { result: 'pass' },
      b: { result: 'count', count: 3 },
      c: { result: 'value', value: 2 },
    })
    expect(s).toEqual({ earned: 14, possible: 28, percent: 50, failed_items: 2, recorded_items: 3 })
    const s2 = computeScore(items, { a: { result: 'pass' }, b: { result: 'count', count: 1 }, d: { result: 'value', value: 60 } })
    // 22 of 24 = 91.666… -> 91.7
    expect(s2.percent).toBe(91.7)
    expect(formatScore(s2)).toEqual({ percent: '91.7', detail: '22/24' })
  })

  it('is 100 when nothing applicable was recorded', () => {
    const s = computeScore(items, { a: { result: 'not_applicable' } })
    expect(s.percent).toBe(100)
    expect(formatScore(s)).toEqual({ percent: '100.0', detail: '0/0' })
    expect(formatScore({ earned: 7.5, possible: 10, percent: 75, failed_items: 1, recorded_items: 2 }).detail).toBe('7.5/10')
  })

  it('bands scores for colour', () => {
    expect(scoreBand(95)).toBe('good')
    expect(scoreBand(80)).toBe('fair')
    expect(scoreBand(60)).toBe('poor')
  })
})
