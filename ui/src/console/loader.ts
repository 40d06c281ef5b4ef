// The console screens' one way of loading what they show: the last request wins (an older
// answer arriving late is dropped), the failure is kept as it came so that it is put in words
// when shown (a language switch re-words it), and `loading` drives the spinner.
import { ref, shallowRef } from 'vue'

export function useLoader<T>(fetch: () => Promise<T>, loaded?: (value: T) => void) {
  const data = shallowRef<T | null>(null)
  const loading = ref(false)
  const error = shallowRef<unknown>(null)
  let seq = 0
  async function load(): Promise<void> {
    const mine = ++seq
    loading.value = true
    try {
      const value = await fetch()
      if (mine !== seq) return
      data.value = value
      error.value = null
      loaded?.(value)
    } catch (e) {
      if (mine === seq) error.value = e
    } finally {
      if (mine === seq) loading.value = false
    }
  }
  return { data, loading, error, load }
}
