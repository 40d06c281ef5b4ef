import { afterEach, describe, expect, it } from 'vitest'
import { formatTime, reference } from './ui'
import { lang } from './i18n'
import type { Reference } from './api'

function city(utc_offset_minutes: number): Reference {
  return { districts: [], units: [], categories: [], point_types: [], users: [], utc_offset_minutes }
}

describe('formatTime', () => {
  afterEach(() => {
    reference.value = null
    lang.value = 'zh-CN'
  })

  it("shows an instant in the city's zone, not the phone's", () => {
    lang.value = 'en'
    // 15:30 UTC is 23:30 the same day in Beijing, 10:30 in a UTC-5 city.
    reference.value = city(480)
    expect(formatTime('2026-12-04T15:30:00Z')).toBe('04/12, 23:30')
    reference.value = city(-300)
    expect(formatTime('2026-12-04T15:30:00Z')).toBe('04/12, 10:30')
    // Past midnight in the city: the next day.
    reference.value = city(480)
    expect(formatTime(Date.parse('2026-12-04T16:30:00Z'))).toBe('05/12, 00:30')
  })

  it('shows nothing for no time', () => {
    expect(formatTime(null)).toBe('')
    expect(formatTime(undefined)).toBe('')
    expect(formatTime('')).toBe('')
    expect(formatTime('not a time')).toBe('')
  })
})
