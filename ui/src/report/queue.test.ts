import 'fake-indexeddb/auto'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { reactive } from 'vue'
import { backoffMs, classify, formOf, idbStore, newId, Queue, retryAfterMs, type FlushLock, type QueueStore, type ReportFields } from './queue'

const fields: ReportFields = {
  category: 'SR-02',
  lat: 26.0812345,
  lon: 119.3012345,
  accuracy_m: 12,
  address: '五一路 88 号门口',
  description: '人行道上有暴露垃圾 <b>约 2 平方米</b>',
}
const photo = () => ({ bytes: new Uint8Array([0xff, 0xd8, 0xff, 1, 2, 3]).buffer, type: 'image/jpeg', name: 'photo.jpg' })

interface Call {
  url: string
  headers: Record<string, string>
  form: FormData
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === null ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } })
}

/** A fetch answering from a script of responses (or thrown errors), recording each call. */
function fakeFetch(...script: (Response | Error | ((c: Call) => Response | Promise<Response>))[]) {
  const calls: Call[] = []
  const fn = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
    const call = { url: String(url), headers: { ...(init?.headers as Record<string, string>) }, form: init?.body as FormData }
    calls.push(call)
    const next = script.length > 1 ? script.shift()! : script[0]
    if (next instanceof Error) throw next
    if (typeof next === 'function') return next(call)
    return next.clone()
  })
  return { fetch: fn as unknown as typeof fetch, calls }
}

let dbName = ''
let clock = 1_000_000
beforeEach(() => {
  dbName = `test-${newId()}`
  clock = 1_000_000
})

function makeQueue(f: typeof fetch, extra: { store?: QueueStore; refresh?: () => Promise<string | null>; lock?: FlushLock } = {}) {
  return new Queue({
    store: extra.store ?? idbStore(dbName),
    fetch: f,
    csrf: () => 'tok-1',
    refreshCsrf: extra.refresh ?? (async () => 'tok-2'),
    now: () => clock,
    lock: extra.lock,
  })
}

const entries = (f: FormData) => [...f.entries()].filter(([k]) => k !== 'photo').map(([k, v]) => [k, String(v)])

describe('report outbox', () => {
  it('stores the item with its photo before any network call', async () => {
    const store = idbStore(dbName)
    let seenInStore = false
    const { fetch, calls } = fakeFetch(async (c) => {
      const stored = await store.all()
      seenInStore = stored.some((i) => i.id === c.form.get('id'))
      return json(201, { id: 'p1', code: 'W-0001', already: false })
    })
    const q = makeQueue(fetch, { store })
    const item = await q.addReport(fields, photo())
    expect(calls).toHaveLength(0)
    const stored = await store.all()
    expect(stored).toHaveLength(1)
    expect(stored[0].id).toBe(item.id)
    expect(new Uint8Array(stored[0].photo!.bytes)).toEqual(new Uint8Array(photo().bytes))
    await q.flush()
    expect(seenInStore).toBe(true)
    expect(await store.all()).toHaveLength(0)
  })

  it('stores a photo held in a reactive proxy (the form keeps it in Vue state)', async () => {
    const q = makeQueue(fakeFetch(new TypeError('offline')).fetch)
    const item = await q.addReport(fields, reactive(photo()))
    const [stored] = await q.items()
    expect(stored.id).toBe(item.id)
    expect(new Uint8Array(stored.photo!.bytes)).toEqual(new Uint8Array(photo().bytes))
  })

  it('survives a reload: a new queue over the same database has the item', async () => {
    const { fetch } = fakeFetch(new TypeError('Failed to fetch'))
    const first = makeQueue(fetch)
    const item = await first.addReport(fields, photo())
    await first.flush()
    const reloaded = makeQueue(fakeFetch(json(201, { id: 'p1', code: 'W-0001', already: false })).fetch)
    const items = await reloaded.items()
    expect(items).toHaveLength(1)
    expect(items[0].id).toBe(item.id)
    expect(items[0].fields).toEqual(fields)
    expect(items[0].attempts).toBe(1)
    expect(new Uint8Array(items[0].photo!.bytes)).toEqual(new Uint8Array(photo().bytes))
  })

  it('sends the multipart fields the contract names, with protocol and CSRF headers', async () => {
    const { fetch, calls } = fakeFetch(json(201, { id: 'p1', code: 'W-0001', already: false }))
    const q = makeQueue(fetch)
    const item = await q.addReport(fields, photo())
    const r = await q.flush()
    expect(calls[0].url).toBe('/api/v1/volunteer/reports')
    expect(calls[0].headers['x-fieldcheck-protocol']).toBe('1')
    expect(calls[0].headers['X-CSRF-Token']).toBe('tok-1')
    expect(Object.fromEntries(entries(calls[0].form))).toEqual({
      id: item.id,
      category: 'SR-02',
      lat: '26.0812345',
      lon: '119.3012345',
      accuracy_m: '12',
      address: '五一路 88 号门口',
      description: fields.description,
    })
    const file = calls[0].form.get('photo') as File
    expect(file.type).toBe('image/jpeg')
    expect(file.name).toBe('photo.jpg')
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(new Uint8Array(photo().bytes))
    expect(r.sent).toEqual([{ item: expect.objectContaining({ id: item.id }), accepted: { id: 'p1', code: 'W-0001', already: false } }])
  })

  it('queues and sends a report placed by its address alone, without lat/lon', async () => {
    const { fetch, calls } = fakeFetch(new TypeError('Failed to fetch'), json(201, { id: 'p1', code: 'W-0001', already: false }))
    const addressOnly: ReportFields = { category: 'SR-02', accuracy_m: null, address: '  五一路 88 号门口 ', description: '暴露垃圾' }
    const q = makeQueue(fetch)
    const item = await q.addReport(addressOnly, photo())
    await q.flush()
    // Offline first: kept in the outbox, and what a reload reads back has no position either.
    const [stored] = await makeQueue(fetch).items()
    expect(stored).toMatchObject({ id: item.id, state: 'queued', attempts: 1 })
    expect(stored.fields).toEqual(addressOnly)
    expect(stored.fields).not.toHaveProperty('lat')
    expect(stored.fields).not.toHaveProperty('lon')
    const r = await makeQueue(fetch).flush({ force: true })
    expect(calls).toHaveLength(2)
    for (const c of calls) {
      expect(Object.fromEntries(entries(c.form))).toEqual({ id: item.id, category: 'SR-02', address: '五一路 88 号门口', description: '暴露垃圾' })
      expect(c.form.has('lat')).toBe(false)
      expect(c.form.has('lon')).toBe(false)
      expect(c.form.has('accuracy_m')).toBe(false)
    }
    expect(r.sent.map((s) => s.accepted.code)).toEqual(['W-0001'])
    expect(await q.items()).toHaveLength(0)
  })

  it('resends with the same id and the same fields, also after a reload', async () => {
    const a = fakeFetch(new TypeError('Failed to fetch'), json(502, { code: 'bad_gateway', message: 'upstream' }))
    const q = makeQueue(a.fetch)
    await q.addReport(fields, photo())
    await q.flush()
    await q.flush({ force: true })
    const b = fakeFetch(json(200, { id: 'p1', code: 'W-0001', already: true }))
    const r = await makeQueue(b.fetch).flush({ force: true })
    const sent = [...a.calls, ...b.calls].map((c) => entries(c.form))
    expect(sent).toHaveLength(3)
    expect(sent[1]).toEqual(sent[0])
    expect(sent[2]).toEqual(sent[0])
    expect(r.sent[0].accepted.already).toBe(true)
  })

  it('keeps the item on a network error, a 5xx or a 429, with backoff', async () => {
    const { fetch, calls } = fakeFetch(
      new TypeError('Failed to fetch'),
      json(503, { code: 'unavailable', message: '服务暂不可用' }),
      json(429, { code: 'rate_limited', message: '上报过于频繁，请稍后再试。' }, { 'retry-after': '120' }),
    )
    const q = makeQueue(fetch)
    const item = await q.addReport(fields, photo())
    let r = await q.flush()
    expect(r.kept).toBe(1)
    let [stored] = await q.items()
    expect(stored).toMatchObject({ state: 'queued', attempts: 1, next_at: clock + backoffMs(1), error: { status: 0, code: 'network' } })
    // Not due yet: an unforced flush does not send.
    await q.flush()
    expect(calls).toHaveLength(1)
    clock += backoffMs(1)
    r = await q.flush()
    ;[stored] = await q.items()
    expect(stored).toMatchObject({ id: item.id, state: 'queued', attempts: 2, error: { status: 503, code: 'unavailable' } })
    clock += backoffMs(2)
    await q.flush()
    ;[stored] = await q.items()
    expect(stored).toMatchObject({ attempts: 3, next_at: clock + 120_000, error: { status: 429 } })
    expect(await q.nextDue()).toBe(clock + 120_000)
    expect(calls).toHaveLength(3)
  })

  it('marks a 422 failed with the server message, keeps it, does not resend it, deletes on request', async () => {
    const { fetch, calls } = fakeFetch(json(422, { code: 'invalid_field', message: '问题描述过长。' }))
    const q = makeQueue(fetch)
    const item = await q.addReport(fields, photo())
    const r = await q.flush()
    expect(r.failed).toEqual([item.id])
    let items = await q.items()
    expect(items).toHaveLength(1)
    expect(items[0]).toMatchObject({ state: 'failed', error: { status: 422, code: 'invalid_field', message: '问题描述过长。' } })
    await q.flush({ force: true })
    expect(calls).toHaveLength(1)
    expect(await q.nextDue()).toBeNull()
    await q.remove(item.id)
    items = await q.items()
    expect(items).toHaveLength(0)
  })

  it('removes the item on 201 and on 200 already:true', async () => {
    const { fetch } = fakeFetch(json(201, { id: 'p1', code: 'W-0001', already: false }), json(200, { id: 'p2', code: 'W-0002', already: true }))
    const q = makeQueue(fetch)
    await q.addReport(fields, photo())
    clock += 1
    await q.addReport({ ...fields, description: 'second' }, null)
    const r = await q.flush()
    expect(r.sent.map((s) => s.accepted.code)).toEqual(['W-0001', 'W-0002'])
    expect(await q.items()).toHaveLength(0)
    expect(r.kept).toBe(0)
  })

  it('sends once when flushes run concurrently', async () => {
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => (release = r))
    const { fetch, calls } = fakeFetch(async () => {
      await gate
      return json(201, { id: 'p1', code: 'W-0001', already: false })
    })
    const q = makeQueue(fetch)
    await q.addReport(fields, photo())
    const runs = [q.flush(), q.flush({ force: true }), q.flush()]
    release()
    await Promise.all(runs)
    expect(calls).toHaveLength(1)
    expect(await q.items()).toHaveLength(0)
  })

  it('sends an item added while a run is going in that same run', async () => {
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => (release = r))
    const { fetch, calls } = fakeFetch(async () => {
      await gate
      return json(201, { id: 'p', code: 'W', already: false })
    })
    const q = makeQueue(fetch)
    await q.addReport(fields, null)
    const run = q.flush()
    clock += 1
    await q.addReport({ ...fields, description: 'later' }, null)
    const joined = q.flush()
    release()
    await Promise.all([run, joined])
    expect(calls).toHaveLength(2)
    expect(await q.items()).toHaveLength(0)
  })

  it('does not send when another tab holds the lock', async () => {
    const { fetch, calls } = fakeFetch(json(201, { id: 'p', code: 'W', already: false }))
    const busy: FlushLock = { run: async () => undefined }
    const q = makeQueue(fetch, { lock: busy })
    await q.addReport(fields, null)
    const r = await q.flush({ force: true })
    expect(r.skipped).toBe(true)
    expect(calls).toHaveLength(0)
    expect(await q.items()).toHaveLength(1)
  })

  it('keeps the item on 401 and asks the person to join again', async () => {
    const { fetch } = fakeFetch(json(401, { code: 'not_signed_in', message: '请先加入队伍。' }), json(201, { id: 'p', code: 'W', already: false }))
    const q = makeQueue(fetch)
    await q.addReport(fields, null)
    const r = await q.flush()
    expect(r.unauthorized).toBe(true)
    expect(q.needsJoin).toBe(true)
    expect((await q.items())[0]).toMatchObject({ state: 'queued', error: { status: 401 } })
    await q.flush({ force: true })
    expect(q.needsJoin).toBe(false)
    expect(await q.items()).toHaveLength(0)
  })

  it('on csrf_rejected asks me again and retries once with the new token', async () => {
    const refresh = vi.fn(async () => 'tok-2')
    const { fetch, calls } = fakeFetch(json(403, { code: 'csrf_rejected', message: 'x' }), json(201, { id: 'p', code: 'W', already: false }))
    const q = makeQueue(fetch, { refresh })
    const item = await q.addReport(fields, null)
    const r = await q.flush()
    expect(refresh).toHaveBeenCalledTimes(1)
    expect(calls.map((c) => c.headers['X-CSRF-Token'])).toEqual(['tok-1', 'tok-2'])
    expect(calls[1].form.get('id')).toBe(item.id)
    expect(r.sent).toHaveLength(1)
  })

  it('keeps the item when the CSRF token is refused twice', async () => {
    const { fetch, calls } = fakeFetch(json(403, { code: 'csrf_rejected', message: 'x' }))
    const q = makeQueue(fetch)
    await q.addReport(fields, null)
    await q.flush()
    expect(calls).toHaveLength(2)
    expect((await q.items())[0]).toMatchObject({ state: 'queued', error: { code: 'csrf_rejected' } })
  })

  it('adds a photo to an existing report with its own id', async () => {
    const { fetch, calls } = fakeFetch(json(201, { id: 'prob-9', code: 'W-0009', already: false }))
    const q = makeQueue(fetch)
    const item = await q.addPhoto({ id: 'prob-9', code: 'W-0009' }, photo())
    const r = await q.flush()
    expect(calls[0].url).toBe('/api/v1/volunteer/reports/prob-9/photos')
    expect(entries(calls[0].form)).toEqual([['id', item.id]])
    expect(calls[0].form.get('photo')).toBeInstanceOf(Blob)
    expect(r.sent[0].accepted.code).toBe('W-0009')
  })

  it('a failed item can be put back in line with the same id', async () => {
    const { fetch, calls } = fakeFetch(json(403, { code: 'volunteer_not_approved', message: '尚未通过审核。' }), json(201, { id: 'p', code: 'W', already: false }))
    const q = makeQueue(fetch)
    const item = await q.addReport(fields, null)
    await q.flush()
    expect((await q.items())[0].state).toBe('failed')
    await q.retry(item.id)
    await q.flush()
    expect(calls.map((c) => c.form.get('id'))).toEqual([item.id, item.id])
    expect(await q.items()).toHaveLength(0)
  })
})

describe('helpers', () => {
  it('classifies answers', () => {
    expect(classify(201, '')).toBe('sent')
    expect(classify(200, '')).toBe('sent')
    expect(classify(401, 'not_signed_in')).toBe('unauthorized')
    expect(classify(403, 'csrf_rejected')).toBe('csrf')
    expect(classify(403, 'volunteer_not_approved')).toBe('failed')
    expect(classify(413, 'body_too_large')).toBe('failed')
    expect(classify(422, 'photo_rejected')).toBe('failed')
    expect(classify(429, 'rate_limited')).toBe('retry')
    expect(classify(500, '')).toBe('retry')
    expect(classify(0, 'network')).toBe('retry')
  })

  it('makes v4 UUIDs without randomUUID too', () => {
    const re = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
    expect(newId()).toMatch(re)
    // An own property shadows the prototype's method, as in a WebView without it.
    Object.defineProperty(globalThis.crypto, 'randomUUID', { value: undefined, configurable: true })
    try {
      const a = newId()
      expect(a).toMatch(re)
      expect(newId()).not.toBe(a)
    } finally {
      delete (globalThis.crypto as { randomUUID?: unknown }).randomUUID
    }
    expect(newId()).toMatch(re)
  })

  it('reads Retry-After and backs off', () => {
    expect(retryAfterMs('30', 0)).toBe(30_000)
    expect(retryAfterMs(null, 0)).toBeNull()
    expect(retryAfterMs(new Date(60_000).toUTCString(), 0)).toBe(60_000)
    expect(backoffMs(1)).toBe(5_000)
    expect(backoffMs(2)).toBe(10_000)
    expect(backoffMs(50)).toBe(600_000)
  })

  it('builds the photo-only form for an addition', () => {
    const f = formOf({ id: 'x', kind: 'photo', target: { id: 'p', code: 'c' }, fields: null, photo: photo(), created_at: 0, state: 'queued', attempts: 0, next_at: 0, error: null })
    expect([...f.keys()]).toEqual(['id', 'photo'])
  })
})
