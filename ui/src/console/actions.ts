// A handling dialog's form -> the ProblemAction the server applies, with the checks a person
// should hear about before sending (a reason where one is required, an after-photo for a
// rectification, a reason for overriding the computed deadline).
import { ct, type CKey } from './i18n'
import { cityWallToIso } from './time'
import type { ProblemAction, ProblemActionKind, Severity } from './wire'

/** Buttons in this order, whatever order the server lists them in. */
export const ACTION_ORDER: ProblemActionKind[] = [
  'file',
  'dispatch',
  'reject',
  'accept',
  'return',
  'rectify',
  'request_extension',
  'decide_extension',
  'verify',
  'close',
  'recheck',
  'add_photos',
  'edit',
]

export type RejectKind = 'duplicate' | 'not_problem' | 'other'

export interface ActionForm {
  note: string
  reason: string
  rejectKind: RejectKind
  duplicateOf: string
  unit: string
  override: boolean
  /** A city wall time from the picker (YYYY-MM-DDTHH:mm:ss). */
  wall: string
  photos: string[]
  untilDate: string
  approved: boolean
  passed: boolean
  description: string
  address: string
  severity: Severity | ''
}

export function emptyForm(): ActionForm {
  return {
    note: '',
    reason: '',
    rejectKind: 'duplicate',
    duplicateOf: '',
    unit: '',
    override: false,
    wall: '',
    photos: [],
    untilDate: '',
    approved: true,
    passed: true,
    description: '',
    address: '',
    severity: '',
  }
}

export type Built = { action: ProblemAction } | { error: CKey }

const opt = (s: string): string | null => (s.trim() ? s.trim() : null)

export function buildAction(kind: ProblemActionKind, f: ActionForm, offsetMinutes?: number): Built {
  const note = opt(f.note)
  switch (kind) {
    case 'file':
      return { action: { action: 'file', note } }
    case 'reject': {
      if (f.rejectKind === 'duplicate') {
        if (!f.duplicateOf.trim()) return { error: 'a_reason_required' }
        return { action: { action: 'reject', reason: { type: 'duplicate', of: f.duplicateOf.trim() } } }
      }
      if (f.rejectKind === 'not_problem') {
        const extra = opt(f.reason)
        const text = ct('a_reject_not_problem_text')
        return { action: { action: 'reject', reason: { type: 'invalid', reason: extra ? `${text}：${extra}` : text } } }
      }
      if (!f.reason.trim()) return { error: 'a_reason_required' }
      return { action: { action: 'reject', reason: { type: 'invalid', reason: f.reason.trim() } } }
    }
    case 'dispatch': {
      if (!f.unit) return { error: 'a_unit_required' }
      if (!f.override) return { action: { action: 'dispatch', unit_id: f.unit, deadline: null, note } }
      if (!f.wall) return { error: 'a_deadline_required' }
      // Overriding the rule's deadline needs a reason; it goes on the record as the note.
      if (!f.reason.trim()) return { error: 'a_reason_required' }
      return { action: { action: 'dispatch', unit_id: f.unit, deadline: cityWallToIso(f.wall, offsetMinutes), note: f.reason.trim() } }
    }
    case 'accept':
      return { action: { action: 'accept', note } }
    case 'return':
      if (!f.reason.trim()) return { error: 'a_reason_required' }
      return { action: { action: 'return', reason: f.reason.trim() } }
    case 'rectify':
      if (!f.photos.length) return { error: 'a_after_required' }
      return { action: { action: 'rectify', photos: [...f.photos], note } }
    case 'request_extension':
      if (!f.untilDate) return { error: 'a_until_required' }
      if (!f.reason.trim()) return { error: 'a_reason_required' }
      return { action: { action: 'request_extension', until_date: f.untilDate, reason: f.reason.trim() } }
    case 'decide_extension':
      return { action: { action: 'decide_extension', approved: f.approved, note } }
    case 'verify':
      if (!f.passed && !note) return { error: 'a_fail_reason_required' }
      return { action: { action: 'verify', passed: f.passed, note, photos: [...f.photos] } }
    case 'close':
      return { action: { action: 'close', note } }
    case 'recheck':
      if (!f.passed && !note) return { error: 'a_fail_reason_required' }
      return { action: { action: 'recheck', passed: f.passed, note, photos: [...f.photos] } }
    case 'add_photos':
      if (!f.photos.length) return { error: 'a_after_required' }
      return { action: { action: 'add_photos', photos: [...f.photos], role: 'evidence', note } }
    case 'edit':
      return {
        action: {
          action: 'edit',
          description: opt(f.description),
          address: opt(f.address),
          severity: f.severity || null,
        },
      }
  }
}

/** Which actions upload photos, and whether one is required. */
export function photoNeed(kind: ProblemActionKind): 'required' | 'optional' | 'none' {
  if (kind === 'rectify' || kind === 'add_photos') return 'required'
  if (kind === 'verify' || kind === 'recheck') return 'optional'
  return 'none'
}
