//! Tolerant EXIF reading: whatever a phone (or a broken editor) wrote, we either get a sane
//! value or `None` — never an error, because missing metadata must not block evidence upload.

use exif::{Exif, Field, In, Tag, Value};
use serde::Serialize;

/// A GPS fix from EXIF, WGS-84 decimal degrees (north and east positive).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GpsFix {
    pub lat: f64,
    pub lon: f64,
    /// Metres above sea level (negative below).
    pub altitude_m: Option<f64>,
}

/// Metadata read from the photo before it is stripped from the stored copies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExifInfo {
    pub gps: Option<GpsFix>,
    /// Capture time as ISO 8601: `2024-05-01T09:30:15+08:00` when the camera recorded its UTC
    /// offset (RFC 3339), else the naive local time `2024-05-01T09:30:15`. Sub-seconds are kept
    /// when present.
    pub taken_at: Option<String>,
    /// EXIF orientation 1–8 as found (1 when absent or invalid). Already applied to the output
    /// pixels; kept for audit.
    pub orientation: u16,
}

impl Default for ExifInfo {
    fn default() -> Self {
        ExifInfo {
            gps: None,
            taken_at: None,
            orientation: 1,
        }
    }
}

/// Reads orientation, GPS and capture time from a JPEG, PNG (eXIf), WebP or HEIF container.
/// Never fails: unreadable or absent fields come back as `None` / orientation 1.
pub fn read_exif(bytes: &[u8]) -> ExifInfo {
    let mut reader = exif::Reader::new();
    // A single bad entry (common with maker notes and hand-edited files) must not hide the
    // fields that did parse.
    reader.continue_on_error(true);
    let parsed = reader
        .read_from_container(&mut std::io::Cursor::new(bytes))
        .or_else(|e| e.distill_partial_result(|_| {}));
    match parsed {
        Ok(exif) => info_from(&exif),
        Err(_) => ExifInfo::default(),
    }
}

fn info_from(exif: &Exif) -> ExifInfo {
    ExifInfo {
        gps: gps(exif),
        taken_at: taken_at(exif),
        orientation: orientation(exif),
    }
}

fn orientation(exif: &Exif) -> u16 {
    exif.get_field(Tag::Orientation, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .filter(|o| (1..=8).contains(o))
        .map_or(1, |o| o as u16)
}

fn field(exif: &Exif, tag: Tag) -> Option<&Field> {
    exif.get_field(tag, In::PRIMARY)
}

fn ascii(exif: &Exif, tag: Tag) -> Option<&[u8]> {
    match &field(exif, tag)?.value {
        Value::Ascii(v) => v.first().map(Vec::as_slice),
        _ => None,
    }
}

/// Element `i` of a numeric field as f64; a zero denominator or non-finite value is `None`
/// rather than infinity/NaN leaking into coordinates.
fn number(value: &Value, i: usize) -> Option<f64> {
    let n = match value {
        Value::Rational(v) => {
            let r = v.get(i)?;
            (r.denom != 0).then(|| r.to_f64())?
        }
        Value::SRational(v) => {
            let r = v.get(i)?;
            (r.denom != 0).then(|| r.to_f64())?
        }
        Value::Float(v) => f64::from(*v.get(i)?),
        Value::Double(v) => *v.get(i)?,
        other => f64::from(other.get_uint(i)?),
    };
    n.is_finite().then_some(n)
}

/// Degrees[, minutes[, seconds]] → decimal degrees. Some devices write only one or two
/// components, which is still unambiguous.
fn dms(exif: &Exif, tag: Tag) -> Option<f64> {
    let value = &field(exif, tag)?.value;
    let deg = number(value, 0)?;
    let min = number(value, 1).unwrap_or(0.0);
    let sec = number(value, 2).unwrap_or(0.0);
    // 60 is accepted: writers that round 59.9996″ to three decimals produce it.
    if deg < 0.0 || !(0.0..=60.0).contains(&min) || !(0.0..=60.0).contains(&sec) {
        return None;
    }
    Some(deg + min / 60.0 + sec / 3600.0)
}

fn hemisphere(exif: &Exif, tag: Tag, positive: u8, negative: u8) -> Option<f64> {
    // A fix without its reference letter is refused: guessing the hemisphere would put a
    // Shanghai photo in the South Atlantic.
    let r = ascii(exif, tag)?.first()?.to_ascii_uppercase();
    if r == positive {
        Some(1.0)
    } else if r == negative {
        Some(-1.0)
    } else {
        None
    }
}

fn gps(exif: &Exif) -> Option<GpsFix> {
    let lat = dms(exif, Tag::GPSLatitude)? * hemisphere(exif, Tag::GPSLatitudeRef, b'N', b'S')?;
    let lon = dms(exif, Tag::GPSLongitude)? * hemisphere(exif, Tag::GPSLongitudeRef, b'E', b'W')?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return None;
    }
    // Phones without a fix sometimes write 0/0; nothing we inspect is at Null Island.
    if lat == 0.0 && lon == 0.0 {
        return None;
    }
    let altitude_m = field(exif, Tag::GPSAltitude)
        .and_then(|f| number(&f.value, 0))
        .map(|alt| {
            let below =
                field(exif, Tag::GPSAltitudeRef).and_then(|f| f.value.get_uint(0)) == Some(1);
            if below { -alt } else { alt }
        })
        // Beyond Everest or the Mariana Trench is a broken value, not a location.
        .filter(|alt| (-11_000.0..=9_000.0).contains(alt));
    Some(GpsFix {
        lat,
        lon,
        altitude_m,
    })
}

fn taken_at(exif: &Exif) -> Option<String> {
    // DateTimeOriginal is the shutter time; DateTimeDigitized is the same on cameras and the
    // closest substitute. DateTime (0x0132) is deliberately not used: editors rewrite it.
    [
        (
            Tag::DateTimeOriginal,
            Tag::OffsetTimeOriginal,
            Tag::SubSecTimeOriginal,
        ),
        (
            Tag::DateTimeDigitized,
            Tag::OffsetTimeDigitized,
            Tag::SubSecTimeDigitized,
        ),
    ]
    .into_iter()
    .find_map(|(dt, offset, subsec)| format_time(exif, dt, offset, subsec))
}

fn format_time(exif: &Exif, dt: Tag, offset: Tag, subsec: Tag) -> Option<String> {
    let mut t = exif::DateTime::from_ascii(ascii(exif, dt)?).ok()?;
    let valid = (1..=9999).contains(&t.year)
        && (1..=12).contains(&t.month)
        && (1..=31).contains(&t.day)
        && t.hour < 24
        && t.minute < 60
        && t.second <= 60;
    if !valid {
        return None;
    }
    if let Some(s) = ascii(exif, subsec) {
        // A malformed sub-second field just drops the fraction.
        if t.parse_subsec(s).is_err() {
            t.nanosecond = None;
        }
    }
    if let Some(o) = ascii(exif, offset)
        && t.parse_offset(o).is_err()
    {
        t.offset = None;
    }
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    );
    if let Some(ns) = t.nanosecond.filter(|&ns| ns > 0) {
        let frac = format!("{ns:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    if let Some(off) = t.offset.filter(|o| o.unsigned_abs() <= 14 * 60) {
        let sign = if off < 0 { '-' } else { '+' };
        let abs = off.unsigned_abs();
        out.push_str(&format!("{sign}{:02}:{:02}", abs / 60, abs % 60));
    }
    Some(out)
}
