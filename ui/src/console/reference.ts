// The reference data the filters offer and the tables name things by (districts, units,
// categories, points, point types, the city's zone), loaded once per session.
import { computed, shallowRef } from 'vue'
import { consoleApi } from './api'
import { lang, nameText } from './i18n'
import { cityOffsetMinutes } from './time'
import type { ConsoleRefDistrict, ConsoleReference } from './wire'

export const reference = shallowRef<ConsoleReference | null>(null)
let loading: Promise<ConsoleReference> | null = null

export function loadReference(force = false): Promise<ConsoleReference> {
  if (reference.value && !force) return Promise.resolve(reference.value)
  if (!loading || force) {
    loading = consoleApi
      .reference()
      .then((r) => {
        reference.value = r
        if (r.calendar && Number.isFinite(r.calendar.utc_offset_minutes)) cityOffsetMinutes.value = r.calendar.utc_offset_minutes
        return r
      })
      .finally(() => {
        loading = null
      })
  }
  return loading
}

function byId<T extends { id: string }>(list: T[] | undefined): Map<string, T> {
  return new Map((list ?? []).map((x) => [x.id, x]))
}

/** The basemaps this city's console offers: Tianditu only with the city's key. */
export const tileChoices = computed(() => [
  { value: 'none', key: 'map_tiles_none' as const },
  ...(reference.value?.tianditu_key ? [{ value: 'tianditu', key: 'map_tiles_tianditu' as const }] : []),
  { value: 'osm', key: 'map_tiles_osm' as const },
  { value: 'amap', key: 'map_tiles_amap' as const },
])

/** A stored basemap choice that this city still offers, else none. */
export function offeredTile(id: string): string {
  return tileChoices.value.some((c) => c.value === id) ? id : 'none'
}

/** The tile setting of a basemap choice (Tianditu with the city's key). */
export function tileSetting(id: string) {
  return { id, key: reference.value?.tianditu_key ?? undefined }
}

const units = computed(() => byId(reference.value?.units))
const districts = computed(() => byId(reference.value?.districts))
const categories = computed(() => byId(reference.value?.categories))
const points = computed(() => byId(reference.value?.points))
const pointTypes = computed(() => byId(reference.value?.point_types))

export const unitName = (id: string | null | undefined) => (id ? nameText(units.value.get(id)) || id : '')
export const districtName = (id: string | null | undefined) => (id ? nameText(districts.value.get(id)) || id : '')
export const categoryName = (id: string | null | undefined) => (id ? nameText(categories.value.get(id)) || id : '')
export const pointName = (id: string | null | undefined) => (id ? nameText(points.value.get(id)) || id : '')
export const pointTypeName = (id: string | null | undefined) => (id ? nameText(pointTypes.value.get(id)) || id : '')

export interface TreeOption {
  value: string
  label: string
  children?: TreeOption[]
}

/** Districts as a tree for el-tree-select (a district filter includes everything below). */
export function districtTree(list: ConsoleRefDistrict[]): TreeOption[] {
  const ids = new Set(list.map((d) => d.id))
  const kids = new Map<string | null, ConsoleRefDistrict[]>()
  for (const d of list) {
    const parent = d.parent_id && ids.has(d.parent_id) ? d.parent_id : null
    kids.set(parent, [...(kids.get(parent) ?? []), d])
  }
  const build = (parent: string | null, seen: Set<string>): TreeOption[] =>
    (kids.get(parent) ?? []).map((d) => {
      const next = new Set(seen).add(d.id)
      const children = seen.has(d.id) ? [] : build(d.id, next)
      return { value: d.id, label: nameText(d), ...(children.length ? { children } : {}) }
    })
  return build(null, new Set())
}

/** Categories grouped by their major class; choosing the class (its code, e.g. `SR`) filters
 * for every minor category in it. */
export function categoryTree(list: ConsoleReference['categories']): TreeOption[] {
  const groups = new Map<string, TreeOption>()
  for (const c of list) {
    const g = groups.get(c.major_code) ?? {
      value: c.major_code,
      label: `${nameText({ name: c.major, name_en: c.major_en })}（${c.major_code}）`,
      children: [],
    }
    g.children!.push({ value: c.id, label: `${nameText(c)}（${c.id}）` })
    groups.set(c.major_code, g)
  }
  return [...groups.values()]
}

/** A category's handling deadline in words. */
export function categoryDeadline(id: string): string {
  const c = categories.value.get(id)
  if (!c) return ''
  return lang.value === 'en' && c.deadline_text_en ? c.deadline_text_en : c.deadline_text
}
