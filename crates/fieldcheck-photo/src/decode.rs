//! Bounded decoding to 8-bit gray or RGB.
//!
//! JPEG goes through libjpeg-turbo with DCT-domain downscaling (only as much resolution as the
//! display copy needs is ever reconstructed); PNG, WebP and GIF go through the `image` crate
//! with its allocation limits. Pixel limits are checked from the header before any pixel
//! buffer is allocated.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageError, ImageReader, error::LimitErrorKind};
use turbojpeg::{Colorspace, Decompressor, PixelFormat, ScalingFactor};

use crate::{Limits, PhotoError, SourceFormat};

/// Progressive JPEGs from cameras use ~10 scans. A crafted file with thousands of tiny scans
/// makes libjpeg re-walk the coefficient buffer each time (a CPU bomb); libjpeg-turbo's own
/// recommended security limit is 500.
const JPEG_MAX_SCANS: u32 = 500;

/// Headroom for decoder bookkeeping beyond the output pixel buffer (PNG row buffers, zlib
/// windows, GIF palettes). Small next to any real photo.
const DECODER_OVERHEAD: u64 = 32 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channels {
    Gray = 1,
    Rgb = 3,
}

/// Tightly packed 8-bit pixels.
pub(crate) struct Raster {
    pub pixels: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub channels: Channels,
}

pub(crate) struct Decoded {
    /// Possibly already reduced (JPEG DCT scaling) but never below `min_long_edge` unless the
    /// source itself is smaller.
    pub raster: Raster,
    /// Dimensions of the source as stored (before EXIF orientation).
    pub source_width: u32,
    pub source_height: u32,
}

fn check_pixels(width: u64, height: u64, limits: &Limits) -> Result<(), PhotoError> {
    if width == 0 || height == 0 {
        return Err(PhotoError::Corrupt(format!(
            "the image declares a size of {width}×{height} pixels"
        )));
    }
    if width.saturating_mul(height) > limits.max_pixels {
        return Err(PhotoError::TooManyPixels {
            width,
            height,
            max: limits.max_pixels,
        });
    }
    Ok(())
}

pub(crate) fn decode(
    bytes: &[u8],
    format: SourceFormat,
    limits: &Limits,
    min_long_edge: u32,
) -> Result<Decoded, PhotoError> {
    let result = match format {
        SourceFormat::Jpeg => match decode_jpeg_turbo(bytes, limits, min_long_edge) {
            Err(TurboFailure::Fatal(e)) => Err(e),
            Err(TurboFailure::BenignHeaderWarning) => {
                decode_with_image(bytes, image::ImageFormat::Jpeg, limits)
            }
            Ok(d) => Ok(d),
        },
        SourceFormat::Png => decode_with_image(bytes, image::ImageFormat::Png, limits),
        SourceFormat::WebP => decode_with_image(bytes, image::ImageFormat::WebP, limits),
        SourceFormat::Gif => decode_with_image(bytes, image::ImageFormat::Gif, limits),
    };
    // Codecs describe a cut-off file in many ways ("corrupt bitstream", "invalid code"...);
    // the container framing says plainly whether the end is missing, and "truncated" is the
    // more useful diagnosis (copy the file again) than "corrupt".
    match result {
        Err(PhotoError::Corrupt(_)) if container_truncated(format, bytes) => {
            Err(PhotoError::Truncated)
        }
        other => other,
    }
}

/// Whether the container's own framing shows that the file ends early.
fn container_truncated(format: SourceFormat, bytes: &[u8]) -> bool {
    match format {
        SourceFormat::Png => {
            let mut pos = 8;
            while pos + 8 <= bytes.len() {
                let len = u32::from_be_bytes([
                    bytes[pos],
                    bytes[pos + 1],
                    bytes[pos + 2],
                    bytes[pos + 3],
                ]) as usize;
                let end = pos.saturating_add(12).saturating_add(len);
                if end > bytes.len() {
                    return true;
                }
                if &bytes[pos + 4..pos + 8] == b"IEND" {
                    return false;
                }
                pos = end;
            }
            true
        }
        SourceFormat::WebP => {
            bytes.len() < 12 || {
                let declared =
                    u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
                bytes.len() < declared.saturating_add(8)
            }
        }
        SourceFormat::Gif => bytes.last() != Some(&0x3B),
        SourceFormat::Jpeg => {
            // Entropy-coded data cannot contain FF D9 (FF is byte-stuffed), so a complete file
            // has an EOI after its last start-of-scan. An EXIF thumbnail's own EOI comes before
            // the main image's scans and does not count.
            match bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]) {
                Some(p) => !bytes[p..].windows(2).any(|w| w == [0xFF, 0xD9]),
                None => true,
            }
        }
    }
}

enum TurboFailure {
    Fatal(PhotoError),
    /// libjpeg flagged a harmless oddity while reading the header (e.g. padding bytes before a
    /// marker). The `turbojpeg` crate reports any header warning as an error and gives no
    /// dimensions, so such files go to the pure-Rust decoder instead of being refused.
    BenignHeaderWarning,
}

/// libjpeg warnings that leave the pixel data intact. TurboJPEG reports a warning by failing the
/// call after it has completed, with the first warning's text as the error string (fatal errors
/// overwrite it), so an exact match here means "decoded fine".
fn is_benign_jpeg_warning(msg: &str) -> bool {
    [
        "extraneous bytes before marker",
        "unknown JFIF revision number",
        "thumbnail image size does not match data length",
        "Unknown Adobe color transform code",
    ]
    .iter()
    .any(|w| msg.contains(w))
}

fn jpeg_error(e: turbojpeg::Error) -> PhotoError {
    match e {
        turbojpeg::Error::TurboJpegError(msg) => {
            if msg.contains("Premature end of JPEG file") {
                PhotoError::Truncated
            } else {
                PhotoError::Corrupt(format!("JPEG: {msg}"))
            }
        }
        other => PhotoError::Corrupt(format!("JPEG: {other}")),
    }
}

fn decode_jpeg_turbo(
    bytes: &[u8],
    limits: &Limits,
    min_long_edge: u32,
) -> Result<Decoded, TurboFailure> {
    let fatal = |e| TurboFailure::Fatal(jpeg_error(e));
    let mut d = Decompressor::new().map_err(fatal)?;
    let header = match d.read_header(bytes) {
        Ok(h) => h,
        Err(turbojpeg::Error::TurboJpegError(msg)) if is_benign_jpeg_warning(&msg) => {
            return Err(TurboFailure::BenignHeaderWarning);
        }
        Err(e) => return Err(fatal(e)),
    };
    let (w, h) = (header.width, header.height);
    check_pixels(w as u64, h as u64, limits).map_err(TurboFailure::Fatal)?;
    d.set_scan_limit(JPEG_MAX_SCANS).map_err(fatal)?;

    // Shrink-on-load: pick the smallest DCT scaling factor (multiples of 1/8) that still
    // leaves at least the display size, so the resize afterwards only ever reduces.
    let long = w.max(h);
    let want = long.min(min_long_edge as usize);
    let mut factor = ScalingFactor::ONE;
    if !header.is_lossless {
        for f in Decompressor::supported_scaling_factors() {
            if f.num() <= f.denom() && f.scale(long) >= want && f.scale(long) < factor.scale(long) {
                factor = f;
            }
        }
    }
    d.set_scaling_factor(factor).map_err(fatal)?;
    let scaled = header.scaled(factor);

    let (format, bpp) = match header.colorspace {
        Colorspace::Gray => (PixelFormat::GRAY, 1),
        // libjpeg cannot convert CMYK to RGB itself; we do it below.
        Colorspace::CMYK | Colorspace::YCCK => (PixelFormat::CMYK, 4),
        Colorspace::RGB | Colorspace::YCbCr => (PixelFormat::RGB, 3),
    };
    let mut pixels = vec![0u8; scaled.width * scaled.height * bpp];
    let out = turbojpeg::Image {
        pixels: pixels.as_mut_slice(),
        width: scaled.width,
        pitch: scaled.width * bpp,
        height: scaled.height,
        format,
    };
    match d.decompress(bytes, out) {
        Ok(()) => {}
        Err(turbojpeg::Error::TurboJpegError(msg)) if is_benign_jpeg_warning(&msg) => {}
        Err(e) => return Err(fatal(e)),
    }

    let (pixels, channels) = match format {
        PixelFormat::GRAY => (pixels, Channels::Gray),
        PixelFormat::CMYK => (cmyk_to_rgb(&pixels, adobe_inverted(bytes)), Channels::Rgb),
        _ => (pixels, Channels::Rgb),
    };
    Ok(Decoded {
        raster: Raster {
            pixels,
            width: scaled.width as u32,
            height: scaled.height as u32,
            channels,
        },
        source_width: w as u32,
        source_height: h as u32,
    })
}

/// Photoshop (and every encoder copying it, incl. libjpeg when writing CMYK) stores CMYK
/// inverted (0 = full ink) and says so with an Adobe APP14 segment. Without that segment the
/// values are plain ink amounts.
fn adobe_inverted(jpeg: &[u8]) -> bool {
    let mut i = 2; // after SOI
    while i + 4 <= jpeg.len() {
        if jpeg[i] != 0xFF {
            return false;
        }
        let marker = jpeg[i + 1];
        match marker {
            0xFF => {
                i += 1; // fill byte
                continue;
            }
            0xD0..=0xD7 | 0x01 => {
                i += 2;
                continue;
            }
            0xDA | 0xD9 => return false, // start of scan / end: APP segments come before
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        if marker == 0xEE && jpeg.get(i + 4..i + 9) == Some(b"Adobe".as_slice()) {
            return true;
        }
        if len < 2 {
            return false;
        }
        i += 2 + len;
    }
    false
}

fn cmyk_to_rgb(cmyk: &[u8], inverted: bool) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let (c, m, y, k) = if inverted {
            (px[0], px[1], px[2], px[3])
        } else {
            (255 - px[0], 255 - px[1], 255 - px[2], 255 - px[3])
        };
        // Naive (profile-less) conversion, the same as browsers use for untagged CMYK:
        // every channel is "paper remaining" × "black remaining".
        let k = u16::from(k);
        for v in [c, m, y] {
            rgb.push(((u16::from(v) * k + 127) / 255) as u8);
        }
    }
    rgb
}

fn image_error(e: ImageError, format: image::ImageFormat, limits: &Limits) -> PhotoError {
    let name = format_name(format);
    match e {
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            PhotoError::Truncated
        }
        ImageError::Limits(l) => match l.kind() {
            LimitErrorKind::InsufficientMemory => PhotoError::Corrupt(format!(
                "{name}: decoding would need more memory than a {}-pixel photo should",
                limits.max_pixels
            )),
            _ => PhotoError::Corrupt(format!("{name}: {l}")),
        },
        ImageError::Unsupported(u) => PhotoError::UnsupportedFormat(format!("{name} variant: {u}")),
        other => {
            let msg = other.to_string();
            // The codecs report truncation in their own words rather than as an I/O EOF.
            let lower = msg.to_ascii_lowercase();
            if lower.contains("unexpected end")
                || lower.contains("unexpected eof")
                || lower.contains("truncated")
            {
                PhotoError::Truncated
            } else {
                PhotoError::Corrupt(format!("{name}: {msg}"))
            }
        }
    }
}

fn format_name(format: image::ImageFormat) -> &'static str {
    match format {
        image::ImageFormat::Jpeg => "JPEG",
        image::ImageFormat::Png => "PNG",
        image::ImageFormat::WebP => "WebP",
        image::ImageFormat::Gif => "GIF",
        _ => "image",
    }
}

/// The pure-Rust decoders are memory-safe but not panic-free on hostile input (the fuzzer found
/// zune-jpeg 0.5.15's AVX2 upsampler asserting on a crafted JPEG). A panic there means "this
/// file is malformed", so it becomes the same typed error instead of taking the app down.
fn decode_with_image(
    bytes: &[u8],
    format: image::ImageFormat,
    limits: &Limits,
) -> Result<Decoded, PhotoError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode_with_image_unguarded(bytes, format, limits)
    }))
    .unwrap_or_else(|_| {
        Err(PhotoError::Corrupt(format!(
            "the {} decoder failed on malformed data",
            format.extensions_str().first().unwrap_or(&"image")
        )))
    })
}

fn decode_with_image_unguarded(
    bytes: &[u8],
    format: image::ImageFormat,
    limits: &Limits,
) -> Result<Decoded, PhotoError> {
    let err = |e| image_error(e, format, limits);
    // First guard: nothing but the header is read before the pixel count is checked, and the
    // allocation cap holds even while the header is parsed.
    let mut header_limits = image::Limits::default();
    header_limits.max_alloc = Some(DECODER_OVERHEAD);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(header_limits);
    let mut decoder = reader.into_decoder().map_err(err)?;
    let (w, h) = decoder.dimensions();
    check_pixels(u64::from(w), u64::from(h), limits)?;

    // Second guard: the decoder may allocate the output buffer plus bookkeeping, no more.
    let mut decode_limits = image::Limits::default();
    decode_limits.max_alloc = Some(decoder.total_bytes().saturating_add(DECODER_OVERHEAD));
    decoder.set_limits(decode_limits).map_err(err)?;
    let img = DynamicImage::from_decoder(decoder).map_err(err)?;
    Ok(Decoded {
        raster: to_raster(img),
        source_width: w,
        source_height: h,
    })
}

/// Reduces to 8-bit gray or RGB; transparency is composited onto white, which is how an
/// inspector expects a screenshot or a cut-out to look once it becomes a JPEG.
fn to_raster(img: DynamicImage) -> Raster {
    let (width, height) = (img.width(), img.height());
    let color = img.color();
    if color.has_alpha() {
        let rgba = img.into_rgba8();
        let mut pixels = Vec::with_capacity(rgba.as_raw().len() / 4 * 3);
        for px in rgba.as_raw().chunks_exact(4) {
            let a = u16::from(px[3]);
            for &c in &px[..3] {
                pixels.push(((u16::from(c) * a + 255 * (255 - a) + 127) / 255) as u8);
            }
        }
        Raster {
            pixels,
            width,
            height,
            channels: Channels::Rgb,
        }
    } else if color.channel_count() == 1 {
        Raster {
            pixels: img.into_luma8().into_raw(),
            width,
            height,
            channels: Channels::Gray,
        }
    } else {
        Raster {
            pixels: img.into_rgb8().into_raw(),
            width,
            height,
            channels: Channels::Rgb,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmyk_conversion_follows_adobe_inversion() {
        // Adobe-inverted: 255 means no ink.
        assert_eq!(
            cmyk_to_rgb(&[255, 255, 255, 255], true),
            vec![255, 255, 255]
        );
        assert_eq!(cmyk_to_rgb(&[0, 255, 255, 255], true), vec![0, 255, 255]);
        assert_eq!(cmyk_to_rgb(&[255, 255, 255, 0], true), vec![0, 0, 0]);
        // Plain: 255 means full ink.
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 0], false), vec![255, 255, 255]);
        assert_eq!(cmyk_to_rgb(&[0, 255, 0, 0], false), vec![255, 0, 255]);
    }

    #[test]
    fn adobe_marker_scan_is_bounded_and_finds_app14() {
        let mut jpeg = vec![
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0, 0, 0xFF, 0xEE, 0x00, 0x0E,
        ];
        jpeg.extend_from_slice(b"Adobe\0\x64\0\0\0\0\x02");
        jpeg.extend_from_slice(&[0xFF, 0xDA]);
        assert!(adobe_inverted(&jpeg));
        assert!(!adobe_inverted(&jpeg[..10]));
        assert!(!adobe_inverted(&[
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x00, 0xFF, 0xEE
        ]));
    }
}
