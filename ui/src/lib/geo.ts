// The device's position from the browser geolocation API (Tauri mobile uses the same API
// through its webview, or tauri-plugin-geolocation later). Always WGS-84, with its accuracy.
import type { Location } from './api'

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
