// What the page knows before it shows a screen: the person (`me`) and the city (categories,
// the anonymous switch). Both are kept in localStorage as last seen, so a page opened without
// a connection still shows the form and files the report into the outbox.
import { ref, shallowRef } from 'vue'
import { api, fetchMe, me, type PublicCity, type VolunteerMe } from './api'

export const city = shallowRef<PublicCity | null>(null)
/** `me` has been asked (or could not be). */
export const ready = ref(false)
/** The last `me` or `city` came from the phone's copy: the server could not be reached. */
export const offline = ref(false)

const ME_KEY = 'fieldcheck.report.me'
const CITY_KEY = 'fieldcheck.report.city'

function readCache<T>(key: string): T | null {
  try {
    const s = globalThis.localStorage?.getItem(key)
    return s ? (JSON.parse(s) as T) : null
  } catch {
    return null
  }
}

function writeCache(key: string, v: unknown): void {
  try {
    if (v === null) globalThis.localStorage?.removeItem(key)
    else globalThis.localStorage?.setItem(key, JSON.stringify(v))
  } catch {
    /* private mode: no copy */
  }
}

export function remember(v: VolunteerMe | null): void {
  writeCache(ME_KEY, v)
}

/** Asks the server who this is; a failure to reach it keeps the last known answer. */
export async function refreshMe(): Promise<VolunteerMe | null> {
  try {
    const m = await fetchMe()
    remember(m)
    offline.value = false
    return m
  } catch {
    // No connection, or the server is down: the last answer stands (a 401 is not an error
    // here, it is `null`).
    offline.value = true
    me.value ??= readCache<VolunteerMe>(ME_KEY)
    return me.value
  } finally {
    ready.value = true
  }
}

export async function loadCity(): Promise<PublicCity | null> {
  try {
    city.value = await api.city()
    writeCache(CITY_KEY, city.value)
  } catch {
    city.value ??= readCache<PublicCity>(CITY_KEY)
  }
  return city.value
}

export function boot(): Promise<unknown> {
  return Promise.all([refreshMe(), loadCity()])
}

/** Reporting is open to an approved volunteer and to an anonymous citizen. */
export function canReport(m: VolunteerMe | null): boolean {
  return m?.status === 'approved' || m?.status === 'anonymous'
}
