// The photo as it goes into the outbox: downscaled on the phone to at most 2048 px on the long
// side and re-encoded as JPEG, so a 4G upload and the IndexedDB copy stay a few hundred KB
// instead of a camera's 5–10 MB. Where the browser cannot decode it (HEIC on some Androids) or
// has no canvas encoder, the original file goes as it is: the server takes HEIC too.
import type { QueuedPhoto } from './queue'

export const MAX_SIDE = 2048
export const QUALITY = 0.85

/** The size to draw at: the long side at most `max`, never enlarged. */
export function fitWithin(w: number, h: number, max = MAX_SIDE): { w: number; h: number } {
  const long = Math.max(w, h)
  if (long <= max || long === 0) return { w, h }
  const k = max / long
  return { w: Math.max(1, Math.round(w * k)), h: Math.max(1, Math.round(h * k)) }
}

function loadImage(url: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image()
    img.onload = () => resolve(img)
    img.onerror = () => reject(new Error('decode'))
    img.src = url
  })
}

function toBlob(canvas: HTMLCanvasElement): Promise<Blob | null> {
  return new Promise((resolve) => {
    if (typeof canvas.toBlob !== 'function') return resolve(null)
    canvas.toBlob((b) => resolve(b), 'image/jpeg', QUALITY)
  })
}

async function downscale(file: Blob): Promise<Blob | null> {
  const url = URL.createObjectURL(file)
  try {
    // An <img> applies the EXIF orientation when drawn (every engine since 2020), so the
    // re-encoded copy stands the right way up without reading EXIF here.
    const img = await loadImage(url)
    const { w, h } = fitWithin(img.naturalWidth, img.naturalHeight)
    if (!w || !h) return null
    const canvas = document.createElement('canvas')
    canvas.width = w
    canvas.height = h
    const ctx = canvas.getContext('2d')
    if (!ctx) return null
    ctx.drawImage(img, 0, 0, w, h)
    return await toBlob(canvas)
  } catch {
    return null
  } finally {
    URL.revokeObjectURL(url)
  }
}

/** The photo to store and send. */
export async function preparePhoto(file: File): Promise<QueuedPhoto> {
  const small = await downscale(file)
  // A small JPEG re-encoded can come out larger: then the original is the better copy.
  const useOriginal = !small || (small.size >= file.size && file.type === 'image/jpeg')
  const blob = useOriginal ? file : small
  const type = useOriginal ? file.type || 'application/octet-stream' : 'image/jpeg'
  const name = useOriginal ? file.name || 'photo' : 'photo.jpg'
  return { bytes: await readBytes(blob), type, name }
}

/** `Blob.arrayBuffer` is missing before iOS 14. */
function readBytes(b: Blob): Promise<ArrayBuffer> {
  if (typeof b.arrayBuffer === 'function') return b.arrayBuffer()
  return new Promise((resolve, reject) => {
    const r = new FileReader()
    r.onload = () => resolve(r.result as ArrayBuffer)
    r.onerror = () => reject(r.error)
    r.readAsArrayBuffer(b)
  })
}

export function photoBlob(p: QueuedPhoto): Blob {
  return new Blob([p.bytes], { type: p.type })
}
