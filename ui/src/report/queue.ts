// The outbox of the public report page. A report (or a photo added to someone else's report) is
// written to IndexedDB with its photo before the first byte goes out, and leaves the outbox only
// when the server has answered 2xx. The server makes a resend land once by the client-made id,
// so every send of an item carries the same id and the same fields, stored once and never
// changed. Kept free of Vue and the DOM so it runs under vitest with an injected fetch.
import { createStore, promisifyRequest, type UseStore } from 'idb-keyval'

export const API = '/api/v1/volunteer'
export const PROTOCOL_HEADER = 'x-fieldcheck-protocol'
export const PROTOCOL_VERSION = '1'

/** Bytes, not a Blob: older iOS WebViews fail to store Blobs in IndexedDB. */
export interface QueuedPhoto {
  bytes: ArrayBuffer
  type: string
  name: string
}

export interface ReportFields {
  category: string
  /** WGS-84, as the browser gives it (or the pin, converted back from the tiles' datum). Both
   * or neither: without them the address alone places the report (the server takes either). */
  lat?: number
  lon?: number
  accuracy_m: number | null
  address: string
  description: string
}

export interface ItemError {
  /** 0: no answer (network). */
  status: number
  code: string
  message: string
}

export interface QueueItem {
  /** Client-made UUID, sent as the `id` field on every attempt. */
  id: string
  kind: 'report' | 'photo'
  /** kind 'photo': the report the photo is added to. */
  target: { id: string; code: string } | null
  /** kind 'report' only. */
  fields: ReportFields | null
  photo: QueuedPhoto | null
  created_at: number
  /** 'failed': refused for good (a 4xx); kept until the person deletes it. */
  state: 'queued' | 'failed'
  attempts: number
  /** Not sent again before this (ms since epoch) unless forced. */
  next_at: number
  error: ItemError | null
}

export interface Accepted {
  id: string
  code: string
  already: boolean
}

export interface SentItem {
  item: QueueItem
  accepted: Accepted
}

export interface FlushResult {
  sent: SentItem[]
  /** Ids refused for good during this run. */
  failed: string[]
  /** Items left queued after a network failure, 5xx or 429. */
  kept: number
  /** The server no longer knows this browser (401): the person must join again. */
  unauthorized: boolean
  /** Another tab was sending. */
  skipped: boolean
}

// --- storage ---------------------------------------------------------------------------------

export interface QueueStore {
  all(): Promise<QueueItem[]>
  put(item: QueueItem): Promise<void>
  /** Changes an item only if it is still there (a concurrent delete wins). */
  patch(id: string, change: Partial<QueueItem>): Promise<void>
  remove(id: string): Promise<void>
}

export function idbStore(dbName = 'fieldcheck-report', storeName = 'outbox'): QueueStore {
  let use: UseStore | null = null
  const store = (): UseStore => (use ??= createStore(dbName, storeName))
  return {
    all: () => store()('readonly', (s) => promisifyRequest(s.getAll() as IDBRequest<QueueItem[]>)),
    put: (item) => store()('readwrite', (s) => promisifyRequest(s.put(item, item.id)).then(() => undefined)),
    patch: (id, change) =>
      store()('readwrite', async (s) => {
        const old = (await promisifyRequest(s.get(id))) as QueueItem | undefined
        if (old) await promisifyRequest(s.put({ ...old, ...change }, id))
      }),
    remove: (id) => store()('readwrite', (s) => promisifyRequest(s.delete(id)).then(() => undefined)),
  }
}

/** Where IndexedDB is missing altogether: the page still sends, it just cannot outlive a reload. */
export function memoryStore(): QueueStore {
  const m = new Map<string, QueueItem>()
  return {
    all: async () => [...m.values()].map((i) => ({ ...i })),
    put: async (item) => void m.set(item.id, { ...item }),
    patch: async (id, change) => {
      const old = m.get(id)
      if (old) m.set(id, { ...old, ...change })
    },
    remove: async (id) => void m.delete(id),
  }
}

// --- ids, locks, backoff ---------------------------------------------------------------------

/** A v4 UUID; `crypto.randomUUID` is missing on plain http and in WebViews older than 2021. */
export function newId(): string {
  const c = globalThis.crypto
  if (c && typeof c.randomUUID === 'function') return c.randomUUID()
  const b = new Uint8Array(16)
  if (c && typeof c.getRandomValues === 'function') c.getRandomValues(b)
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256)
  b[6] = (b[6] & 0x0f) | 0x40
  b[8] = (b[8] & 0x3f) | 0x80
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/** One sender across tabs: `run` returns undefined without calling `f` when another tab holds it. */
export interface FlushLock {
  run<T>(f: () => Promise<T>): Promise<T | undefined>
}

const LOCK_NAME = 'fieldcheck-report-outbox'

/**
 * Web Locks where the browser has them; else a flag in localStorage with an expiry, so a tab
 * closed mid-send does not block the others for long. The flag is not atomic, and a send that
 * outlasts it may overlap another tab's: a rare double send, which the server answers with
 * `already: true`.
 */
export function browserLock(ttlMs = 180_000): FlushLock {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks
  if (locks && typeof locks.request === 'function') {
    return {
      run: <T>(f: () => Promise<T>) =>
        locks.request(LOCK_NAME, { ifAvailable: true }, async (lock) => (lock ? f() : undefined)) as Promise<T | undefined>,
    }
  }
  const me = newId()
  const key = `fieldcheck.${LOCK_NAME}`
  return {
    async run<T>(f: () => Promise<T>): Promise<T | undefined> {
      let ls: Storage | undefined
      try {
        ls = globalThis.localStorage
      } catch {
        ls = undefined
      }
      if (!ls) return f()
      try {
        const held = JSON.parse(ls.getItem(key) ?? 'null') as { owner: string; until: number } | null
        if (held && held.owner !== me && held.until > Date.now()) return undefined
        ls.setItem(key, JSON.stringify({ owner: me, until: Date.now() + ttlMs }))
      } catch {
        return f()
      }
      try {
        return await f()
      } finally {
        try {
          const held = JSON.parse(ls.getItem(key) ?? 'null') as { owner: string } | null
          if (held?.owner === me) ls.removeItem(key)
        } catch {
          /* storage gone */
        }
      }
    },
  }
}

/** 5 s, 10 s, 20 s … capped at 10 minutes. */
export function backoffMs(attempts: number): number {
  return Math.min(5_000 * 2 ** Math.max(0, attempts - 1), 600_000)
}

/** Retry-After in seconds or as an HTTP date; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number): number | null {
  if (!header) return null
  const s = Number(header)
  if (Number.isFinite(s)) return Math.max(0, s * 1000)
  const at = Date.parse(header)
  return Number.isFinite(at) ? Math.max(0, at - now) : null
}

export type Verdict = 'sent' | 'retry' | 'unauthorized' | 'csrf' | 'failed'

/** What an answer means for the item. */
export function classify(status: number, code: string): Verdict {
  if (status >= 200 && status < 300) return 'sent'
  if (status === 401) return 'unauthorized'
  if (status === 403 && code === 'csrf_rejected') return 'csrf'
  if (status === 408 || status === 429 || status >= 500) return 'retry'
  // Any other 4xx can never be accepted as it is.
  if (status >= 400) return 'failed'
  return 'retry'
}

// --- the queue -------------------------------------------------------------------------------

export interface QueueOptions {
  store: QueueStore
  fetch: typeof fetch
  /** The CSRF token of the last `me`. */
  csrf: () => string | null
  /** Asks `me` again after a `csrf_rejected`; the new token, or null. */
  refreshCsrf: () => Promise<string | null>
  lock?: FlushLock
  now?: () => number
  /** After every change of the stored items or of the one being sent. */
  onChange?: (items: QueueItem[], sending: string | null) => void
}

interface Answer {
  status: number
  code: string
  message: string
  retryAfter: string | null
  body: unknown
}

export class Queue {
  /** The item on the wire right now, if any. */
  sending: string | null = null
  /** Set by a 401, cleared by the next accepted send. */
  needsJoin = false
  private pausedUntil = 0
  private running: Promise<FlushResult> | null = null
  private again = false
  private againForce = false
  private readonly now: () => number

  constructor(private readonly opts: QueueOptions) {
    this.now = opts.now ?? Date.now
  }

  /** Oldest first. */
  async items(): Promise<QueueItem[]> {
    return (await this.opts.store.all()).sort((a, b) => a.created_at - b.created_at)
  }

  async addReport(fields: ReportFields, photo: QueuedPhoto | null, id = newId()): Promise<QueueItem> {
    return this.add({ ...this.fresh(id), kind: 'report', fields: { ...fields }, photo: photo && plainPhoto(photo) })
  }

  async addPhoto(target: { id: string; code: string }, photo: QueuedPhoto, id = newId()): Promise<QueueItem> {
    return this.add({ ...this.fresh(id), kind: 'photo', target: { id: target.id, code: target.code }, photo: plainPhoto(photo) })
  }

  async remove(id: string): Promise<void> {
    await this.opts.store.remove(id)
    await this.changed()
  }

  /** A failed item back in line (the person thinks the cause is gone). Same id, same fields. */
  async retry(id: string): Promise<void> {
    await this.opts.store.patch(id, { state: 'queued', next_at: 0 })
    await this.changed()
  }

  /** When the next unforced flush has something to do; null when nothing is waiting. */
  async nextDue(): Promise<number | null> {
    const due = (await this.items()).filter((i) => i.state === 'queued').map((i) => i.next_at)
    if (!due.length) return null
    return Math.max(this.pausedUntil, Math.min(...due))
  }

  /**
   * Sends what is due, oldest first, one at a time. `force` ignores the backoff (the phone came
   * online, the page was opened). A call while a run is going joins it: the run reads the
   * outbox again before it ends, so an item added meanwhile is not left behind, and no item is
   * sent twice in one run.
   */
  flush(opts: { force?: boolean } = {}): Promise<FlushResult> {
    if (this.running) {
      this.again = true
      this.againForce ||= !!opts.force
      return this.running
    }
    const run = async (): Promise<FlushResult> => {
      const result: FlushResult = { sent: [], failed: [], kept: 0, unauthorized: false, skipped: false }
      const tried = new Set<string>()
      let force = !!opts.force
      let stop = false
      do {
        this.again = false
        force ||= this.againForce
        this.againForce = false
        stop = await this.pass(force, tried, result)
      } while (this.again && !stop)
      result.kept = (await this.opts.store.all()).filter((i) => i.state === 'queued').length
      return result
    }
    const lock = this.opts.lock
    this.running = (async () => {
      try {
        if (!lock) return await run()
        const r = await lock.run(run)
        return r ?? { sent: [], failed: [], kept: 0, unauthorized: false, skipped: true }
      } finally {
        this.running = null
        this.sending = null
      }
    })()
    return this.running
  }

  /** True when the run should stop (the server or the network is not taking anything now). */
  private async pass(force: boolean, tried: Set<string>, result: FlushResult): Promise<boolean> {
    for (;;) {
      const now = this.now()
      if (!force && now < this.pausedUntil) return false
      const next = (await this.items()).find((i) => i.state === 'queued' && !tried.has(i.id) && (force || i.next_at <= now))
      if (!next) return false
      tried.add(next.id)
      this.sending = next.id
      await this.changed()
      const answer = await this.deliver(next)
      this.sending = null
      const verdict = classify(answer.status, answer.code)
      const error: ItemError = { status: answer.status, code: answer.code, message: answer.message }
      if (verdict === 'sent') {
        await this.opts.store.remove(next.id)
        this.needsJoin = false
        result.sent.push({ item: next, accepted: accepted(answer.body, next) })
        await this.changed()
        continue
      }
      if (verdict === 'failed') {
        await this.opts.store.patch(next.id, { state: 'failed', attempts: next.attempts + 1, error })
        result.failed.push(next.id)
        await this.changed()
        continue
      }
      const attempts = next.attempts + 1
      const wait = (verdict === 'retry' ? retryAfterMs(answer.retryAfter, now) : null) ?? backoffMs(attempts)
      const nextAt = this.now() + wait
      await this.opts.store.patch(next.id, { attempts, next_at: nextAt, error })
      if (verdict === 'unauthorized') {
        this.needsJoin = true
        result.unauthorized = true
      } else {
        this.pausedUntil = nextAt
      }
      await this.changed()
      return true
    }
  }

  /** One POST, and once more with a fresh token if the server refused the CSRF token. */
  private async deliver(item: QueueItem): Promise<Answer> {
    let answer = await this.post(item, this.opts.csrf())
    if (answer.status === 403 && answer.code === 'csrf_rejected') {
      let token: string | null = null
      try {
        token = await this.opts.refreshCsrf()
      } catch {
        token = null
      }
      if (token) answer = await this.post(item, token)
    }
    return answer
  }

  private async post(item: QueueItem, token: string | null): Promise<Answer> {
    const headers: Record<string, string> = { [PROTOCOL_HEADER]: PROTOCOL_VERSION, accept: 'application/json' }
    if (token) headers['X-CSRF-Token'] = token
    const url = item.kind === 'photo' && item.target ? `${API}/reports/${encodeURIComponent(item.target.id)}/photos` : `${API}/reports`
    let res: Response
    try {
      res = await this.opts.fetch(url, { method: 'POST', headers, body: formOf(item), credentials: 'same-origin' })
    } catch (e) {
      return { status: 0, code: 'network', message: e instanceof Error ? e.message : String(e), retryAfter: null, body: null }
    }
    let text = ''
    try {
      text = await res.text()
    } catch {
      // A 2xx whose body was cut still means the server has it.
      text = ''
    }
    let body: unknown = null
    try {
      body = text ? JSON.parse(text) : null
    } catch {
      body = null
    }
    const err = (body ?? {}) as { code?: unknown; message?: unknown }
    return {
      status: res.status,
      code: typeof err.code === 'string' ? err.code : res.ok ? '' : `http_${res.status}`,
      message: typeof err.message === 'string' ? err.message : res.ok ? '' : text.slice(0, 200) || res.statusText || `HTTP ${res.status}`,
      retryAfter: res.headers.get('retry-after'),
      body,
    }
  }

  private fresh(id: string): QueueItem {
    return {
      id,
      kind: 'report',
      target: null,
      fields: null,
      photo: null,
      created_at: this.now(),
      state: 'queued',
      attempts: 0,
      next_at: 0,
      error: null,
    }
  }

  private async add(item: QueueItem): Promise<QueueItem> {
    await this.opts.store.put(item)
    await this.changed()
    return item
  }

  private async changed(): Promise<void> {
    if (!this.opts.onChange) return
    this.opts.onChange(await this.items(), this.sending)
  }
}

/** The multipart body, built the same from the stored item on every attempt; the photo last,
 * after the fields a streaming server reads first. */
export function formOf(item: QueueItem): FormData {
  const f = new FormData()
  f.append('id', item.id)
  const r = item.fields
  if (item.kind === 'report' && r) {
    f.append('category', r.category)
    // The server refuses a lat without a lon (and the reverse), so they go out as a pair or not at all.
    if (Number.isFinite(r.lat) && Number.isFinite(r.lon)) {
      f.append('lat', String(r.lat))
      f.append('lon', String(r.lon))
      if (r.accuracy_m !== null && Number.isFinite(r.accuracy_m)) f.append('accuracy_m', String(r.accuracy_m))
    }
    if (r.address.trim()) f.append('address', r.address.trim())
    f.append('description', r.description)
  }
  if (item.photo) f.append('photo', new Blob([item.photo.bytes], { type: item.photo.type }), item.photo.name)
  return f
}

/** A plain copy: IndexedDB cannot clone a reactive proxy (a DataCloneError). */
function plainPhoto(p: QueuedPhoto): QueuedPhoto {
  return { bytes: p.bytes, type: p.type, name: p.name }
}

function accepted(body: unknown, item: QueueItem): Accepted {
  const b = (body ?? {}) as Partial<Accepted>
  return {
    id: typeof b.id === 'string' ? b.id : (item.target?.id ?? item.id),
    code: typeof b.code === 'string' ? b.code : (item.target?.code ?? ''),
    already: b.already === true,
  }
}
