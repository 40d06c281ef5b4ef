import { describe, expect, it } from 'vitest'
import { categoryTree, districtTree } from './reference'
import { queryString } from './api'
import type { ConsoleRefCategory, ConsoleRefDistrict } from './wire'

const d = (id: string, parent_id: string | null, level: ConsoleRefDistrict['level']): ConsoleRefDistrict => ({
  id,
  name: id.toUpperCase(),
  name_en: '',
  parent_id,
  level,
})

describe('filter trees', () => {
  it('districts nest under their parents; an unknown parent makes a root', () => {
    const tree = districtTree([d('d-gl', null, 'district'), d('s-dj', 'd-gl', 'street'), d('c-dm', 's-dj', 'community'), d('s-x', 'd-missing', 'street')])
    expect(tree).toEqual([
      { value: 'd-gl', label: 'D-GL', children: [{ value: 's-dj', label: 'S-DJ', children: [{ value: 'c-dm', label: 'C-DM' }] }] },
      { value: 's-x', label: 'S-X' },
    ])
  })

  it('categories group under their major class, whose code filters the whole class', () => {
    const c = (id: string, major_code: string, major: string): ConsoleRefCategory => ({
      id,
      name: id,
      name_en: '',
      major_code,
      major,
      major_en: '',
      deadline: { amount: 1, unit: 'working_days' },
      deadline_text: '1 个工作日',
      deadline_text_en: '1 working day',
    })
    const tree = categoryTree([c('SR-01', 'SR', '市容环境'), c('JT-07', 'JT', '交通秩序'), c('SR-02', 'SR', '市容环境')])
    expect(tree.map((g) => [g.value, g.label, g.children?.map((x) => x.value)])).toEqual([
      ['SR', '市容环境（SR）', ['SR-01', 'SR-02']],
      ['JT', '交通秩序（JT）', ['JT-07']],
    ])
  })
})

describe('query strings', () => {
  it('leave out what is not set (the server refuses empty dates)', () => {
    expect(queryString({ status: 'reported', from: '', to: null, unit: undefined, overdue: false, limit: 50 })).toBe('?status=reported&overdue=false&limit=50')
    expect(queryString({})).toBe('')
  })
})
