import { describe, expect, it, vi } from 'vitest'
import { CoreCallError, SESSION_HEADER, httpTransport, tauriTransport } from './transport'
import { describeError } from './ui'

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
}

/** A bridge: its session endpoint answers `secret`; every command gets `answer`. */
function bridge(answer: (url: string, init: RequestInit) => Response, secret = 's1') {
  return vi.fn(async (url: string, init: RequestInit = {}) =>
    url.endsWith('/bridge/session') ? jsonResponse(200, { session: secret, header: SESSION_HEADER }) : answer(url, init),
  )
}

describe('http transport', () => {
  it('posts JSON args to /bridge/<command> with the session secret and returns the JSON result', async () => {
    const f = bridge(() => jsonResponse(200, { ok: 1 }))
    const tr = httpTransport('http://x', f as unknown as typeof fetch)
    await expect(tr.call('ledger', { mine: true })).resolves.toEqual({ ok: 1 })
    expect(f.mock.calls[0][0]).toBe('http://x/bridge/session')
    const [url, init] = f.mock.calls[1] as unknown as [string, RequestInit]
    expect(url).toBe('http://x/bridge/ledger')
    expect(init.method).toBe('POST')
    expect(JSON.parse(init.body as string)).toEqual({ mine: true })
    const headers = init.headers as Record<string, string>
    expect(headers['content-type']).toBe('application/json')
    expect(headers[SESSION_HEADER]).toBe('s1')
    // The secret is fetched once per bridge start, not per call.
    await tr.call('me')
    expect(f.mock.calls.filter(([u]) => u.endsWith('/bridge/session'))).toHaveLength(1)
  })

  it('fetches the secret again once when the bridge restarted with a new one', async () => {
    let current = 'old'
    const f = vi.fn(async (url: string, init: RequestInit = {}) => {
      if (url.endsWith('/bridge/session')) return jsonResponse(200, { session: current })
      const sent = (init.headers as Record<string, string>)[SESSION_HEADER]
      return sent === current ? jsonResponse(200, { ok: sent }) : jsonResponse(403, { code: 'session_invalid', message: 'stale' })
    })
    const tr = httpTransport('', f as unknown as typeof fetch)
    await expect(tr.call('me')).resolves.toEqual({ ok: 'old' })
    current = 'new'
    await expect(tr.call('me')).resolves.toEqual({ ok: 'new' })
    // A bridge that keeps refusing is an error, not a loop.
    const never = httpTransport('', bridge(() => jsonResponse(403, { code: 'session_invalid', message: 'no' })) as unknown as typeof fetch)
    await expect(never.call('me')).rejects.toMatchObject({ code: 'session_invalid', status: 403 })
  })

  it('maps {code, message} error bodies to CoreCallError', async () => {
    const f = bridge(() => jsonResponse(409, { code: 'after_photo_required', message: 'needs an after photo' }))
    const tr = httpTransport('', f as unknown as typeof fetch)
    const e = await tr.call('problem_act').catch((x: unknown) => x)
    expect(e).toBeInstanceOf(CoreCallError)
    expect((e as CoreCallError).code).toBe('after_photo_required')
    expect((e as CoreCallError).status).toBe(409)
    expect(describeError(e)).toBe('整改反馈须附整改后照片')
  })

  it('maps non-JSON failures by status and network failures to "network"', async () => {
    const tr = httpTransport('', bridge(() => new Response('oops', { status: 502 })) as unknown as typeof fetch)
    await expect(tr.call('me')).rejects.toMatchObject({ code: 'internal', status: 502 })
    const big = httpTransport('', bridge(() => new Response('', { status: 413 })) as unknown as typeof fetch)
    await expect(big.call('me')).rejects.toMatchObject({ code: 'photo_too_large' })
    const down = httpTransport('', (async () => {
      throw new TypeError('Failed to fetch')
    }) as unknown as typeof fetch)
    const e = await down.call('me').catch((x: unknown) => x)
    expect((e as CoreCallError).code).toBe('network')
    expect(describeError(e)).toBe('无法连接到本机服务，请稍后重试')
  })

  it('uploads photos as raw bytes, not JSON', async () => {
    const f = bridge(() => jsonResponse(200, { hash: 'ab' }))
    const tr = httpTransport('', f as unknown as typeof fetch)
    const bytes = new Uint8Array([0xff, 0xd8, 0xff]).buffer
    await tr.uploadPhoto(bytes)
    const [url, init] = f.mock.calls[1] as unknown as [string, RequestInit]
    expect(url).toBe('/bridge/photos')
    expect(init.body).toBe(bytes)
    expect((init.headers as Record<string, string>)['content-type']).toBe('application/octet-stream')
    expect((init.headers as Record<string, string>)[SESSION_HEADER]).toBe('s1')
    expect(tr.photoUrl('ab', 'thumb')).toBe('/bridge/photos/ab/thumb')
  })
})

describe('tauri transport', () => {
  it('invokes the same command names and maps error objects', async () => {
    const invoke = vi.fn(async (cmd: string) => {
      if (cmd === 'problem_act') throw { code: 'role_not_allowed', message: 'no' }
      return { cmd }
    })
    const tr = tauriTransport({ invoke })
    await expect(tr.call('me')).resolves.toEqual({ cmd: 'me' })
    await expect(tr.call('problem_act', {})).rejects.toMatchObject({ code: 'role_not_allowed' })
    const buf = new Uint8Array([1, 2]).buffer
    await tr.uploadPhoto(buf)
    expect(invoke).toHaveBeenLastCalledWith('photo_upload', buf)
    await expect(
      tauriTransport({ invoke: async () => Promise.reject('plain string') }).call('me'),
    ).rejects.toMatchObject({ code: 'internal' })
  })
})
