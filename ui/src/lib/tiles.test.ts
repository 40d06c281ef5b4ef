import { describe, expect, it } from 'vitest'
import type * as Leaflet from 'leaflet'
import { chooseSource, packageSource, resolveSource, tileUrls, toDisplay, type MapPackage } from './tiles'

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

const pkg: MapPackage = { name: '福州鼓楼', format: 'png', minzoom: 12, maxzoom: 16, bounds: [119.28, 26.06, 119.32, 26.1], attribution: null, bytes: 1 }
const offline = packageSource('tiles://localhost/{z}/{x}/{y}', pkg)

describe('offline package fallback', () => {
  it('tries the online tile first and the package second when both are WGS-84', () => {
    const osm = resolveSource({ id: 'osm' })
    const { source, fallback } = chooseSource(osm, offline, true)
    expect(source.id).toBe('osm')
    expect(fallback?.id).toBe('package')
    const urls = tileUrls({ x: 3405, y: 1714, z: 12 }, [source, fallback!])
    expect(urls).toHaveLength(2)
    expect(urls[0]).toBe('https://tile.openstreetmap.org/12/3405/1714.png')
    expect(urls[1]).toBe('tiles://localhost/12/3405/1714')
  })

  it('Tianditu keeps its key and subdomain in the first URL, the package second', () => {
    const tdt = resolveSource({ id: 'tianditu', key: 'k' })
    const { fallback } = chooseSource(tdt, offline, false)
    const [first, second] = tileUrls({ x: 1, y: 2, z: 3 }, [tdt, fallback!])
    expect(first).toMatch(/^https:\/\/t[0-7]\.tianditu\.gov\.cn\/vec_w\/wmts\?.*TILEMATRIX=3&TILEROW=2&TILECOL=1&tk=k$/)
    expect(second).toBe('tiles://localhost/3/1/2')
  })

  it('AMap (GCJ-02) and a WGS-84 package are not mixed: online with a connection, else the package', () => {
    const amap = resolveSource({ id: 'amap' })
    expect(chooseSource(amap, offline, true)).toEqual({ source: amap, fallback: null })
    expect(chooseSource(amap, offline, false)).toEqual({ source: offline, fallback: null })
  })

  it('no online source: the package; no package: the online source or the grid', () => {
    const none = resolveSource({ id: 'none' })
    expect(chooseSource(none, offline, true).source.id).toBe('package')
    expect(chooseSource(none, null, true).source.id).toBe('none')
    expect(tileUrls({ x: 0, y: 0, z: 0 }, [none])).toEqual([])
  })
})
