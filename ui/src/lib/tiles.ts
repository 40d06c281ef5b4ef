// Map tile sources behind one interface. A source says which datum its tiles are drawn in;
// the map converts stored WGS-84 coordinates for display and converts pins back. The offline
// MBTiles package on the device is one more source (its tiles come from the core: the bridge's
// /bridge/tiles/{z}/{x}/{y} or the app's tiles:// scheme), and `mapLayers` falls back from the
// online source to the package, tile by tile, then to the grid drawn under every map.
import type * as Leaflet from 'leaflet'
import { gcj02ToWgs84, wgs84ToGcj02, type LonLat } from './coords'
import type { MapPackage, OnlineMap } from '../wire/fieldcheck'

export type Datum = 'wgs84' | 'gcj02'

export interface TileSource {
  id: string
  datum: Datum
  /** The base tiles' URL template ({z} {x} {y}, optional {s}); none for the grid. */
  url?: string
  subdomains?: string
  attribution?: string
  maxZoom?: number
  /** Labels drawn over the base tiles (Tianditu's cva layer), online only. */
  overlayUrl?: string
  /** null: no tiles at all (points on a plain grid with a scale bar). */
  layer(L: typeof Leaflet): Leaflet.Layer | null
}

export function urlTileSource(id: string, url: string, datum: Datum, attribution = '', subdomains = 'abc'): TileSource {
  return {
    id,
    datum,
    url,
    subdomains,
    attribution,
    maxZoom: 19,
    layer: (L) => L.tileLayer(url, { maxZoom: 19, attribution, subdomains }),
  }
}

export type { MapPackage }

/**
 * The package as a source. Its tiles are Web Mercator in WGS-84 (the server's builder fetches
 * them from Tianditu or OSM); beyond its zooms the core answers 404 and the grid shows.
 */
export function packageSource(url: string, pkg: MapPackage): TileSource {
  const attribution = pkg.attribution ?? ''
  return {
    id: 'package',
    datum: 'wgs84',
    url,
    attribution,
    maxZoom: 19,
    layer: (L) => L.tileLayer(url, { maxZoom: 19, maxNativeZoom: pkg.maxzoom, attribution }),
  }
}

/**
 * What the map draws. Online and package in the same datum: one layer trying the online tile
 * first and the package's when it fails (no signal, a slow service), so a map works the same
 * on and off line. Different datums (AMap's GCJ-02 over a WGS-84 package) cannot be mixed tile
 * by tile: the online source when the phone has a connection, else the package. Neither: the
 * grid (the map's own background).
 */
export function chooseSource(online: TileSource, offline: TileSource | null, connected: boolean): {
  source: TileSource
  fallback: TileSource | null
} {
  if (!offline) return { source: online, fallback: null }
  if (online.id === 'none') return { source: offline, fallback: null }
  if (online.datum === offline.datum) return { source: online, fallback: offline }
  return { source: connected ? online : offline, fallback: null }
}

/** The URLs one tile is tried from, in order. */
export function tileUrls(coords: { x: number; y: number; z: number }, sources: TileSource[]): string[] {
  return sources.flatMap((src) => {
    if (!src.url) return []
    const subs = src.subdomains ?? ''
    const s = subs ? subs[Math.abs(coords.x + coords.y) % subs.length] : ''
    return [src.url.replace('{s}', s).replace('{z}', String(coords.z)).replace('{x}', String(coords.x)).replace('{y}', String(coords.y))]
  })
}

/** The base layer of `source`, falling back tile by tile to `fallback` (see `chooseSource`). */
export function fallbackLayer(L: typeof Leaflet, source: TileSource, fallback: TileSource): Leaflet.Layer {
  const Layer = L.GridLayer.extend({
    createTile(coords: Leaflet.Coords, done: (e: Error | undefined, tile: HTMLElement) => void) {
      const img = document.createElement('img')
      img.alt = ''
      img.setAttribute('role', 'presentation')
      const urls = tileUrls(coords, [source, fallback])
      let i = 0
      img.onload = () => done(undefined, img)
      img.onerror = () => {
        i += 1
        if (i < urls.length) {
          img.dataset.fallback = 'package'
          img.src = urls[i]
        } else {
          // Neither has it: a transparent tile over the grid.
          img.style.visibility = 'hidden'
          done(undefined, img)
        }
      }
      img.src = urls[0]
      return img
    },
  })
  const attribution = [source.attribution, fallback.attribution].filter(Boolean).join(' · ')
  const base = new (Layer as unknown as new (o: Leaflet.GridLayerOptions) => Leaflet.GridLayer)({ maxZoom: 19, attribution })
  if (!source.overlayUrl) return base
  const labels = L.tileLayer(source.overlayUrl, { maxZoom: source.maxZoom ?? 19, subdomains: source.subdomains ?? 'abc' })
  return L.layerGroup([base, labels])
}

export const builtinSources: Record<string, TileSource> = {
  none: { id: 'none', datum: 'wgs84', layer: () => null },
  osm: urlTileSource('osm', 'https://tile.openstreetmap.org/{z}/{x}/{y}.png', 'wgs84', '© OpenStreetMap'),
  amap: urlTileSource(
    'amap',
    'https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}',
    'gcj02',
    '© 高德地图',
    '1234',
  ),
}

export interface TileSetting {
  id: string
  /** For id 'custom'. */
  url?: string
  datum?: Datum
  /** For id 'tianditu': the city's browser key. */
  key?: string
}

/**
 * Tianditu (天地图), the national basemap: vector tiles with their Chinese labels, Web Mercator,
 * in CGCS2000, which is WGS-84 to within centimetres (no conversion). Needs the city's key.
 */
export function tiandituSource(key: string): TileSource {
  const wmts = (layer: string) =>
    `https://t{s}.tianditu.gov.cn/${layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=${layer}` +
    `&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=${encodeURIComponent(key)}`
  const opts = { maxZoom: 18, subdomains: '01234567', attribution: '© 天地图' }
  return {
    id: 'tianditu',
    datum: 'wgs84',
    url: wmts('vec'),
    overlayUrl: wmts('cva'),
    subdomains: opts.subdomains,
    attribution: opts.attribution,
    maxZoom: 18,
    layer: (L) => L.layerGroup([L.tileLayer(wmts('vec'), opts), L.tileLayer(wmts('cva'), opts)]),
  }
}

const KEY = 'fieldcheck.tiles'

/**
 * The person's own choice on this device, else the office's for the city (`GET /api/v1/map`,
 * kept by the last sync), else no tiles: works offline and without any map service.
 */
export function loadTileSetting(office?: OnlineMap | null): TileSetting {
  try {
    const s = globalThis.localStorage?.getItem(KEY)
    if (s) return JSON.parse(s) as TileSetting
  } catch {
    /* default */
  }
  if (office) return { id: office.source, ...(office.key ? { key: office.key } : {}) }
  return { id: (import.meta.env?.VITE_TILES as string | undefined) ?? 'none' }
}

export function saveTileSetting(s: TileSetting): void {
  globalThis.localStorage?.setItem(KEY, JSON.stringify(s))
}

export function resolveSource(s: TileSetting): TileSource {
  if (s.id === 'custom' && s.url) return urlTileSource('custom', s.url, s.datum ?? 'wgs84')
  if (s.id === 'tianditu' && s.key) return tiandituSource(s.key)
  return builtinSources[s.id] ?? builtinSources.none
}

/** Stored (WGS-84) -> what the tiles are drawn in. */
export function toDisplay(src: TileSource, p: LonLat): LonLat {
  return src.datum === 'gcj02' ? wgs84ToGcj02(p.lon, p.lat) : p
}

/** A point on the tiles -> WGS-84 for storage. */
export function fromDisplay(src: TileSource, p: LonLat): LonLat {
  return src.datum === 'gcj02' ? gcj02ToWgs84(p.lon, p.lat) : p
}
