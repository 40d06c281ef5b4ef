// Photos through the API client: the server wants the protocol header on every /api call,
// which an <img src> cannot send, so the console fetches each photo (with the session cookie
// and the header) and shows it from an object URL. Kept for the session, the oldest let go
// past a bound so a long day at the desk does not hold every photo it saw.
import { reactive } from 'vue'
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from './api'

const MAX_KEPT = 200
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
    failed.add(url)
  } finally {
    loading.delete(url)
  }
}

/** What an <img> shows for a photo URL of the API: '' until it has loaded (reactive). */
export function photoSrc(url: string): string {
  const have = kept.get(url)
  if (have) return have
  if (!loading.has(url) && !failed.has(url)) void load(url)
  return ''
}

/** A photo just uploaded: show the file the user picked, no round trip. */
export function rememberPhoto(url: string, file: Blob): void {
  if (!kept.has(url)) keep(url, URL.createObjectURL(file))
}
