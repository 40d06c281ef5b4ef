//! Serde helpers for how JSON spells numbers.

use serde::Deserializer;
use serde::de::{self, Visitor};

/// An unsigned 32-bit count as JSON means it: `3` or `3.0`. JSON Schema (the OpenAPI document)
/// counts `3.0` as the integer 3, and some generated clients and JavaScript send it that way,
/// so a whole number in range is taken whichever way it is written; `3.5` is refused.
pub fn whole_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    d.deserialize_any(WholeU32)
}

/// [`whole_u32`] for an optional field (`null` or absent is `None`; use with `default`).
pub fn opt_whole_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    d.deserialize_option(OptWholeU32)
}

struct WholeU32;

impl Visitor<'_> for WholeU32 {
    type Value = u32;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a whole number from 0 to 4294967295")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u32, E> {
        u32::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u32, E> {
        u32::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u32, E> {
        if v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) {
            Ok(v as u32)
        } else {
            Err(E::invalid_value(de::Unexpected::Float(v), &self))
        }
    }
}

struct OptWholeU32;

impl<'de> Visitor<'de> for OptWholeU32 {
    type Value = Option<u32>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("null or a whole number from 0 to 4294967295")
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<u32>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<u32>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<u32>, D::Error> {
        whole_u32(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    #[derive(Debug, serde::Deserialize)]
    struct T {
        #[serde(deserialize_with = "super::whole_u32")]
        n: u32,
        #[serde(default, deserialize_with = "super::opt_whole_u32")]
        o: Option<u32>,
    }

    fn parse(s: &str) -> Result<T, serde_json::Error> {
        serde_json::from_str(s)
    }

    #[test]
    fn whole_numbers_are_taken_however_they_are_written() {
        assert_eq!(parse(r#"{"n": 3}"#).unwrap().n, 3);
        assert_eq!(parse(r#"{"n": 3.0, "o": 4.0}"#).unwrap().o, Some(4));
        assert_eq!(parse(r#"{"n": 4294967295.0, "o": null}"#).unwrap().o, None);
        for bad in [
            r#"{"n": 3.5}"#,
            r#"{"n": -1}"#,
            r#"{"n": 4294967296}"#,
            r#"{"n": 4294967296.0}"#,
            r#"{"n": "3"}"#,
            r#"{"n": 1, "o": 0.5}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
