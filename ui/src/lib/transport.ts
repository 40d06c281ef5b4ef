// The one module that knows how the UI reaches the device core: Tauri `invoke` inside the
// app, or the local HTTP bridge (`fieldcheck-bridge`) in a plain browser. Every command takes
// a JSON object and returns JSON; photos go as raw bytes and come back as URLs.

/** An error with the core's stable code; the UI switches on `code`, never on the message. */
export class CoreCallError extends Error {
  readonly code: string
  readonly status: number
  constructor(code: string, message: string, status = 0) {
    super(message)
    this.name = 'CoreCallError'
    this.code = code
    this.status = status
  }
}

export interface Transport {
  call<T>(command: string, args?: Record<string, unknown>): Promise<T>
  uploadPhoto<T>(bytes: Blob | ArrayBuffer): Promise<T>
  photoUrl(hash: string, size: 'display' | 'thumb'): string
  /** The offline map package's tiles, a Leaflet URL template ({z}/{x}/{y}). */
  tileUrl(): string
  /** Imports an MBTiles file as the device's offline map package; its description back. */
  importMapPackage<T>(bytes: Blob | ArrayBuffer): Promise<T>
}

type Fetch = typeof fetch

/** Maps any failure of a bridge request to a CoreCallError with a stable code. */
export async function errorFromResponse(res: Response): Promise<CoreCallError> {
  let body: unknown = null
  try {
    body = await res.json()
  } catch {
    /* not JSON: fall through */
  }
  if (body && typeof body === 'object' && typeof (body as { code?: unknown }).code === 'string') {
    const b = body as { code: string; message?: unknown }
    return new CoreCallError(b.code, typeof b.message === 'string' ? b.message : b.code, res.status)
  }
  const code = res.status === 413 ? 'photo_too_large' : res.status >= 500 ? 'internal' : 'http_error'
  return new CoreCallError(code, `HTTP ${res.status}`, res.status)
}

export function networkError(e: unknown): CoreCallError {
  return new CoreCallError('network', e instanceof Error ? e.message : String(e), 0)
}

/** The header the bridge wants its per-start session secret in (`fieldcheck-bridge` guard). */
export const SESSION_HEADER = 'x-fieldcheck-session'
/** Refusals that mean the secret we hold is not (or no longer) the bridge's: fetch it again. */
const SESSION_CODES = new Set(['session_required', 'session_invalid'])

export function httpTransport(base = '', fetchFn: Fetch = (...a) => fetch(...a)): Transport {
  // The bridge hands its secret only to its own origin (`GET /bridge/session`); it changes at
  // every bridge start, so a refusal for it fetches it once more and retries the call.
  let session: Promise<string> | null = null
  function secret(): Promise<string> {
    session ??= (async () => {
      let res: Response
      try {
        res = await fetchFn(`${base}/bridge/session`, { method: 'GET', cache: 'no-store' })
      } catch (e) {
        throw networkError(e)
      }
      if (!res.ok) throw await errorFromResponse(res)
      return ((await res.json()) as { session: string }).session
    })()
    session.catch(() => {
      session = null
    })
    return session
  }
  async function send<T>(path: string, init: RequestInit, retried = false): Promise<T> {
    const key = await secret()
    let res: Response
    try {
      res = await fetchFn(`${base}/bridge/${path}`, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), [SESSION_HEADER]: key },
      })
    } catch (e) {
      throw networkError(e)
    }
    if (!res.ok) {
      const err = await errorFromResponse(res)
      if (!retried && SESSION_CODES.has(err.code)) {
        session = null
        return send(path, init, true)
      }
      throw err
    }
    return (await res.json()) as T
  }
  return {
    call: (command, args = {}) =>
      send(command, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(args),
      }),
    uploadPhoto: (bytes) =>
      send('photos', {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: bytes,
      }),
    photoUrl: (hash, size) => `${base}/bridge/photos/${encodeURIComponent(hash)}/${size}`,
    tileUrl: () => `${base}/bridge/tiles/{z}/{x}/{y}`,
    importMapPackage: (bytes) =>
      send('map_package_import', {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: bytes,
      }),
  }
}

interface TauriInternals {
  invoke(cmd: string, args?: unknown, options?: { headers?: Record<string, string> }): Promise<unknown>
  convertFileSrc?(path: string, protocol?: string): string
}

/** Inside the Tauri app: commands by `invoke`, photos as raw bytes (an ArrayBuffer payload is
 * sent as the request body, not JSON), images through the app's `photo://` protocol. */
export function tauriTransport(t: TauriInternals): Transport {
  const wrap = async <T>(p: Promise<unknown>): Promise<T> => {
    try {
      return (await p) as T
    } catch (e) {
      if (e && typeof e === 'object' && typeof (e as { code?: unknown }).code === 'string') {
        const b = e as { code: string; message?: string }
        throw new CoreCallError(b.code, b.message ?? b.code)
      }
      throw new CoreCallError('internal', String(e))
    }
  }
  return {
    call: (command, args = {}) => wrap(t.invoke(command, args)),
    uploadPhoto: async (bytes) => {
      const buf = bytes instanceof Blob ? await bytes.arrayBuffer() : bytes
      return wrap(t.invoke('photo_upload', buf))
    },
    photoUrl: (hash, size) =>
      t.convertFileSrc ? t.convertFileSrc(`${hash}/${size}`, 'photo') : `photo://localhost/${hash}/${size}`,
    // The scheme's root as the platform spells it (tiles://localhost/ or http://tiles.localhost/).
    tileUrl: () => `${t.convertFileSrc ? t.convertFileSrc('', 'tiles') : 'tiles://localhost/'}{z}/{x}/{y}`,
    importMapPackage: async (bytes) => {
      const buf = bytes instanceof Blob ? await bytes.arrayBuffer() : bytes
      return wrap(t.invoke('map_package_import', buf))
    },
  }
}

function tauri(): TauriInternals | undefined {
  return (globalThis as unknown as { __TAURI_INTERNALS__?: TauriInternals }).__TAURI_INTERNALS__
}

/** Inside the Tauri app (whose CSP lets images come only from the built-in tile sources). */
export function inApp(): boolean {
  return !!tauri()
}

function detect(): Transport {
  const t = tauri()
  return t ? tauriTransport(t) : httpTransport('')
}

let current: Transport | null = null

export function transport(): Transport {
  current ??= detect()
  return current
}

/** Tests and tools may replace the transport. */
export function setTransport(t: Transport): void {
  current = t
}
