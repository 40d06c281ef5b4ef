import { describe, expect, it } from 'vitest'
import { clampIndex, firstUnrecorded, nextUnrecorded } from './stepper'

const ids = ['a', 'b', 'c', 'd']

describe('one-by-one navigation', () => {
  it('clamps', () => {
    expect(clampIndex(-1, 4)).toBe(0)
    expect(clampIndex(9, 4)).toBe(3)
    expect(clampIndex(2, 0)).toBe(0)
  })
  it('moves to the next unrecorded item, wrapping', () => {
    expect(nextUnrecorded(ids, {}, 0)).toBe(1)
    expect(nextUnrecorded(ids, { b: 1 }, 0)).toBe(2)
    expect(nextUnrecorded(ids, { a: 1, d: 1 }, 3)).toBe(1)
    expect(nextUnrecorded(ids, new Set(['a', 'b', 'c']), 1)).toBe(3)
  })
  it('stays put when all are recorded', () => {
    expect(nextUnrecorded(ids, { a: 1, b: 1, c: 1, d: 1 }, 2)).toBe(2)
  })
  it('opens at the first unrecorded item', () => {
    expect(firstUnrecorded(ids, { a: 1 })).toBe(1)
    expect(firstUnrecorded(ids, { a: 1, b: 1, c: 1, d: 1 })).toBe(3)
    expect(firstUnrecorded([], {})).toBe(0)
  })
})
