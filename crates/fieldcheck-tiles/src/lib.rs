//! Offline map packages for FieldCheck, in the MBTiles 1.3 format (one SQLite file of tiles).
//!
//! Inspectors work where the network is poor, so the field app shows its base map from a
//! package on the device: [`MbTiles`] opens one read-only and answers the map's XYZ tile
//! requests, and [`import`] installs a new package without ever breaking the one in use.
//! The server makes a city's package: [`build`] downloads the tiles covering an area from a
//! tile server into a new package.
//!
//! <https://github.com/mapbox/mbtiles-spec/blob/master/1.3/spec.md>

mod builder;
mod error;
mod format;
pub mod grid;
mod package;

pub use builder::{BuildOptions, BuildReport, Progress, build};
pub use error::TilesError;
pub use format::TileFormat;
pub use package::{MbTiles, Metadata, import};
