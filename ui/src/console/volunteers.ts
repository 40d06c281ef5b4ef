// The volunteers page's own logic, kept out of the view so it can be tested: the teams'
// ranking (积分 = confirmed reports), the order and filter of the volunteers table, how a
// volunteer's status reads and which decisions a row offers.
import type { TagType } from './status'
import type { TeamRow, VolunteerRow, VolunteerStatus } from './wire'

/** The longest team name the server takes (characters, not bytes). */
export const TEAM_NAME_MAX = 64

export type RankedTeam = TeamRow & { rank: number }

/**
 * Teams best first: most confirmed reports, then most reports, then oldest (an earlier team
 * keeps its place on a tie); equal confirmed and reports share a rank (1, 2, 2, 4).
 */
export function rankTeams(teams: readonly TeamRow[]): RankedTeam[] {
  const sorted = [...teams].sort(
    (a, b) =>
      Number(b.confirmed) - Number(a.confirmed) ||
      Number(b.reports) - Number(a.reports) ||
      a.created_at.localeCompare(b.created_at) ||
      a.name.localeCompare(b.name),
  )
  const out: RankedTeam[] = []
  sorted.forEach((t, i) => {
    const prev = out[i - 1]
    const tie = prev && Number(prev.confirmed) === Number(t.confirmed) && Number(prev.reports) === Number(t.reports)
    out.push({ ...t, rank: tie ? prev.rank : i + 1 })
  })
  return out
}

const STATUS_ORDER: Record<VolunteerStatus, number> = { pending: 0, approved: 1, rejected: 2, anonymous: 3 }

/** Pending first (they wait on the office); within a status the team leaders, then the newest. */
export function sortVolunteers(rows: readonly VolunteerRow[]): VolunteerRow[] {
  return [...rows].sort(
    (a, b) =>
      (STATUS_ORDER[a.status] ?? 9) - (STATUS_ORDER[b.status] ?? 9) ||
      Number(b.leader) - Number(a.leader) ||
      b.joined_at.localeCompare(a.joined_at) ||
      a.name.localeCompare(b.name),
  )
}

export interface VolunteerFilter {
  team: string
  status: VolunteerStatus | ''
}

export function filterVolunteers(rows: readonly VolunteerRow[], f: VolunteerFilter): VolunteerRow[] {
  return rows.filter((r) => (!f.team || r.team_id === f.team) && (!f.status || r.status === f.status))
}

/** The i18n key of a status (待审核 / 已通过 / 未通过 / 匿名市民). */
export const statusKey = (s: VolunteerStatus) => `vol_status_${s}` as const

export function statusTagType(s: VolunteerStatus): TagType {
  switch (s) {
    case 'pending':
      return 'warning'
    case 'approved':
      return 'success'
    case 'rejected':
      return 'danger'
    default:
      return 'info'
  }
}

/** What the office may do with a row: approve or turn down (either way round, the office can
 * correct itself), and only an approved member leads a team — a leader approves others. */
export function memberActions(r: VolunteerRow): { approve: boolean; reject: boolean; leader: boolean } {
  const member = r.status !== 'anonymous'
  return {
    approve: member && r.status !== 'approved',
    reject: member && r.status !== 'rejected',
    leader: r.leader || r.status === 'approved',
  }
}

/** Why a team name cannot be saved (an i18n key), or null when it can. */
export function teamNameProblem(name: string): 'vol_team_name_required' | 'vol_team_name_too_long' | null {
  const n = name.trim()
  if (!n) return 'vol_team_name_required'
  if ([...n].length > TEAM_NAME_MAX) return 'vol_team_name_too_long'
  return null
}
