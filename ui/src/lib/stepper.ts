// "Items one by one" navigation for the inspection flow (pure; tested in stepper.test.ts).

export type InspectionMode = 'list' | 'one'

export function clampIndex(i: number, total: number): number {
  if (total <= 0) return 0
  return Math.min(Math.max(0, i), total - 1)
}

/**
 * The item to show after `current`: the next one not yet recorded, wrapping around to earlier
 * unrecorded ones; when every item is recorded, stays on `current`.
 */
export function nextUnrecorded(ids: string[], recorded: ReadonlySet<string> | Record<string, unknown>, current: number): number {
  const has = (id: string) => (recorded instanceof Set ? recorded.has(id) : id in recorded)
  const n = ids.length
  for (let step = 1; step <= n; step++) {
    const i = (current + step) % n
    if (!has(ids[i])) return i
  }
  return clampIndex(current, n)
}

/** The first unrecorded item (where a resumed inspection opens), else the last one. */
export function firstUnrecorded(ids: string[], recorded: Record<string, unknown>): number {
  const i = ids.findIndex((id) => !(id in recorded))
  return i >= 0 ? i : Math.max(0, ids.length - 1)
}

const KEY = 'fieldcheck.inspectionMode'

export function loadMode(): InspectionMode {
  try {
    return globalThis.localStorage?.getItem(KEY) === 'one' ? 'one' : 'list'
  } catch {
    return 'list'
  }
}

export function saveMode(m: InspectionMode): void {
  try {
    globalThis.localStorage?.setItem(KEY, m)
  } catch {
    /* no storage */
  }
}
