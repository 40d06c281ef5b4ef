// Photos of the API (`/api/v1/volunteer/photos/{hash}`): the server wants the protocol header
// on every /api call, which an <img src> cannot send, so each photo is fetched (with the
// session cookie and the header) and shown from an object URL, as the console does. Kept for
// the page's life, the oldest let go past a bound: a phone's memory is small.
import { reactive } from 'vue'
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from './queue'

const MAX_KEPT = 120
const kept = reactive(new Map<string, string>())
const loading = new Set<string>()
const failed = reactive(new Set<string>())

function keep(url: string, objectUrl: string): void {
  kept.set(url, objectUrl)
  while (kept.size > MAX_KEPT) {
    const [oldest, obj] = kept.entries().next().value as [string, string]
    kept.delete(oldest)
    URL.revokeObjectURL(obj)
  }
}

async function load(url: string): Promise<void> {
  loading.add(url)
  try {
    const res = await fetch(url, { credentials: 'same-origin', headers: { [PROTOCOL_HEADER]: PROTOCOL_VERSION } })
    if (!res.ok) throw new Error(String(res.status))
    keep(url, URL.createObjectURL(await res.blob()))
  } catch {
    // Shown as an empty box; the next visit to the screen tries again.
    failed.add(url)
  } finally {
    loading.delete(url)
  }
}

/** What an <img> shows for a photo URL of the API: '' until it has loaded (reactive). */
export function photoSrc(url: string | null | undefined): string {
  if (!url) return ''
  const have = kept.get(url)
  if (have) return have
  if (!loading.has(url) && !failed.has(url)) void load(url)
  return ''
}

/** Lets failed photos be fetched again (a screen reloaded by the person). */
export function retryFailedPhotos(): void {
  failed.clear()
}
