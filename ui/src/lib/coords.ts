// WGS-84 <-> GCJ-02 (the offset datum of AMap/Tencent tiles). Coordinates are stored WGS-84
// always; GCJ-02 is only for display on such tiles, and pins dropped there are converted back.
// Same published algorithm as the `coordtransform` package (Krasovsky 1940 ellipsoid).

const PI = Math.PI
const A = 6378245.0
const EE = 0.00669342162296594323

export interface LonLat {
  lon: number
  lat: number
}

export function outOfChina(lon: number, lat: number): boolean {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271
}

function transformLat(x: number, y: number): number {
  let r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x))
  r += ((20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0) / 3.0
  r += ((20.0 * Math.sin(y * PI) + 40.0 * Math.sin((y / 3.0) * PI)) * 2.0) / 3.0
  r += ((160.0 * Math.sin((y / 12.0) * PI) + 320 * Math.sin((y * PI) / 30.0)) * 2.0) / 3.0
  return r
}

function transformLon(x: number, y: number): number {
  let r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x))
  r += ((20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0) / 3.0
  r += ((20.0 * Math.sin(x * PI) + 40.0 * Math.sin((x / 3.0) * PI)) * 2.0) / 3.0
  r += ((150.0 * Math.sin((x / 12.0) * PI) + 300.0 * Math.sin((x / 30.0) * PI)) * 2.0) / 3.0
  return r
}

function offset(lon: number, lat: number): LonLat {
  let dLat = transformLat(lon - 105.0, lat - 35.0)
  let dLon = transformLon(lon - 105.0, lat - 35.0)
  const radLat = (lat / 180.0) * PI
  let magic = Math.sin(radLat)
  magic = 1 - EE * magic * magic
  const sqrtMagic = Math.sqrt(magic)
  dLat = (dLat * 180.0) / (((A * (1 - EE)) / (magic * sqrtMagic)) * PI)
  dLon = (dLon * 180.0) / ((A / sqrtMagic) * Math.cos(radLat) * PI)
  return { lon: dLon, lat: dLat }
}

/** WGS-84 -> GCJ-02 (unchanged outside China). */
export function wgs84ToGcj02(lon: number, lat: number): LonLat {
  if (outOfChina(lon, lat)) return { lon, lat }
  const d = offset(lon, lat)
  return { lon: lon + d.lon, lat: lat + d.lat }
}

/** GCJ-02 -> WGS-84, refined by iteration to well under a centimetre (the one-step inverse of
 * `coordtransform` is off by up to a metre or two). */
export function gcj02ToWgs84(lon: number, lat: number): LonLat {
  if (outOfChina(lon, lat)) return { lon, lat }
  let w = { lon, lat }
  for (let i = 0; i < 10; i++) {
    const g = wgs84ToGcj02(w.lon, w.lat)
    const dLon = lon - g.lon
    const dLat = lat - g.lat
    w = { lon: w.lon + dLon, lat: w.lat + dLat }
    if (Math.abs(dLon) < 1e-10 && Math.abs(dLat) < 1e-10) break
  }
  return w
}

/** The one-step inverse exactly as `coordtransform.gcj02towgs84` computes it. */
export function gcj02ToWgs84Fast(lon: number, lat: number): LonLat {
  if (outOfChina(lon, lat)) return { lon, lat }
  const d = offset(lon, lat)
  return { lon: lon * 2 - (lon + d.lon), lat: lat * 2 - (lat + d.lat) }
}

/** Great-circle distance in metres (haversine, mean Earth radius) between WGS-84 points. */
export function distanceM(a: LonLat, b: LonLat): number {
  const R = 6371008.8
  const rad = (d: number) => (d * PI) / 180
  const dLat = rad(b.lat - a.lat)
  const dLon = rad(b.lon - a.lon)
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLon / 2) ** 2
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)))
}
