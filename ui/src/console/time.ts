// Times as the city reads them: in the work calendar's zone (the reference's
// `calendar.utc_offset_minutes`), whatever zone the desk's computer is set to, so a deadline
// reads the same in the console, on the phones and on paper.
import { ref } from 'vue'

/** The city's UTC offset; Beijing time until the reference data says otherwise. */
export const cityOffsetMinutes = ref(480)

function pad(n: number): string {
  return String(n).padStart(2, '0')
}

/** The city's wall clock at an instant, as its UTC fields. */
function cityWall(ms: number, offset = cityOffsetMinutes.value): Date {
  return new Date(ms + offset * 60_000)
}

/** `YYYY-MM-DD HH:mm` in the city's zone. */
export function formatTime(iso: string | number | null | undefined, offset = cityOffsetMinutes.value): string {
  if (iso === null || iso === undefined || iso === '') return ''
  const ms = typeof iso === 'number' ? iso : Date.parse(iso)
  if (!Number.isFinite(ms)) return ''
  const d = cityWall(ms, offset)
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`
}

/** The city's calendar day at an instant. */
export function cityDay(ms: number = Date.now(), offset = cityOffsetMinutes.value): string {
  const d = cityWall(ms, offset)
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
}

/** A city wall time `YYYY-MM-DDTHH:mm[:ss]` (what the date-time picker gives) -> an RFC 3339
 * UTC instant. */
export function cityWallToIso(wall: string, offset = cityOffsetMinutes.value): string {
  const withSecs = wall.length === 16 ? `${wall}:00` : wall
  const ms = Date.parse(`${withSecs}Z`)
  if (!Number.isFinite(ms)) throw new Error(`not a time: ${wall}`)
  return new Date(ms - offset * 60_000).toISOString().replace('.000Z', 'Z')
}

/** An instant -> the city wall time `YYYY-MM-DDTHH:mm:ss` (to preset the picker). */
export function isoToCityWall(iso: string, offset = cityOffsetMinutes.value): string {
  const d = cityWall(Date.parse(iso), offset)
  return `${cityDay(Date.parse(iso), offset)}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
}

/** `MM-DD HH:mm` in the city's zone, for table cells (the full time is the cell's title). */
export function formatShort(iso: string | number | null | undefined, offset = cityOffsetMinutes.value): string {
  return formatTime(iso, offset).slice(5)
}
