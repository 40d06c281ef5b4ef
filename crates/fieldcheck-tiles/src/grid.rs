//! Web Mercator tile arithmetic (the XYZ scheme of Leaflet and OpenStreetMap).

/// Web Mercator is undefined at the poles; tile servers cover ±85.0511° (a square world).
pub const MAX_LATITUDE: f64 = 85.051_128_779_806_59;

/// The deepest zoom a package may be built at: beyond it a city's area is billions of tiles.
pub const MAX_BUILD_ZOOM: u8 = 22;

/// The column of the tile holding `lon` at zoom `z`.
pub fn lon_to_x(lon: f64, z: u8) -> u32 {
    let n = tiles_per_side(z);
    let x = ((lon + 180.0) / 360.0 * n as f64).floor();
    clamp_index(x, n)
}

/// The row (XYZ, counted from the north) of the tile holding `lat` at zoom `z`.
pub fn lat_to_y(lat: f64, z: u8) -> u32 {
    let n = tiles_per_side(z);
    let lat = lat.clamp(-MAX_LATITUDE, MAX_LATITUDE).to_radians();
    let y = ((1.0 - lat.tan().asinh() / std::f64::consts::PI) / 2.0 * n as f64).floor();
    clamp_index(y, n)
}

fn tiles_per_side(z: u8) -> u64 {
    1u64 << z
}

fn clamp_index(v: f64, n: u64) -> u32 {
    // The east edge (180°) and the clamped south edge land exactly on `n`.
    v.clamp(0.0, (n - 1) as f64) as u32
}

/// The tiles covering a bounding box at one zoom, inclusive on both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileRange {
    pub z: u8,
    pub min_x: u32,
    pub max_x: u32,
    pub min_y: u32,
    pub max_y: u32,
}

impl TileRange {
    /// The tiles covering `bbox` (`[min_lon, min_lat, max_lon, max_lat]`, WGS-84) at zoom `z`.
    pub fn for_bbox(bbox: [f64; 4], z: u8) -> TileRange {
        let [min_lon, min_lat, max_lon, max_lat] = bbox;
        TileRange {
            z,
            min_x: lon_to_x(min_lon, z),
            max_x: lon_to_x(max_lon, z),
            // North has the smaller row.
            min_y: lat_to_y(max_lat, z),
            max_y: lat_to_y(min_lat, z),
        }
    }

    pub fn count(&self) -> u64 {
        u64::from(self.max_x - self.min_x + 1) * u64::from(self.max_y - self.min_y + 1)
    }

    pub fn tiles(self) -> impl Iterator<Item = (u8, u32, u32)> {
        (self.min_x..=self.max_x)
            .flat_map(move |x| (self.min_y..=self.max_y).map(move |y| (self.z, x, y)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_world_at_zoom_zero_is_one_tile() {
        let r = TileRange::for_bbox([-180.0, -90.0, 180.0, 90.0], 0);
        assert_eq!(r.count(), 1);
        let r = TileRange::for_bbox([-180.0, -90.0, 180.0, 90.0], 3);
        assert_eq!((r.min_x, r.max_x, r.min_y, r.max_y), (0, 7, 0, 7));
    }

    #[test]
    fn quadrants_at_zoom_one() {
        // North-west is row 0 in XYZ.
        assert_eq!((lon_to_x(-10.0, 1), lat_to_y(10.0, 1)), (0, 0));
        assert_eq!((lon_to_x(10.0, 1), lat_to_y(-10.0, 1)), (1, 1));
    }

    #[test]
    fn range_enumerates_every_tile_once() {
        let r = TileRange::for_bbox([119.28, 26.06, 119.32, 26.10], 15);
        let tiles: Vec<_> = r.tiles().collect();
        assert_eq!(tiles.len() as u64, r.count());
        let unique: std::collections::HashSet<_> = tiles.iter().collect();
        assert_eq!(unique.len(), tiles.len());
    }
}
