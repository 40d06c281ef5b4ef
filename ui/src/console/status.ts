// How each status looks: an Element Plus tag type and a colour for the map and charts.
import type { ProblemStatus } from './wire'

export type TagType = 'primary' | 'success' | 'warning' | 'danger' | 'info'

export function statusTag(s: ProblemStatus): TagType {
  switch (s) {
    case 'reported':
    case 'filed':
      return 'primary'
    case 'dispatched':
    case 'rectifying':
    case 'reopened':
      return 'warning'
    case 'returned':
      return 'danger'
    case 'rectified':
    case 'verified':
      return 'success'
    default:
      return 'info'
  }
}

export function statusColor(s: ProblemStatus): string {
  switch (statusTag(s)) {
    case 'primary':
      return '#409eff'
    case 'warning':
      return '#e6a23c'
    case 'danger':
      return '#f56c6c'
    case 'success':
      return '#67c23a'
    default:
      return '#909399'
  }
}

export const OVERDUE_COLOR = '#c8161d'
