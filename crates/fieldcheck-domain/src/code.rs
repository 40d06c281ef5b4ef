//! Human-readable problem codes, unique across devices without coordination:
//! `<district prefix>-<local date>-<device tag>-<device sequence>`, e.g. `GL-20261123-K7Q2-0007`.
//! The device tag is derived from the device id (and assigned by the server at enrollment);
//! the sequence is per device and never reused.

use chrono::NaiveDate;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A 4-character Crockford base32 tag from the first 20 bits of a device id.
pub fn device_tag(device_id: &uuid::Uuid) -> String {
    let b = device_id.as_bytes();
    let n = (u32::from(b[0]) << 12) | (u32::from(b[1]) << 4) | (u32::from(b[2]) >> 4);
    (0..4)
        .rev()
        .map(|i| CROCKFORD[((n >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// `date` is the city's calendar day of the report
/// ([`crate::calendar::WorkCalendar::local_day`]), not the day on the device's own clock zone.
pub fn problem_code(prefix: &str, date: NaiveDate, device_tag: &str, seq: u64) -> String {
    let prefix = if prefix.trim().is_empty() {
        "FC"
    } else {
        prefix.trim()
    };
    format!(
        "{}-{}-{}-{:04}",
        prefix.to_uppercase(),
        date.format("%Y%m%d"),
        device_tag,
        seq
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_readable_and_distinct_per_device() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let a = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0000_0000_0000_0000);
        let b = uuid::Uuid::from_u128(0xfedc_ba98_7654_3210_0000_0000_0000_0000);
        assert_eq!(device_tag(&a).len(), 4);
        assert_ne!(device_tag(&a), device_tag(&b));
        assert_eq!(
            problem_code("gl", d, &device_tag(&a), 7),
            format!("GL-20261123-{}-0007", device_tag(&a))
        );
        assert!(problem_code("", d, "AAAA", 12345).starts_with("FC-20261123-AAAA-12345"));
    }
}
