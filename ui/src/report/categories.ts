// The category picker's pictures and groups. PublicCategory has no icon: a picture per major
// class, by the city's major codes (the demo's) and else by words in its name.
import type { PublicCategory } from './api'

const BY_CODE: Record<string, string> = {
  SR: '🧹',
  XC: '📋',
  SG: '🚧',
  JM: '🛒',
  TF: '🚨',
  JT: '🚦',
  GY: '📢',
  SS: '💡',
}

const BY_WORD: [RegExp, string][] = [
  [/垃圾|卫生|环境|清洁|市容/, '🧹'],
  [/广告|招牌|涂/, '📋'],
  [/施工|工地|建设/, '🚧'],
  [/经营|摊|市场|街面/, '🛒'],
  [/突发|应急|安全/, '🚨'],
  [/交通|停车|车/, '🚦'],
  [/宣传|公益/, '📢'],
  [/设施|路灯|井盖/, '💡'],
  [/绿|树|园林/, '🌳'],
  [/水|河/, '💧'],
]

export function majorIcon(c: Pick<PublicCategory, 'major_code' | 'major_name'>): string {
  return BY_CODE[c.major_code] ?? BY_WORD.find(([re]) => re.test(c.major_name))?.[1] ?? '📍'
}

export interface MajorGroup {
  code: string
  name: string
  icon: string
  categories: PublicCategory[]
}

/** All categories by major class, in the server's order (most reported first). */
export function groups(all: PublicCategory[]): MajorGroup[] {
  const by = new Map<string, MajorGroup>()
  for (const c of all) {
    let g = by.get(c.major_code)
    if (!g) {
      g = { code: c.major_code, name: c.major_name, icon: majorIcon(c), categories: [] }
      by.set(c.major_code, g)
    }
    g.categories.push(c)
  }
  return [...by.values()]
}

/** The short grid: the common ones, plus the chosen one when it came from "更多". */
export function shortList(all: PublicCategory[], chosen: string): PublicCategory[] {
  const common = all.filter((c) => c.common)
  const list = common.length ? common : all.slice(0, 8)
  const extra = chosen && !list.some((c) => c.code === chosen) ? all.filter((c) => c.code === chosen) : []
  return [...list, ...extra]
}
