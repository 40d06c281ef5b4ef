import { describe, expect, it } from 'vitest'
import { useLoader } from './loader'

describe('useLoader', () => {
  it('keeps the last answer, drops a late older one, and keeps a failure until the next success', async () => {
    const resolvers: ((v: number) => void)[] = []
    let fail = false
    const l = useLoader<number>(() => (fail ? Promise.reject(new Error('down')) : new Promise((r) => resolvers.push(r))))
    const first = l.load()
    const second = l.load()
    expect(l.loading.value).toBe(true)
    resolvers[1](2)
    await second
    resolvers[0](1)
    await first
    expect(l.data.value).toBe(2)
    expect(l.loading.value).toBe(false)
    fail = true
    await l.load()
    expect((l.error.value as Error).message).toBe('down')
    expect(l.data.value).toBe(2)
    fail = false
    const third = l.load()
    resolvers[2](3)
    await third
    expect(l.error.value).toBeNull()
    expect(l.data.value).toBe(3)
  })
})
