// The page's one outbox (see `queue.ts`) and when it sends: at start, when the phone comes
// online, when the page is shown again, and on a timer at the next retry the backoff allows.
import { computed, ref, shallowRef } from 'vue'
import { browserLock, idbStore, memoryStore, Queue, type FlushResult, type QueueItem, type QueuedPhoto, type ReportFields } from './queue'
import { fetchMe, me } from './api'

export const items = shallowRef<QueueItem[]>([])
export const sendingId = ref<string | null>(null)
export const needsJoin = ref(false)
export const waiting = computed(() => items.value.filter((i) => i.state === 'queued').length)
export const failed = computed(() => items.value.filter((i) => i.state === 'failed').length)

const queue = new Queue({
  store: typeof indexedDB === 'undefined' ? memoryStore() : idbStore(),
  // Bound: some WebViews throw "Illegal invocation" for a detached window.fetch.
  fetch: (input, init) => fetch(input, init),
  csrf: () => me.value?.csrf_token ?? null,
  refreshCsrf: async () => (await fetchMe())?.csrf_token ?? null,
  lock: browserLock(),
  onChange: (list, sending) => {
    items.value = list
    sendingId.value = sending
  },
})

/** Told about every item the server took (a toast with its code). */
let onSent: (r: FlushResult) => void = () => {}
export function setSentHandler(f: (r: FlushResult) => void): void {
  onSent = f
}

let lastTold: FlushResult | null = null
let timer: ReturnType<typeof setTimeout> | null = null

async function schedule(skipped: boolean): Promise<void> {
  if (timer) clearTimeout(timer)
  timer = null
  // Another tab was sending: look again shortly (its sends change what this tab shows).
  const due = skipped ? Date.now() + 15_000 : await queue.nextDue()
  if (due === null) return
  timer = setTimeout(() => void flush(false).catch(() => undefined), Math.max(1_000, due - Date.now()))
}

export async function flush(force = true): Promise<FlushResult> {
  const r = await queue.flush({ force })
  needsJoin.value = queue.needsJoin
  items.value = await queue.items()
  // Callers that joined one run get the same result: tell about it once.
  if (r.sent.length && r !== lastTold) {
    lastTold = r
    onSent(r)
  }
  await schedule(r.skipped)
  return r
}

export async function addReport(fields: ReportFields, photo: QueuedPhoto | null): Promise<QueueItem> {
  return queue.addReport(fields, photo)
}

export async function addPhoto(target: { id: string; code: string }, photo: QueuedPhoto): Promise<QueueItem> {
  return queue.addPhoto(target, photo)
}

export async function removeItem(id: string): Promise<void> {
  await queue.remove(id)
}

export async function retryItem(id: string): Promise<void> {
  await queue.retry(id)
  await flush().catch(() => undefined)
}

let started = false
export function startOutbox(): void {
  if (started) return
  started = true
  queue
    .items()
    .then((list) => (items.value = list))
    .catch(() => undefined)
  void flush().catch(() => undefined)
  globalThis.addEventListener?.('online', () => void flush().catch(() => undefined))
  globalThis.document?.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') void flush().catch(() => undefined)
  })
}
