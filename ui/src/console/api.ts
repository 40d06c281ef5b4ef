// The console's HTTP client: same-origin fetch with the session cookie, the protocol header on
// every call and the CSRF token on every state-changing one. A 401 hands control to the
// sign-in page (which returns to where the user was); every other refusal becomes a
// `ConsoleApiError` carrying the server's code and message.
import { shallowRef } from 'vue'
import type {
  AuditPage,
  CalendarPage,
  Category,
  ChecklistTemplate,
  DeadlineRule,
  EnrollCode,
  ImportApplied,
  ImportPreview,
  PasswordReset,
  Point,
  PointInput,
  PointPage,
  RevokedDevice,
  UserInput,
  UserRow,
  WorkCalendar,
  ConsoleBulkRequest,
  ConsoleBulkResponse,
  ConsoleActionRequest,
  ConsoleMap,
  ConsoleOverview,
  ConsolePhotoUploaded,
  ConsoleProblemDetail,
  ConsoleProblemPage,
  ConsoleRanking,
  ConsoleReference,
  ConsoleSessionInfo,
  DispatchPreview,
  ExportJob,
  ExportJobList,
  ExportRequest,
  ReportSchedule,
  ReportScheduleInput,
  ReportScheduleList,
  RankingBy,
  RankingPeriod,
  RoundDetail,
  RoundInput,
  RoundList,
  RoundResultsView,
  RoundSummary,
  MemberDecision,
  TeamInput,
  TeamRow,
  VolunteerRow,
  VolunteerSettings,
  VolunteersPage,
} from './wire'
import { errorText } from './i18n'

export const BASE = '/api/v1'
export const PROTOCOL_HEADER = 'x-fieldcheck-protocol'
export const PROTOCOL_VERSION = '1'

export class ConsoleApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
  /** In plain words for the person at the desk. */
  get text(): string {
    return errorText(this.code, this.message)
  }
}

/** The signed-in user (null: not signed in, or not known yet). */
export const session = shallowRef<ConsoleSessionInfo | null>(null)

/** Called on a 401 from any call but the sign-in itself; the app sends the user to sign in. */
let onUnauthorized: (code: string) => void = () => {}
export function setUnauthorizedHandler(f: (code: string) => void): void {
  onUnauthorized = f
}

type Params = Record<string, string | number | boolean | null | undefined>

export function queryString(params?: Params): string {
  if (!params) return ''
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') continue
    q.set(k, String(v))
  }
  const s = q.toString()
  return s ? `?${s}` : ''
}

interface CallOpts {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE'
  params?: Params
  json?: unknown
  body?: Blob
  contentType?: string
  /** The sign-in call: a 401 there is a wrong password, not a lost session. */
  noRedirect?: boolean
}

async function call<T>(path: string, opts: CallOpts = {}): Promise<T> {
  const method = opts.method ?? 'GET'
  const headers: Record<string, string> = { [PROTOCOL_HEADER]: PROTOCOL_VERSION, accept: 'application/json' }
  if (method !== 'GET' && session.value) headers['X-CSRF-Token'] = session.value.csrf_token
  let body: BodyInit | undefined
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(opts.json)
  } else if (opts.body) {
    headers['content-type'] = opts.contentType || opts.body.type || 'application/octet-stream'
    body = opts.body
  }
  let res: Response
  try {
    res = await fetch(BASE + path + queryString(opts.params), { method, headers, body, credentials: 'same-origin' })
  } catch (e) {
    throw new ConsoleApiError(0, 'network', e instanceof Error ? e.message : String(e))
  }
  if (res.status === 204) return undefined as T
  const text = await res.text()
  let data: unknown = null
  try {
    data = text ? JSON.parse(text) : null
  } catch {
    data = null
  }
  if (!res.ok) {
    const err = (data ?? {}) as { code?: string; message?: string }
    const code = err.code ?? (res.status === 401 ? 'not_signed_in' : `http_${res.status}`)
    const e = new ConsoleApiError(res.status, code, err.message ?? (text.slice(0, 200) || res.statusText))
    if (res.status === 401 && !opts.noRedirect) {
      session.value = null
      onUnauthorized(code)
    }
    throw e
  }
  return data as T
}

export const consoleApi = {
  signIn: async (username: string, password: string) => {
    const info = await call<ConsoleSessionInfo>('/console/session', {
      method: 'POST',
      json: { username, password },
      noRedirect: true,
    })
    session.value = info
    return info
  },
  /** Who is signed in; null when nobody is (no redirect: the caller decides). */
  whoAmI: async (): Promise<ConsoleSessionInfo | null> => {
    try {
      const info = await call<ConsoleSessionInfo>('/console/session', { noRedirect: true })
      session.value = info
      return info
    } catch (e) {
      if (e instanceof ConsoleApiError && e.status === 401) {
        session.value = null
        return null
      }
      throw e
    }
  },
  signOut: async () => {
    try {
      await call<void>('/console/session', { method: 'DELETE', noRedirect: true })
    } finally {
      session.value = null
    }
  },
  reference: () => call<ConsoleReference>('/console/reference'),
  overview: () => call<ConsoleOverview>('/console/overview'),
  problems: (params: Params) => call<ConsoleProblemPage>('/console/problems', { params }),
  problem: (id: string) => call<ConsoleProblemDetail>(`/console/problems/${encodeURIComponent(id)}`),
  dispatchPreview: (id: string, unit: string) =>
    call<DispatchPreview>(`/console/problems/${encodeURIComponent(id)}/dispatch-preview`, { params: { unit } }),
  act: (id: string, req: ConsoleActionRequest) =>
    call<ConsoleProblemDetail>(`/console/problems/${encodeURIComponent(id)}/actions`, { method: 'POST', json: req }),
  bulk: (req: ConsoleBulkRequest) => call<ConsoleBulkResponse>('/console/problems/bulk', { method: 'POST', json: req }),
  uploadPhoto: (file: Blob) =>
    call<ConsolePhotoUploaded>('/console/photos', { method: 'POST', body: file, contentType: file.type || 'image/jpeg' }),
  /** Where a photo is read (through `photoSrc`, which sends the protocol header). */
  photoUrl: (hash: string) => `${BASE}/console/photos/${encodeURIComponent(hash)}`,
  ranking: (period: RankingPeriod, by: RankingBy, from?: string, to?: string) =>
    call<ConsoleRanking>('/console/ranking', {
      params: { period, by, from: period === 'custom' ? from : undefined, to: period === 'custom' ? to : undefined },
    }),
  map: (params: Params) => call<ConsoleMap>('/console/map', { params }),
  /** Starts a background export (the ledger under its filter) or PDF report. */
  createExport: (req: ExportRequest) => call<ExportJob>('/console/exports', { method: 'POST', json: req }),
  exports: () => call<ExportJobList>('/console/exports'),
  reportSchedules: () => call<ReportScheduleList>('/console/report-schedules'),
  addReportSchedule: (input: ReportScheduleInput) =>
    call<ReportSchedule>('/console/report-schedules', { method: 'POST', json: input }),
  stopReportSchedule: (id: string) =>
    call<void>(`/console/report-schedules/${encodeURIComponent(id)}/stop`, { method: 'POST' }),
  // Mock evaluation rounds (admins): the draw, progress and results.
  rounds: () => call<RoundList>('/console/rounds'),
  addRound: (input: RoundInput) => call<RoundSummary>('/console/rounds', { method: 'POST', json: input }),
  round: (id: string) => call<RoundDetail>(`/console/rounds/${encodeURIComponent(id)}`),
  roundResults: (id: string) => call<RoundResultsView>(`/console/rounds/${encodeURIComponent(id)}/results`),
  // City setup (admins): import with preview, users, enrollment codes, devices, the audit.
  importPreview: (file: File) =>
    call<ImportPreview>('/console/setup/import/preview', { method: 'POST', body: file, contentType: 'application/octet-stream', params: { filename: file.name } }),
  importApply: (file: File, baseVersion: number) =>
    call<ImportApplied>('/console/setup/import/apply', {
      method: 'POST',
      body: file,
      contentType: 'application/octet-stream',
      params: { filename: file.name, base_version: baseVersion },
    }),
  setupTemplateUrl: `${BASE}/console/setup/template.xlsx`,
  setupExportUrl: `${BASE}/console/setup/export.xlsx`,
  users: () => call<UserRow[]>('/console/setup/users'),
  addUser: (input: UserInput) => call<UserRow>('/console/setup/users', { method: 'POST', json: input }),
  editUser: (id: string, input: UserInput) =>
    call<UserRow>(`/console/setup/users/${encodeURIComponent(id)}`, { method: 'POST', json: input }),
  setUserDisabled: (id: string, disabled: boolean) =>
    call<UserRow>(`/console/setup/users/${encodeURIComponent(id)}/${disabled ? 'disable' : 'enable'}`, { method: 'POST' }),
  resetPassword: (id: string) =>
    call<PasswordReset>(`/console/setup/users/${encodeURIComponent(id)}/reset-password`, { method: 'POST', json: {} }),
  enrollCode: (id: string) =>
    call<EnrollCode>(`/console/setup/users/${encodeURIComponent(id)}/enroll-code`, { method: 'POST', json: {} }),
  revokeDevice: (id: string) =>
    call<RevokedDevice>(`/console/setup/devices/${encodeURIComponent(id)}/revoke`, { method: 'POST' }),
  points: (params: Record<string, string | number | boolean | undefined>) => call<PointPage>('/console/setup/points', { params }),
  addPoint: (input: PointInput) => call<Point>('/console/setup/points', { method: 'POST', json: input }),
  editPoint: (id: string, input: PointInput) =>
    call<Point>(`/console/setup/points/${encodeURIComponent(id)}`, { method: 'POST', json: input }),
  setPointActive: (id: string, active: boolean) =>
    call<Point>(`/console/setup/points/${encodeURIComponent(id)}/${active ? 'activate' : 'deactivate'}`, { method: 'POST' }),
  calendar: () => call<CalendarPage>('/console/setup/calendar'),
  setCalendar: (calendar: WorkCalendar) => call<CalendarPage>('/console/setup/calendar', { method: 'POST', json: calendar }),
  categories: () => call<Category[]>('/console/setup/categories'),
  setDeadline: (code: string, rule: DeadlineRule) =>
    call<Category>(`/console/setup/categories/${encodeURIComponent(code)}/deadline`, { method: 'POST', json: rule }),
  templates: () => call<ChecklistTemplate[]>('/console/setup/templates'),
  // Volunteer teams, their members and the city's anonymous channel (admins).
  volunteers: () => call<VolunteersPage>('/console/volunteers'),
  addTeam: (input: TeamInput) => call<TeamRow>('/console/volunteers/teams', { method: 'POST', json: input }),
  /** A new invite link for the team; the old one stops working. */
  rotateInvite: (id: string) =>
    call<TeamRow>(`/console/volunteers/teams/${encodeURIComponent(id)}/invite`, { method: 'POST' }),
  decideMember: (userId: string, decision: MemberDecision) =>
    call<VolunteerRow>(`/console/volunteers/members/${encodeURIComponent(userId)}`, { method: 'POST', json: decision }),
  setVolunteerSettings: (settings: VolunteerSettings) =>
    call<VolunteersPage>('/console/volunteers/settings', { method: 'PUT', json: settings }),
  audit: (limit: number, offset: number) => call<AuditPage>('/console/setup/audit', { params: { limit, offset } }),
  /** Downloads a finished export as `name` (a fetch: every API call carries the protocol header). */
  downloadExport: async (url: string, name: string) => {
    let res: Response
    try {
      res = await fetch(url, { headers: { [PROTOCOL_HEADER]: PROTOCOL_VERSION }, credentials: 'same-origin' })
    } catch (e) {
      throw new ConsoleApiError(0, 'network', e instanceof Error ? e.message : String(e))
    }
    if (!res.ok) {
      const err = (await res.json().catch(() => ({}))) as { code?: string; message?: string }
      throw new ConsoleApiError(res.status, err.code ?? `http_${res.status}`, err.message ?? res.statusText)
    }
    const href = URL.createObjectURL(await res.blob())
    const a = document.createElement('a')
    a.href = href
    a.download = name
    document.body.appendChild(a)
    a.click()
    a.remove()
    setTimeout(() => URL.revokeObjectURL(href), 60_000)
  },
}

/** Any thrown value in plain words. */
export function describe(e: unknown): string {
  if (e instanceof ConsoleApiError) return e.text
  return errorText('other', e instanceof Error ? e.message : String(e))
}
