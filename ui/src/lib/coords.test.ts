import { describe, expect, it } from 'vitest'
import { distanceM, gcj02ToWgs84, gcj02ToWgs84Fast, outOfChina, wgs84ToGcj02 } from './coords'
import { builtinSources, fromDisplay, toDisplay } from './tiles'

// Reference values published with the `coordtransform` package (test/app.js).
describe('coordinate conversion', () => {
  it('WGS-84 -> GCJ-02 matches the published values', () => {
    const g = wgs84ToGcj02(116.404, 39.915)
    expect(g.lon).toBeCloseTo(116.41024449916938, 10)
    expect(g.lat).toBeCloseTo(39.91640428150164, 10)
  })

  it('the one-step inverse matches the published values', () => {
    const w = gcj02ToWgs84Fast(116.404, 39.915)
    expect(w.lon).toBeCloseTo(116.39775550083061, 10)
    expect(w.lat).toBeCloseTo(39.91359571849836, 10)
  })

  it('the iterative inverse round-trips to well under a centimetre', () => {
    for (const [lon, lat] of [
      [119.2915, 26.0836],
      [116.404, 39.915],
      [121.4737, 31.2304],
      [113.2644, 23.1291],
    ]) {
      const g = wgs84ToGcj02(lon, lat)
      const back = gcj02ToWgs84(g.lon, g.lat)
      expect(distanceM({ lon, lat }, back)).toBeLessThan(0.01)
      // and the offset itself is real: hundreds of metres
      expect(distanceM({ lon, lat }, g)).toBeGreaterThan(100)
    }
  })

  it('leaves coordinates outside China alone', () => {
    expect(outOfChina(2.35, 48.85)).toBe(true)
    expect(wgs84ToGcj02(2.35, 48.85)).toEqual({ lon: 2.35, lat: 48.85 })
    expect(gcj02ToWgs84(2.35, 48.85)).toEqual({ lon: 2.35, lat: 48.85 })
  })

  it('measures distance', () => {
    // One degree of latitude is about 111.2 km.
    expect(distanceM({ lon: 119, lat: 26 }, { lon: 119, lat: 27 })).toBeCloseTo(111195, -2)
  })

  it('tile sources convert only for GCJ-02 tiles', () => {
    const p = { lon: 119.2915, lat: 26.0836 }
    expect(toDisplay(builtinSources.osm, p)).toEqual(p)
    expect(toDisplay(builtinSources.none, p)).toEqual(p)
    const shown = toDisplay(builtinSources.amap, p)
    expect(shown).toEqual(wgs84ToGcj02(p.lon, p.lat))
    const stored = fromDisplay(builtinSources.amap, shown)
    expect(distanceM(p, stored)).toBeLessThan(0.01)
  })
})
