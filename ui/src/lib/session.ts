// Session state: who is signed in and the reference data, shared by the screens.
import { ref } from 'vue'
import { api, type Me } from './api'
import { reference } from './ui'
import { txt } from './i18n'

export const me = ref<Me | null>(null)

export async function refreshMe(): Promise<Me> {
  me.value = await api.me()
  return me.value
}

export async function loadReference(force = false): Promise<void> {
  if (reference.value && !force) return
  reference.value = await api.reference()
}

export function categoryName(code: string | null | undefined): string {
  const c = reference.value?.categories.find((x) => x.code === code)
  return c ? `${txt(c.major)} · ${txt(c.minor)}` : (code ?? '')
}

export function unitName(id: string | null | undefined): string {
  const u = reference.value?.units.find((x) => x.id === id)
  return u ? txt(u.name) : (id ?? '')
}

export function userName(id: string | null | undefined): string {
  return reference.value?.users.find((x) => x.id === id)?.name ?? id ?? ''
}

export function districtName(id: string | null | undefined): string {
  const d = reference.value?.districts.find((x) => x.id === id)
  return d ? txt(d.name) : (id ?? '')
}

export function pointTypeName(code: string): string {
  const p = reference.value?.point_types.find((x) => x.code === code)
  return p ? txt(p.name) : code
}
