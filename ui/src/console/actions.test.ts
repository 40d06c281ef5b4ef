import { describe, expect, it } from 'vitest'
import { buildAction, emptyForm, type ActionForm } from './actions'

const form = (p: Partial<ActionForm>): ActionForm => ({ ...emptyForm(), ...p })

describe('handling dialogs -> actions', () => {
  it('dispatch with the computed deadline, or another one with a reason', () => {
    expect(buildAction('dispatch', form({}))).toEqual({ error: 'a_unit_required' })
    expect(buildAction('dispatch', form({ unit: 'U1' }))).toEqual({ action: { action: 'dispatch', unit_id: 'U1', deadline: null, note: null } })
    expect(buildAction('dispatch', form({ unit: 'U1', override: true }))).toEqual({ error: 'a_deadline_required' })
    expect(buildAction('dispatch', form({ unit: 'U1', override: true, wall: '2026-12-05T18:00:00' }), 480)).toEqual({ error: 'a_reason_required' })
    expect(buildAction('dispatch', form({ unit: 'U1', override: true, wall: '2026-12-05T18:00:00', reason: ' 领导交办 ' }), 480)).toEqual({
      action: { action: 'dispatch', unit_id: 'U1', deadline: '2026-12-05T10:00:00Z', note: '领导交办' },
    })
  })

  it('reject: duplicate of a code, not a problem, or in other words', () => {
    expect(buildAction('reject', form({ rejectKind: 'duplicate' }))).toEqual({ error: 'a_reason_required' })
    expect(buildAction('reject', form({ rejectKind: 'duplicate', duplicateOf: 'WT-0001' }))).toEqual({
      action: { action: 'reject', reason: { type: 'duplicate', of: 'WT-0001' } },
    })
    expect(buildAction('reject', form({ rejectKind: 'not_problem' }))).toEqual({
      action: { action: 'reject', reason: { type: 'invalid', reason: '经核实不属于问题' } },
    })
    expect(buildAction('reject', form({ rejectKind: 'other' }))).toEqual({ error: 'a_reason_required' })
    expect(buildAction('reject', form({ rejectKind: 'other', reason: '已拆除' }))).toEqual({
      action: { action: 'reject', reason: { type: 'invalid', reason: '已拆除' } },
    })
  })

  it('rectify needs an after-photo; return and extension need a reason', () => {
    expect(buildAction('rectify', form({}))).toEqual({ error: 'a_after_required' })
    expect(buildAction('rectify', form({ photos: ['ab12'], note: '已清理' }))).toEqual({
      action: { action: 'rectify', photos: ['ab12'], note: '已清理' },
    })
    expect(buildAction('return', form({}))).toEqual({ error: 'a_reason_required' })
    expect(buildAction('return', form({ reason: '不属本单位' }))).toEqual({ action: { action: 'return', reason: '不属本单位' } })
    expect(buildAction('request_extension', form({ reason: 'x' }))).toEqual({ error: 'a_until_required' })
    expect(buildAction('request_extension', form({ untilDate: '2026-12-20', reason: '需采购' }))).toEqual({
      action: { action: 'request_extension', until_date: '2026-12-20', reason: '需采购' },
    })
  })

  it('verify and recheck: a failure needs its reason', () => {
    expect(buildAction('verify', form({ passed: false }))).toEqual({ error: 'a_fail_reason_required' })
    expect(buildAction('verify', form({ passed: true }))).toEqual({ action: { action: 'verify', passed: true, note: null, photos: [] } })
    expect(buildAction('recheck', form({ passed: false, note: '又有堆物' }))).toEqual({
      action: { action: 'recheck', passed: false, note: '又有堆物', photos: [] },
    })
    expect(buildAction('decide_extension', form({ approved: false, note: '理由不足' }))).toEqual({
      action: { action: 'decide_extension', approved: false, note: '理由不足' },
    })
    expect(buildAction('close', form({}))).toEqual({ action: { action: 'close', note: null } })
  })
})
