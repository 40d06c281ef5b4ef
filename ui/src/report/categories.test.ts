import { describe, expect, it } from 'vitest'
import { groups, majorIcon, shortList } from './categories'
import { fitWithin } from './photo'

const cat = (code: string, major: string, majorName: string, common: boolean) => ({ code, name: code, major_code: major, major_name: majorName, common })

describe('category picker', () => {
  const all = [cat('SR-02', 'SR', '市容环境', true), cat('JT-01', 'JT', '交通秩序', true), cat('SR-01', 'SR', '市容环境', false), cat('ZZ-01', 'ZZ', '园林绿化', false)]

  it('gives each major class a picture, by code or by name', () => {
    expect(majorIcon(all[0])).toBe('🧹')
    expect(majorIcon(all[3])).toBe('🌳')
    expect(majorIcon({ major_code: 'QQ', major_name: '其他' })).toBe('📍')
  })

  it('groups by major class in the server order', () => {
    expect(groups(all).map((g) => [g.code, g.categories.map((c) => c.code)])).toEqual([
      ['SR', ['SR-02', 'SR-01']],
      ['JT', ['JT-01']],
      ['ZZ', ['ZZ-01']],
    ])
  })

  it('shows the common ones, plus one chosen from the full list', () => {
    expect(shortList(all, '').map((c) => c.code)).toEqual(['SR-02', 'JT-01'])
    expect(shortList(all, 'JT-01').map((c) => c.code)).toEqual(['SR-02', 'JT-01'])
    expect(shortList(all, 'ZZ-01').map((c) => c.code)).toEqual(['SR-02', 'JT-01', 'ZZ-01'])
  })
})

describe('photo size', () => {
  it('fits the long side within 2048 px, never enlarging', () => {
    expect(fitWithin(4032, 3024)).toEqual({ w: 2048, h: 1536 })
    expect(fitWithin(3024, 4032)).toEqual({ w: 1536, h: 2048 })
    expect(fitWithin(1280, 960)).toEqual({ w: 1280, h: 960 })
  })
})
