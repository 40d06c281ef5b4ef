import { describe, expect, it } from 'vitest'
import { cardable, cards, issueCards, sheets } from './cards'
import { session } from './api'
import type { EnrollCode, UserRow } from './wire'

const user = (id: string, over: Partial<UserRow> = {}): UserRow => ({
  id,
  name: id,
  role: 'inspector',
  unit_id: null,
  district_ids: [],
  phone: null,
  disabled: false,
  removed: false,
  has_password: false,
  devices: [],
  ...over,
})
const code = (user_id: string): EnrollCode => ({ code: `C-${user_id}`, user_id, expires_at_ms: 0, uri: '', qr_svg: '<svg/>' })

describe('enrollment cards', () => {
  it('only enabled users still in the reference get a card', () => {
    expect(cardable(user('a'))).toBe(true)
    expect(cardable(user('b', { disabled: true }))).toBe(false)
    expect(cardable(user('c', { removed: true }))).toBe(false)
  })

  it('issues one at a time in order; a failure is one user’s and the rest still get theirs', async () => {
    let running = 0
    const seen: string[] = []
    const issue = async (id: string) => {
      running++
      expect(running).toBe(1)
      await new Promise((r) => setTimeout(r, 1))
      running--
      seen.push(id)
      if (id === 'b') throw new Error('user b is disabled')
      return code(id)
    }
    const reported: string[] = []
    const r = await issueCards([user('a'), user('b'), user('c')], issue, (f) => reported.push(f.user.id))
    expect(seen).toEqual(['a', 'b', 'c'])
    expect(r.cards.map((c) => c.code.code)).toEqual(['C-a', 'C-c'])
    expect(r.failures.map((f) => [f.user.id, (f.error as Error).message])).toEqual([['b', 'user b is disabled']])
    expect(reported).toEqual(['b'])
  })

  it('eight cards to a printed page', () => {
    expect(sheets([])).toEqual([])
    expect(sheets([1, 2, 3]).map((s) => s.length)).toEqual([3])
    expect(sheets(Array.from({ length: 17 }, (_, i) => i)).map((s) => s.length)).toEqual([8, 8, 1])
  })

  it('the codes are forgotten when the session ends', async () => {
    session.value = { user_id: 'usr-admin-1' } as never
    cards.value = [{ user: user('a'), code: code('a') }]
    session.value = null
    await Promise.resolve()
    expect(cards.value).toEqual([])
  })
})
