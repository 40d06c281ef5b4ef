// Photos of the server's API (the console's `/api/v1/console/photos/…`, the volunteers' page's
// `/api/v1/volunteer/photos/…`): the server wants the protocol header on every /api call, which
// an <img src> cannot send, so each photo is fetched (with the session cookie and the header)
// and shown from an object URL. Kept while the page lives, the oldest let go past `maxKept`.
import { reactive } from 'vue'

export interface PhotoCache {
  /** What an <img> shows for a photo URL of the API: '' until it has loaded (reactive). */
  photoSrc(url: string | null | undefined): string
  /** A photo just uploaded: show the file the user picked, no round trip. */
  rememberPhoto(url: string, file: Blob): void
  /** Lets failed photos be fetched again (a screen reloaded by the person). */
  retryFailedPhotos(): void
}

export function photoCache(maxKept: number, headers: Record<string, string>): PhotoCache {
  const kept = reactive(new Map<string, string>())
  const loading = new Set<string>()
  const failed = reactive(new Set<string>())

  function keep(url: string, objectUrl: string): void {
    kept.set(url, objectUrl)
    while (kept.size > maxKept) {
      const [oldest, obj] = kept.entries().next().value as [string, string]
      kept.delete(oldest)
      URL.revokeObjectURL(obj)
    }
  }

  async function load(url: string): Promise<void> {
    loading.add(url)
    try {
      const res = await fetch(url, { credentials: 'same-origin', headers })
      if (!res.ok) throw new Error(String(res.status))
      keep(url, URL.createObjectURL(await res.blob()))
    } catch {
      // Shown as an empty box; `retryFailedPhotos` or the next page load tries again.
      failed.add(url)
    } finally {
      loading.delete(url)
    }
  }

  return {
    photoSrc(url) {
      if (!url) return ''
      const have = kept.get(url)
      if (have) return have
      if (!loading.has(url) && !failed.has(url)) void load(url)
      return ''
    },
    rememberPhoto(url, file) {
      if (!kept.has(url)) keep(url, URL.createObjectURL(file))
    },
    retryFailedPhotos() {
      failed.clear()
    },
  }
}
