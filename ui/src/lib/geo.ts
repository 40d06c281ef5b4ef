// The device's position from the browser geolocation API (Tauri mobile uses the same API
// through its webview, or tauri-plugin-geolocation later). Always WGS-84, with its accuracy.
import { onMounted, ref } from 'vue'
import type { Location } from './api'
import { t } from './i18n'
import { loadReference } from './session'
import { fail } from './ui'

export type FixError = 'denied' | 'unavailable'

export function currentFix(timeoutMs = 15000): Promise<Location> {
  return new Promise((resolve, reject) => {
    const g = globalThis.navigator?.geolocation
    if (!g) {
      reject('unavailable' satisfies FixError)
      return
    }
    g.getCurrentPosition(
      (p) =>
        resolve({
          lat: p.coords.latitude,
          lon: p.coords.longitude,
          accuracy_m: Math.round(p.coords.accuracy * 10) / 10,
          source: 'gps',
        }),
      (e) => reject((e.code === e.PERMISSION_DENIED ? 'denied' : 'unavailable') satisfies FixError),
      { enableHighAccuracy: true, timeout: timeoutMs, maximumAge: 30000 },
    )
  })
}

export function formatDistance(m: number | null | undefined, lang: string): string {
  if (m === null || m === undefined) return ''
  if (m < 1000) return `${Math.round(m)} ${lang === 'en' ? 'm' : '米'}`
  return `${(m / 1000).toFixed(1)} ${lang === 'en' ? 'km' : '公里'}`
}

/**
 * A list screen sorted by distance from the phone (points, today's tasks): `load` reads the
 * list for the current `fix`; on mounting it loads at once, then asks the GPS and loads again
 * nearest first. `locate` asks again (the screen's 定位 button).
 */
export function useNearestList(load: (fix: Location | null) => Promise<void>) {
  const fix = ref<Location | null>(null)
  const locating = ref(false)
  const loading = ref(false)
  async function reload() {
    loading.value = true
    try {
      await load(fix.value)
    } catch (e) {
      fail(e)
    } finally {
      loading.value = false
    }
  }
  async function locate() {
    locating.value = true
    try {
      fix.value = await currentFix()
    } catch (e) {
      fix.value = null
      fail(new Error(t(e === 'denied' ? 'gps_denied' : 'gps_unavailable')))
    } finally {
      locating.value = false
    }
    await reload()
  }
  onMounted(async () => {
    await loadReference().catch(fail)
    await reload()
    void locate()
  })
  return { fix, locating, loading, reload, locate }
}
