// Map tile sources behind one interface. A source says which datum its tiles are drawn in;
// the map converts stored WGS-84 coordinates for display and converts pins back. An offline
// MBTiles package can plug in later as another TileSource whose layer reads tiles from the
// device (e.g. a bridge/Tauri route serving z/x/y from the .mbtiles file).
import type * as Leaflet from 'leaflet'
import { gcj02ToWgs84, wgs84ToGcj02, type LonLat } from './coords'

export type Datum = 'wgs84' | 'gcj02'

export interface TileSource {
  id: string
  datum: Datum
  /** null: no tiles at all (points on a plain grid with a scale bar). */
  layer(L: typeof Leaflet): Leaflet.Layer | null
}

export function urlTileSource(id: string, url: string, datum: Datum, attribution = '', subdomains = 'abc'): TileSource {
  return {
    id,
    datum,
    layer: (L) => L.tileLayer(url, { maxZoom: 19, attribution, subdomains }),
  }
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
    layer: (L) => L.layerGroup([L.tileLayer(wmts('vec'), opts), L.tileLayer(wmts('cva'), opts)]),
  }
}

const KEY = 'fieldcheck.tiles'

/** No tiles by default: works offline and without any map service. */
export function loadTileSetting(): TileSetting {
  try {
    const s = globalThis.localStorage?.getItem(KEY)
    if (s) return JSON.parse(s) as TileSetting
  } catch {
    /* default */
  }
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
