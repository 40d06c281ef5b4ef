import { describe, expect, it } from 'vitest'
import {
  defaultFilter,
  exportFilter,
  filterFromQuery,
  filterParams,
  filterToQuery,
  isFiltered,
  ledgerParams,
  sameQuery,
  type LedgerFilter,
} from './filters'

describe('ledger filter <-> router query', () => {
  it('the default filter is the bare URL and back', () => {
    expect(filterToQuery(defaultFilter())).toEqual({})
    expect(filterFromQuery({})).toEqual(defaultFilter())
    expect(isFiltered(defaultFilter())).toBe(false)
  })

  it('every field survives the round trip', () => {
    const f: LedgerFilter = {
      status: ['dispatched', 'reported'],
      category: 'SR-02',
      unit: 'U-CG',
      district: 'D-GL',
      point: 'P-001',
      point_type: 'farmers_market',
      source: 'volunteer',
      reporter: 'u-insp-1',
      from: '2026-10-01',
      to: '2026-11-30',
      dispatched_from: '2026-11-02',
      dispatched_to: '2026-11-08',
      overdue: 'true',
      conflicts: true,
      q: '占道 经营',
      sort: 'deadline',
      order: 'asc',
      page: 3,
      size: 100,
    }
    const q = filterToQuery(f)
    // Statuses in lifecycle order, so the same view has one URL.
    expect(q.status).toBe('reported,dispatched')
    const back = filterFromQuery(q)
    expect(back).toEqual({ ...f, status: ['reported', 'dispatched'] })
    // Through a real URL (encoding of Chinese text, commas).
    const url = new URLSearchParams(q).toString()
    const parsed = Object.fromEntries(new URLSearchParams(url))
    expect(filterFromQuery(parsed)).toEqual(back)
    expect(sameQuery(q, parsed)).toBe(true)
  })

  it('drops what it does not understand instead of failing', () => {
    const f = filterFromQuery({
      status: 'reported,bogus,,reported',
      source: 'fax',
      from: '1.10.2026',
      to: ['2026-11-30', '2026-12-01'],
      overdue: 'maybe',
      sort: 'code',
      order: 'up',
      page: '-2',
      size: '7',
      conflicts: '1',
    })
    expect(f).toEqual({ ...defaultFilter(), status: ['reported'], to: '2026-11-30' })
  })

  it('gives the API only what is set, paging as limit/offset', () => {
    const f = { ...defaultFilter(), status: ['closed', 'verified'] as LedgerFilter['status'], q: ' 垃圾 ', page: 2, size: 20 }
    expect(filterParams(f)).toEqual({ status: 'verified,closed', q: '垃圾' })
    expect(ledgerParams(f)).toEqual({
      status: 'verified,closed',
      q: '垃圾',
      sort: 'reported_at',
      order: 'desc',
      limit: '20',
      offset: '20',
    })
    expect(filterParams({ ...defaultFilter(), overdue: 'false', conflicts: true })).toEqual({
      overdue: 'false',
      conflicts: 'true',
    })
  })

  it('tells a different view apart', () => {
    expect(sameQuery({ unit: 'U1' }, { unit: 'U2' })).toBe(false)
    expect(sameQuery({}, { page: '1' })).toBe(true)
  })
})

describe('an export carries the ledger view', () => {
  it('the filter and sort, yes/no filters as JSON booleans, never the page', () => {
    const f = filterFromQuery({ status: 'closed,verified', overdue: 'false', conflicts: 'true', q: '井盖', sort: 'deadline', order: 'asc', page: '3' })
    expect(exportFilter(f)).toEqual({
      status: 'verified,closed',
      q: '井盖',
      overdue: false,
      conflicts: true,
      sort: 'deadline',
      order: 'asc',
    })
    expect(exportFilter(defaultFilter())).toEqual({ sort: 'reported_at', order: 'desc' })
  })
})
