// Enrollment cards for a team: one code per user, issued one after another, printed as a sheet.
// A code is a one-time secret the server shows only once, so the cards live in this module's
// memory alone: not in storage, not in the URL; a reload or a sign-out forgets them.
import { shallowRef, watch } from 'vue'
import { session } from './api'
import type { EnrollCode, UserRow } from './wire'

export interface EnrollCard {
  user: UserRow
  code: EnrollCode
}

export interface IssueFailure {
  user: UserRow
  error: unknown
}

/** The cards of the last issue, for the print view. */
export const cards = shallowRef<EnrollCard[]>([])

watch(session, (s) => {
  if (!s) cards.value = []
})

/** Cards per printed A4 page (2 × 4). */
export const CARDS_PER_SHEET = 8

/** Who may get a card: a disabled or removed user's code could not enroll a device anyway. */
export const cardable = (u: UserRow) => !u.disabled && !u.removed

/**
 * One code per user, in the table's order. Sequential rather than in parallel: each issue is an
 * audited write, and a failure (say a user disabled at another desk meanwhile) belongs to one
 * user and must not stop the others.
 */
export async function issueCards(
  users: UserRow[],
  issue: (id: string) => Promise<EnrollCode>,
  onFailure: (f: IssueFailure) => void = () => {},
): Promise<{ cards: EnrollCard[]; failures: IssueFailure[] }> {
  const done: EnrollCard[] = []
  const failures: IssueFailure[] = []
  for (const user of users) {
    try {
      done.push({ user, code: await issue(user.id) })
    } catch (error) {
      const f = { user, error }
      failures.push(f)
      onFailure(f)
    }
  }
  return { cards: done, failures }
}

/** The cards cut into printed pages, so a page break never falls inside a card. */
export function sheets<T>(list: T[], per = CARDS_PER_SHEET): T[][] {
  const out: T[][] = []
  for (let i = 0; i < list.length; i += per) out.push(list.slice(i, i + per))
  return out
}

/** The QR code as an image source: the server's SVG stays an image, never markup in the page. */
export const qrSrc = (svg: string) => `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`
