// The report page's HTTP client for everything but the outbox's uploads (those are in
// `queue.ts`): same-origin fetch with the session cookie, the protocol header on every call and
// the CSRF token of the last `me` on every POST; a `csrf_rejected` asks `me` again and retries
// once. A refusal becomes an `ApiError` with the server's code and its message (a full
// sentence, shown as it is).
import { shallowRef } from 'vue'
import type {
  InviteInfo,
  JoinRequest,
  MemberDecision,
  MyReports,
  NearbyReports,
  PublicCity,
  TeamMembers,
  VolunteerMe,
  VolunteerRow,
} from '../wire/fieldcheck'
import { API, PROTOCOL_HEADER, PROTOCOL_VERSION } from './queue'
import { rt } from './i18n'

export type { InviteInfo, MyReport, NearbyReport, PublicCategory, PublicCity, VolunteerMe, VolunteerRow } from '../wire/fieldcheck'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
  /** For the person: the server's sentence, or ours for a network failure. */
  get text(): string {
    if (this.code === 'network') return rt('err_network')
    return this.message || rt('err_unknown', { message: `HTTP ${this.status}` })
  }
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.text
  return rt('err_unknown', { message: e instanceof Error ? e.message : String(e) })
}

/** The signed-in person (null: not signed in, or not known yet). */
export const me = shallowRef<VolunteerMe | null>(null)

interface CallOpts {
  method?: 'GET' | 'POST'
  json?: unknown
  params?: Record<string, string | number>
}

async function once(path: string, opts: CallOpts, token: string | null): Promise<Response> {
  const method = opts.method ?? 'GET'
  const headers: Record<string, string> = { [PROTOCOL_HEADER]: PROTOCOL_VERSION, accept: 'application/json' }
  if (method === 'POST' && token) headers['X-CSRF-Token'] = token
  let body: string | undefined
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(opts.json)
  }
  const q = opts.params ? `?${new URLSearchParams(Object.entries(opts.params).map(([k, v]) => [k, String(v)]))}` : ''
  try {
    return await fetch(API + path + q, { method, headers, body, credentials: 'same-origin' })
  } catch (e) {
    throw new ApiError(0, 'network', e instanceof Error ? e.message : String(e))
  }
}

async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '')
  try {
    const b = JSON.parse(text) as { code?: string; message?: string }
    return new ApiError(res.status, b.code ?? `http_${res.status}`, b.message ?? '')
  } catch {
    return new ApiError(res.status, `http_${res.status}`, text.slice(0, 200))
  }
}

async function call<T>(path: string, opts: CallOpts = {}): Promise<T> {
  let res = await once(path, opts, me.value?.csrf_token ?? null)
  if (!res.ok) {
    let err = await errorOf(res)
    if (err.status === 403 && err.code === 'csrf_rejected') {
      const fresh = await fetchMe().catch(() => null)
      if (!fresh) throw err
      res = await once(path, opts, fresh.csrf_token)
      if (!res.ok) err = await errorOf(res)
    }
    if (!res.ok) throw err
  }
  if (res.status === 204) return undefined as T
  return (await res.json()) as T
}

/** `me`, or null when the browser has no (valid) session. Updates `me`. */
export async function fetchMe(): Promise<VolunteerMe | null> {
  try {
    me.value = await call<VolunteerMe>('/me')
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) me.value = null
    else throw e
  }
  return me.value
}

export const api = {
  city: () => call<PublicCity>('/city'),
  invite: (code: string) => call<InviteInfo>(`/invite/${encodeURIComponent(code)}`),
  async join(req: JoinRequest): Promise<VolunteerMe> {
    me.value = await call<VolunteerMe>('/join', { method: 'POST', json: req })
    return me.value
  },
  async anonymous(): Promise<VolunteerMe> {
    me.value = await call<VolunteerMe>('/anonymous', { method: 'POST' })
    return me.value
  },
  nearby: (lat: number, lon: number, category: string) => call<NearbyReports>('/nearby', { params: { lat, lon, category } }),
  reports: () => call<MyReports>('/reports'),
  members: () => call<TeamMembers>('/team/members'),
  decide: (userId: string, d: MemberDecision) =>
    call<VolunteerRow>(`/team/members/${encodeURIComponent(userId)}`, { method: 'POST', json: d }),
}
