import { describe, expect, it } from 'vitest'
import type * as Leaflet from 'leaflet'
import { resolveSource, toDisplay } from './tiles'

/** Records what a source asks Leaflet for (Leaflet itself needs a DOM). */
function urlsOf(id: string, key?: string): string[] {
  const urls: string[] = []
  const L = {
    tileLayer: (url: string) => (urls.push(url), {}),
    layerGroup: (layers: unknown[]) => ({ layers }),
  } as unknown as typeof Leaflet
  resolveSource({ id, key }).layer(L)
  return urls
}

describe('Tianditu', () => {
  it('draws labelled vector tiles with the city key, without converting coordinates', () => {
    const src = resolveSource({ id: 'tianditu', key: 'k&1' })
    expect(src.id).toBe('tianditu')
    expect(src.datum).toBe('wgs84')
    const urls = urlsOf('tianditu', 'k&1')
    expect(urls).toHaveLength(2)
    expect(urls[0]).toContain('tianditu.gov.cn/vec_w/wmts')
    expect(urls[1]).toContain('tianditu.gov.cn/cva_w/wmts')
    for (const u of urls) expect(u).toContain('tk=k%261')
    const p = { lon: 119.2965, lat: 26.0745 }
    expect(toDisplay(src, p)).toEqual(p)
  })

  it('without a key there is no Tianditu: the offline grid', () => {
    expect(resolveSource({ id: 'tianditu' }).id).toBe('none')
  })

  it('AMap tiles are GCJ-02: stored WGS-84 is shifted for display', () => {
    const src = resolveSource({ id: 'amap' })
    const shown = toDisplay(src, { lon: 119.2965, lat: 26.0745 })
    expect(shown.lon).not.toBeCloseTo(119.2965, 4)
  })
})
