// Typed commands over the transport. Shapes follow the Rust types (serde, snake_case).
import { transport } from './transport'
import type { Progress } from './sync'

export interface Text {
  zh: string
  en?: string
}
export type Role = 'admin' | 'inspector' | 'unit_handler' | 'volunteer'
export type ProblemStatus =
  | 'reported'
  | 'filed'
  | 'rejected'
  | 'dispatched'
  | 'rectifying'
  | 'returned'
  | 'rectified'
  | 'verified'
  | 'closed'
  | 'reopened'
export const STATUSES: ProblemStatus[] = [
  'reported',
  'filed',
  'rejected',
  'dispatched',
  'rectifying',
  'returned',
  'rectified',
  'verified',
  'closed',
  'reopened',
]
export type Severity = 'low' | 'normal' | 'high' | 'urgent'
export type LocationSource = 'gps' | 'exif' | 'map' | 'typed'

export interface Location {
  lat: number
  lon: number
  accuracy_m?: number | null
  source: LocationSource
}
export interface User {
  id: string
  name: string
  role: Role
  unit_id?: string
  district_ids?: string[]
}
export interface Me {
  user: User | null
  device_id: string
  device_tag: string
  pending_sync: number
  missing_photos: number
}
export interface District {
  id: string
  name: Text
  level: 'district' | 'street' | 'community'
  parent_id?: string
}
export interface Unit {
  id: string
  name: Text
  kind: string
  district_id?: string
}
export interface Category {
  code: string
  major_code: string
  major: Text
  minor: Text
  deadline: { amount: number; unit: string }
}
export interface Reference {
  districts: District[]
  units: Unit[]
  categories: Category[]
  point_types: { code: string; name: Text }[]
  users: User[]
}
export interface Point {
  id: string
  name: string
  type: string
  location: { lat: number; lon: number }
  address: string
  district_id: string
  territorial_unit_id?: string
  sector_unit_ids?: string[]
}
export interface PointRow extends Point {
  distance_m: number | null
}
export type ItemKind =
  | { kind: 'pass_fail' }
  | { kind: 'count'; deduction: number; cap: number }
  | { kind: 'measured'; threshold: number; comparison: 'at_least' | 'at_most'; unit?: string }
export type ChecklistItem = ItemKind & {
  id: string
  text: Text
  points: number
  photo_required_on_fail: boolean
  category?: string
}
export interface Template {
  id: string
  version: number
  point_type: string
  name: Text
  items: ChecklistItem[]
}
export type ItemResult =
  | { result: 'pass' }
  | { result: 'fail' }
  | { result: 'not_applicable' }
  | { result: 'count'; count: number }
  | { result: 'value'; value: number }
export interface Score {
  earned: number
  possible: number
  percent: number
  failed_items: number
  recorded_items: number
}
export interface RecordedItem {
  result: ItemResult
  failed: boolean
  note: string | null
  photos: string[]
  recorded_at: string
}
export interface Inspection {
  id: string
  point_id: string
  template_id: string
  template_version: number
  inspector: string
  status: 'in_progress' | 'finished'
  started_at: string
  finished_at: string | null
  items: Record<string, RecordedItem>
  score: Score
}
export interface InspectionView {
  inspection: Inspection
  template: Template
  /** The server refused this inspection's start: it exists only on this device. */
  refused?: ServerRefusal | null
}
export interface ProblemPhoto {
  hash: string
  role: 'before' | 'after' | 'evidence'
  event_id: string
  added_by: string
}
export interface Problem {
  id: string
  code: string
  status: ProblemStatus
  category: string
  description: string
  location: Location | null
  address: string
  district_id: string | null
  point_id: string | null
  /** How the device placed a report made by GPS alone (absent when a person chose). */
  placement?: Placement | null
  item_id: string | null
  reporter: string
  reporter_role: Role
  severity: Severity
  unit_id: string | null
  deadline: string | null
  rework_count: number
  status_reason: string | null
  extension: { until: string; reason: string } | null
  photos: ProblemPhoto[]
  reported_at: string
  updated_at: string
}
export interface Placement {
  source: 'near_point' | 'nearby_points' | 'reporter_district'
  distance_m?: number | null
}
/** The server's refusal of an event (its stable code and its own message). */
export interface ServerRefusal {
  code: string
  message: string
}
export interface LedgerRow extends Problem {
  overdue: boolean
  rejected_events: number
  /** The server refused this record's report: it exists only on this device. */
  refused?: ServerRefusal | null
}
export interface Page<T> {
  items: T[]
  total: number
  offset: number
  limit: number
}
export interface ProblemQuery {
  statuses?: ProblemStatus[]
  category?: string
  unit_id?: string
  district_id?: string
  reporter?: string
  overdue?: boolean
  with_rejections?: boolean
  text?: string
  sort?: 'newest' | 'oldest' | 'deadline' | 'updated' | 'code'
  limit?: number
  offset?: number
}
export interface EventRecord {
  event: {
    id: string
    actor: string
    role: Role
    kind: string
    hlc: string
    payload?: Record<string, unknown>
    photos?: { hash: string; role: string }[]
  }
  outcome: 'applied' | 'rejected'
  code?: string
  message?: string
  origin: string
  pushed: boolean
  server_refusal?: ServerRefusal | null
  /** Replaced by the report sent again after a refusal. */
  superseded_by?: string | null
}
export interface ProblemDetail {
  problem: Problem
  overdue: boolean
  history: EventRecord[]
  allowed_actions: string[]
  refused?: ServerRefusal | null
}
export interface Home {
  me: Me
  inspections_today: number
  reported_today: number
  todo: Page<LedgerRow>
  todo_query: ProblemQuery
  overdue: number
  open_inspections: { inspection: Inspection; point_name: string }[]
}
export interface PhotoInfo {
  hash: string
  width: number
  height: number
  exif_lat: number | null
  exif_lon: number | null
  taken_at: string | null
  new: boolean
}
export interface Settings {
  db_path: string
  db_bytes: number
  photo_bytes: number
  photo_files: number
  pending_sync: number
}
export interface NewProblem {
  category: string
  description: string
  location?: Location | null
  address?: string
  district_id?: string | null
  point_id?: string | null
  severity?: Severity
  photos: string[]
}
export interface SyncReport {
  pushed: number
  duplicates: number
  refused: unknown[]
  rejected: unknown[]
  photos_uploaded: number
  photo_bytes_uploaded: number
  photos_failed: [string, string][]
  events_pulled: number
}
export interface SyncStatus {
  enrolled: boolean
  server: string | null
  user_id: string | null
  pending_records: number
  pending_photos: number
  running: boolean
  progress: Progress | null
  started_at_ms: number | null
  finished_at_ms: number | null
  last_success_ms: number | null
  last_report: SyncReport | null
  last_error: { code: string; message: string } | null
}
export interface EnrollResult {
  server: string
  user: User
  device_tag: string
  reference_version: number | null
  reference_error: string | null
  me: Me
}
export type ProblemAction = { action: string } & Record<string, unknown>

const c = <T>(cmd: string, args: Record<string, unknown> = {}) => transport().call<T>(cmd, args)

export const api = {
  me: () => c<Me>('me'),
  login: (user_id: string | null) => c<Me>('login', { user_id }),
  home: () => c<Home>('home'),
  reference: () => c<Reference>('reference'),
  points: (a: { point_type?: string; district_id?: string; lat?: number; lon?: number }) =>
    c<PointRow[]>('points', a),
  point: (id: string) =>
    c<{ point: Point; inspections: Inspection[]; template: Template | null; open_problems: Page<LedgerRow> }>(
      'point',
      { id },
    ),
  inspection: (id: string) => c<InspectionView>('inspection', { id }),
  inspectionStart: (point_id: string, location: Location | null) =>
    c<InspectionView>('inspection_start', { point_id, location }),
  inspectionRecord: (a: { inspection_id: string; item_id: string; result: ItemResult; note?: string; photos: string[] }) =>
    c<InspectionView>('inspection_record', a),
  inspectionFinish: (inspection_id: string, location: Location | null) =>
    c<InspectionView>('inspection_finish', { inspection_id, location }),
  inspectionRaise: (inspection_id: string, item_id: string, description?: string) =>
    c<Problem>('inspection_raise', { inspection_id, item_id, description }),
  report: (p: NewProblem) => c<Problem>('problem_report', p as unknown as Record<string, unknown>),
  act: (id: string, action: ProblemAction) => c<ProblemDetail>('problem_act', { id, action }),
  problem: (id: string) => c<ProblemDetail>('problem', { id }),
  /** A refused report sent again, corrected (district and/or point). */
  resend: (id: string, fix: { district_id?: string | null; point_id?: string | null }) =>
    c<ProblemDetail>('problem_resend', { id, ...fix }),
  /** Removes a refused report from this device; only after the person confirmed. */
  discard: (id: string) => c<{ discarded: string; code: string }>('problem_discard', { id, confirm: true }),
  /** Removes an inspection the server refused from this device; only after the person confirmed. */
  inspectionDiscard: (id: string) => c<{ discarded: string }>('inspection_discard', { id, confirm: true }),
  ledger: (query: ProblemQuery, mine = false) => c<Page<LedgerRow>>('ledger', { query, mine }),
  settings: () => c<Settings>('settings'),
  /** `allow_insecure`: the person confirmed enrolling over plain http (`insecure_server`). */
  enroll: (server: string, code: string, ca_cert?: string, allow_insecure = false) =>
    c<EnrollResult>('enroll', {
      server,
      code,
      ...(ca_cert ? { ca_cert } : {}),
      ...(allow_insecure ? { allow_insecure } : {}),
    }),
  unenroll: (discard_pending = false) => c<SyncStatus>('unenroll', { discard_pending }),
  syncStart: () => c<SyncStatus>('sync_start'),
  syncStatus: () => c<SyncStatus>('sync_status'),
  demoSeed: () => c<{ created: number; me: Me }>('demo_seed'),
  uploadPhoto: (file: Blob) => transport().uploadPhoto<PhotoInfo>(file),
  photoUrl: (hash: string, size: 'display' | 'thumb' = 'thumb') => transport().photoUrl(hash, size),
}
