// An offline map package for the e2e tests, made the way a city makes one: a local tile server
// (PNG tiles drawn here, each tinted by its x/y and labelled by a darker border) and
// `fieldcheck-server map-package` fetching the area around the demo city's points into an
// MBTiles file. The tile server is stopped before the app or the browser shows the map, so
// every tile they draw comes from the package.
import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { deflateSync } from 'node:zlib'
import { serverBin } from './procs.mjs'

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})
function crc32(buf) {
  let c = 0xffffffff
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}
function chunk(type, data) {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(td))
  return Buffer.concat([len, td, crc])
}

/** A 256×256 RGB PNG: a pale fill tinted by x/y, a grid of streets, a darker border. */
export function tilePng(x, y) {
  const size = 256
  const fill = [200 + ((x * 37) % 40), 225 + ((y * 53) % 25), 190 + (((x + y) * 17) % 40)]
  const raw = Buffer.alloc((size * 3 + 1) * size)
  for (let r = 0; r < size; r++) {
    raw[r * (size * 3 + 1)] = 0 // filter: none
    for (let c = 0; c < size; c++) {
      const border = r < 3 || c < 3
      const street = r % 64 === 32 || c % 64 === 32
      const px = border ? [120, 140, 120] : street ? [255, 255, 255] : fill
      raw.set(px, r * (size * 3 + 1) + 1 + c * 3)
    }
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(size, 0)
  ihdr.writeUInt32BE(size, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

/** Serves `/{z}/{x}/{y}.png`; resolves to { url, hits, close }. */
export function startTileServer() {
  const state = { hits: 0 }
  const server = createServer((req, res) => {
    const m = req.url.match(/^\/(\d+)\/(\d+)\/(\d+)\.png$/)
    if (!m) {
      res.writeHead(404).end()
      return
    }
    state.hits++
    res.writeHead(200, { 'content-type': 'image/png' }).end(tilePng(Number(m[2]), Number(m[3])))
  })
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () =>
      ok({
        url: `http://127.0.0.1:${server.address().port}`,
        get hits() {
          return state.hits
        },
        close: () => new Promise((done) => server.close(done)),
      }),
    ),
  )
}

/** The demo city's area (Gulou, Fuzhou) at zoom 13–16 as an MBTiles file in `dir`; its path. */
export async function buildMapPackage(dir) {
  const tiles = await startTileServer()
  const out = join(dir, 'gulou.mbtiles')
  try {
    // Asynchronously: the tile server answers on this process's event loop meanwhile.
    const log = await new Promise((ok, fail) =>
      execFile(
        serverBin,
        ['map-package', '--bbox', '119.27,26.06,119.33,26.10', '--zoom', '13-16', '--url', `${tiles.url}/{z}/{x}/{y}.png`, '--name', '鼓楼区离线地图', '--attribution', 'e2e tiles', '--out', out],
        (err, stdout, stderr) => (err ? fail(new Error(`map-package: ${err.message}\n${stdout}\n${stderr}`)) : ok(stdout)),
      ),
    )
    if (!/wrote .* tiles/.test(log) || tiles.hits === 0) throw new Error(`map-package: ${log}`)
  } finally {
    await tiles.close()
  }
  return out
}
