// A problem's colour by its stage (Vant's palette), in the inspector app and on the volunteers'
// page.
import type { ProblemStatus } from '../wire/fieldcheck'

export function statusColor(s: ProblemStatus): string {
  switch (s) {
    case 'reported':
    case 'filed':
      return '#1989fa'
    case 'dispatched':
    case 'rectifying':
    case 'reopened':
      return '#ff976a'
    case 'returned':
      return '#ee0a24'
    case 'rectified':
    case 'verified':
      return '#07c160'
    default:
      return '#969799'
  }
}
