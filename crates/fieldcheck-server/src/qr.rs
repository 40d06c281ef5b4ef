//! Enrollment codes as QR images: what a phone scans instead of typing the code.
//!
//! The QR payload is a URI `fieldcheck://enroll?server=<base URL>&code=<code>`, so the app
//! learns both where to enroll and with which code from one scan.

use qrcode::QrCode;
use qrcode::render::svg;

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("cannot encode QR code: {0}")]
    Encode(#[from] qrcode::types::QrError),
    #[error("cannot write PNG: {0}")]
    Png(#[from] image::ImageError),
}

/// The URI a device scans to enroll.
pub fn enroll_uri(server: &str, code: &str) -> String {
    format!(
        "fieldcheck://enroll?server={}&code={}",
        percent_encode(server.trim_end_matches('/')),
        percent_encode(code)
    )
}

/// RFC 3986 unreserved characters stay, everything else is %-encoded.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn svg(payload: &str) -> Result<String, QrError> {
    let code = QrCode::new(payload.as_bytes())?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}

pub fn png(payload: &str) -> Result<Vec<u8>, QrError> {
    let code = QrCode::new(payload.as_bytes())?;
    let img = code
        .render::<image::Luma<u8>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageLuma8(img).write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_encodes_server_and_code() {
        assert_eq!(
            enroll_uri("http://10.0.0.2:8080/", "ABCDE-FGHJK"),
            "fieldcheck://enroll?server=http%3A%2F%2F10.0.0.2%3A8080&code=ABCDE-FGHJK"
        );
    }

    #[test]
    fn images_render() {
        let s = svg("fieldcheck://enroll?code=X").unwrap();
        assert!(s.starts_with("<?xml") && s.contains("<svg"), "{s}");
        let p = png("fieldcheck://enroll?code=X").unwrap();
        assert_eq!(&p[..8], b"\x89PNG\r\n\x1a\n");
        let img = image::load_from_memory(&p).unwrap();
        assert!(img.width() >= 240);
    }
}
