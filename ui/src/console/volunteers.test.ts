import { describe, expect, it } from 'vitest'
import { filterVolunteers, memberActions, rankTeams, sortVolunteers, statusKey, statusTagType, teamNameProblem } from './volunteers'
import { zh } from './i18n'
import type { TeamRow, VolunteerRow } from './wire'

const team = (id: string, confirmed: number, reports: number, created_at = '2026-01-01T00:00:00Z'): TeamRow => ({
  id,
  name: id,
  district_id: null,
  invite_url: `https://city.example/report/#/join/${id}`,
  invite_qr: '<svg/>',
  members: 0,
  pending: 0,
  reports,
  confirmed,
  created_at,
})

const vol = (user_id: string, over: Partial<VolunteerRow> = {}): VolunteerRow => ({
  user_id,
  name: user_id,
  phone: '13800000000',
  team_id: 'T1',
  status: 'approved',
  leader: false,
  joined_at: '2026-03-01T00:00:00Z',
  reports: 0,
  confirmed: 0,
  ...over,
})

describe('team ranking', () => {
  it('confirmed first, then reports; ties share a rank and the older team goes first', () => {
    const ranked = rankTeams([
      team('few', 1, 9),
      team('top', 5, 5),
      team('tie-new', 3, 4, '2026-02-01T00:00:00Z'),
      team('tie-old', 3, 4, '2026-01-15T00:00:00Z'),
      team('more-reports', 3, 8),
    ])
    expect(ranked.map((t) => [t.id, t.rank])).toEqual([
      ['top', 1],
      ['more-reports', 2],
      ['tie-old', 3],
      ['tie-new', 3],
      ['few', 5],
    ])
  })

  it('leaves the given list alone', () => {
    const list = [team('a', 0, 0), team('b', 2, 0)]
    rankTeams(list)
    expect(list.map((t) => t.id)).toEqual(['a', 'b'])
  })
})

describe('volunteers table', () => {
  it('pending first, then approved (leaders first), then rejected; newest first within', () => {
    const rows = [
      vol('rejected', { status: 'rejected' }),
      vol('approved-old', { joined_at: '2026-01-01T00:00:00Z' }),
      vol('pending-old', { status: 'pending', joined_at: '2026-01-01T00:00:00Z' }),
      vol('approved-new', { joined_at: '2026-04-01T00:00:00Z' }),
      vol('leader', { leader: true, joined_at: '2025-01-01T00:00:00Z' }),
      vol('pending-new', { status: 'pending', joined_at: '2026-05-01T00:00:00Z' }),
    ]
    expect(sortVolunteers(rows).map((r) => r.user_id)).toEqual([
      'pending-new',
      'pending-old',
      'leader',
      'approved-new',
      'approved-old',
      'rejected',
    ])
  })

  it('filters by team and status, empty meaning any', () => {
    const rows = [vol('a'), vol('b', { team_id: 'T2' }), vol('c', { status: 'pending' })]
    expect(filterVolunteers(rows, { team: '', status: '' }).map((r) => r.user_id)).toEqual(['a', 'b', 'c'])
    expect(filterVolunteers(rows, { team: 'T1', status: '' }).map((r) => r.user_id)).toEqual(['a', 'c'])
    expect(filterVolunteers(rows, { team: 'T1', status: 'pending' }).map((r) => r.user_id)).toEqual(['c'])
    expect(filterVolunteers(rows, { team: '', status: 'rejected' })).toEqual([])
  })

  it('every status has words and a tag', () => {
    for (const s of ['pending', 'approved', 'rejected', 'anonymous'] as const) expect(statusKey(s) in zh, s).toBe(true)
    expect(zh[statusKey('pending')]).toBe('待审核')
    expect(statusTagType('pending')).toBe('warning')
    expect(statusTagType('approved')).toBe('success')
    expect(statusTagType('rejected')).toBe('danger')
  })

  it('offers the decisions that change something; only an approved member is made leader', () => {
    expect(memberActions(vol('p', { status: 'pending' }))).toEqual({ approve: true, reject: true, leader: false })
    expect(memberActions(vol('a'))).toEqual({ approve: false, reject: true, leader: true })
    expect(memberActions(vol('r', { status: 'rejected' }))).toEqual({ approve: true, reject: false, leader: false })
    // A leader turned down keeps the way to be unmade.
    expect(memberActions(vol('l', { status: 'rejected', leader: true })).leader).toBe(true)
    expect(memberActions(vol('x', { status: 'anonymous' }))).toEqual({ approve: false, reject: false, leader: false })
  })
})

describe('team name', () => {
  it('is required and at most 64 characters (a Chinese character is one)', () => {
    expect(teamNameProblem('  ')).toBe('vol_team_name_required')
    expect(teamNameProblem('幸福里社区志愿服务队')).toBeNull()
    expect(teamNameProblem('志'.repeat(64))).toBeNull()
    expect(teamNameProblem('志'.repeat(65))).toBe('vol_team_name_too_long')
    expect(teamNameProblem(` ${'a'.repeat(64)} `)).toBeNull()
  })
})
