// The ledger's (and the map's) filter, and its two outer forms: the router query, so a link
// reproduces the view, and the API's query parameters. The URL carries only what differs from
// the defaults, so the plain /ledger link is the whole ledger.
import type { ProblemSource, ProblemStatus } from './wire'

export const STATUSES: readonly ProblemStatus[] = [
  'reported',
  'filed',
  'rejected',
  'dispatched',
  'rectifying',
  'returned',
  'rectified',
  'verified',
  'closed',
  'reopened',
]
export const SOURCES: readonly ProblemSource[] = ['inspection', 'quick_report', 'volunteer']
export const SORTS = ['reported_at', 'deadline', 'updated_at'] as const
export type Sort = (typeof SORTS)[number]
export type Order = 'asc' | 'desc'
export const PAGE_SIZES = [20, 50, 100, 200] as const

export interface LedgerFilter {
  status: ProblemStatus[]
  category: string
  unit: string
  district: string
  point: string
  point_type: string
  source: ProblemSource | ''
  reporter: string
  /** Reported on or after this city day (YYYY-MM-DD). */
  from: string
  to: string
  /** Dispatched on or after this city day: what the ranking counts as received in a period. */
  dispatched_from: string
  dispatched_to: string
  overdue: '' | 'true' | 'false'
  conflicts: boolean
  q: string
  sort: Sort
  order: Order
  /** 1-based. */
  page: number
  size: number
}

export function defaultFilter(): LedgerFilter {
  return {
    status: [],
    category: '',
    unit: '',
    district: '',
    point: '',
    point_type: '',
    source: '',
    reporter: '',
    from: '',
    to: '',
    dispatched_from: '',
    dispatched_to: '',
    overdue: '',
    conflicts: false,
    q: '',
    sort: 'reported_at',
    order: 'desc',
    page: 1,
    size: 50,
  }
}

/** What vue-router gives for a query value. */
export type QueryValue = string | null | (string | null)[] | undefined
export type RouteQuery = Record<string, QueryValue>

function one(v: QueryValue): string {
  const s = Array.isArray(v) ? v[0] : v
  return typeof s === 'string' ? s.trim() : ''
}

const DAY = /^\d{4}-\d{2}-\d{2}$/
const TEXT_KEYS = ['category', 'unit', 'district', 'point', 'point_type', 'reporter', 'q'] as const
const DAY_KEYS = ['from', 'to', 'dispatched_from', 'dispatched_to'] as const

/** A router query -> a filter; unknown or malformed values fall back to the default (a
 * hand-edited link shows the nearest sensible view rather than an error). */
export function filterFromQuery(query: RouteQuery): LedgerFilter {
  const f = defaultFilter()
  const statuses = one(query.status)
    .split(',')
    .map((s) => s.trim())
    .filter((s): s is ProblemStatus => (STATUSES as readonly string[]).includes(s))
  f.status = [...new Set(statuses)]
  for (const k of TEXT_KEYS) f[k] = one(query[k]).slice(0, 100)
  const source = one(query.source)
  if ((SOURCES as readonly string[]).includes(source)) f.source = source as ProblemSource
  for (const k of DAY_KEYS) {
    const v = one(query[k])
    if (DAY.test(v)) f[k] = v
  }
  const overdue = one(query.overdue)
  if (overdue === 'true' || overdue === 'false') f.overdue = overdue
  f.conflicts = one(query.conflicts) === 'true'
  const sort = one(query.sort)
  if ((SORTS as readonly string[]).includes(sort)) f.sort = sort as Sort
  const order = one(query.order)
  if (order === 'asc' || order === 'desc') f.order = order
  const page = Number.parseInt(one(query.page), 10)
  if (Number.isFinite(page) && page >= 1) f.page = page
  const size = Number.parseInt(one(query.size), 10)
  if ((PAGE_SIZES as readonly number[]).includes(size)) f.size = size
  return f
}

/** A filter -> the router query: only what differs from the default, in a stable order. */
export function filterToQuery(f: LedgerFilter): Record<string, string> {
  const d = defaultFilter()
  const q: Record<string, string> = {}
  if (f.status.length) q.status = STATUSES.filter((s) => f.status.includes(s)).join(',')
  for (const k of TEXT_KEYS) if (f[k].trim()) q[k] = f[k].trim()
  if (f.source) q.source = f.source
  for (const k of DAY_KEYS) if (f[k]) q[k] = f[k]
  if (f.overdue) q.overdue = f.overdue
  if (f.conflicts) q.conflicts = 'true'
  if (f.sort !== d.sort) q.sort = f.sort
  if (f.order !== d.order) q.order = f.order
  if (f.page !== d.page) q.page = String(f.page)
  if (f.size !== d.size) q.size = String(f.size)
  return q
}

/** The filter part only (what /console/map takes too): no sort or paging. */
export function filterParams(f: LedgerFilter): Record<string, string> {
  const p: Record<string, string> = {}
  if (f.status.length) p.status = STATUSES.filter((s) => f.status.includes(s)).join(',')
  for (const k of TEXT_KEYS) if (f[k].trim()) p[k] = f[k].trim()
  if (f.source) p.source = f.source
  for (const k of DAY_KEYS) if (f[k]) p[k] = f[k]
  if (f.overdue) p.overdue = f.overdue
  if (f.conflicts) p.conflicts = 'true'
  return p
}

/** The ledger call's parameters: the filter, the sort and the page as limit/offset. */
export function ledgerParams(f: LedgerFilter): Record<string, string> {
  return {
    ...filterParams(f),
    sort: f.sort,
    order: f.order,
    limit: String(f.size),
    offset: String((f.page - 1) * f.size),
  }
}

/** The filter and sort as an export's `filter` (JSON: yes/no filters are booleans there). */
export function exportFilter(f: LedgerFilter): Record<string, string | boolean> {
  const p: Record<string, string | boolean> = { ...filterParams(f), sort: f.sort, order: f.order }
  if (f.overdue) p.overdue = f.overdue === 'true'
  if (f.conflicts) p.conflicts = true
  return p
}

/** Same view? (to skip a reload when the URL is rewritten to what is already shown). */
export function sameQuery(a: Record<string, string>, b: RouteQuery): boolean {
  const norm = filterToQuery(filterFromQuery(b))
  const ka = Object.keys(a).sort()
  const kb = Object.keys(norm).sort()
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === norm[k])
}

/** Whether the filter narrows anything beyond the defaults (sort and paging aside). */
export function isFiltered(f: LedgerFilter): boolean {
  return Object.keys(filterParams(f)).length > 0
}
