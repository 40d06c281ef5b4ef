import { describe, expect, it } from 'vitest'
import { addDays, customRange, percent, periodRange } from './period'
import { cityDay, cityWallToIso, formatTime, isoToCityWall } from './time'

describe('ranking periods', () => {
  it('this week starts on Monday', () => {
    // 2026-12-02 is a Wednesday.
    expect(periodRange('week', '2026-12-02')).toEqual({ from: '2026-11-30', to: '2026-12-02' })
    // A Sunday belongs to the week that began six days before.
    expect(periodRange('week', '2026-12-06')).toEqual({ from: '2026-11-30', to: '2026-12-06' })
    expect(periodRange('week', '2026-11-30')).toEqual({ from: '2026-11-30', to: '2026-11-30' })
    // Across a year's end.
    expect(periodRange('week', '2027-01-01')).toEqual({ from: '2026-12-28', to: '2027-01-01' })
  })

  it('month and quarter', () => {
    expect(periodRange('month', '2026-12-02')).toEqual({ from: '2026-12-01', to: '2026-12-02' })
    expect(periodRange('quarter', '2026-12-02')).toEqual({ from: '2026-10-01', to: '2026-12-02' })
    expect(periodRange('quarter', '2026-03-31')).toEqual({ from: '2026-01-01', to: '2026-03-31' })
    expect(periodRange('quarter', '2026-04-01')).toEqual({ from: '2026-04-01', to: '2026-04-01' })
  })

  it('custom ranges are put in order; days add across months', () => {
    expect(customRange('2026-11-30', '2026-11-01')).toEqual({ from: '2026-11-01', to: '2026-11-30' })
    expect(addDays('2026-02-28', 1)).toBe('2026-03-01')
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28')
  })

  it('rates as percentages', () => {
    expect(percent(0.8567)).toBe('85.7%')
    expect(percent(1)).toBe('100.0%')
    expect(percent(null)).toBe('—')
  })
})

describe('city time', () => {
  it('reads instants in the city zone, whatever the desk computer says', () => {
    // 16:30 UTC is half past midnight the next day in Beijing.
    expect(formatTime('2026-12-01T16:30:00Z', 480)).toBe('2026-12-02 00:30')
    expect(cityDay(Date.parse('2026-12-01T16:30:00Z'), 480)).toBe('2026-12-02')
    expect(cityDay(Date.parse('2026-12-01T15:59:00Z'), 480)).toBe('2026-12-01')
    expect(formatTime(null)).toBe('')
  })

  it('a picked city wall time is the right instant and back', () => {
    expect(cityWallToIso('2026-12-05T18:00:00', 480)).toBe('2026-12-05T10:00:00Z')
    expect(cityWallToIso('2026-12-05T06:00', 480)).toBe('2026-12-04T22:00:00Z')
    expect(isoToCityWall('2026-12-04T22:00:00Z', 480)).toBe('2026-12-05T06:00:00')
  })
})
