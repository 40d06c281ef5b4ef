//! JSON: the bundle itself, an array of one kind, or one record (a shipped template file).

use serde::de::DeserializeOwned;
use serde_json::Value;

use fieldcheck_domain::calendar::WorkCalendar;
use fieldcheck_protocol::ReferenceBundle;

use crate::Kind;
use crate::error::{Location, RefDataError};

const BUNDLE_KEYS: [&str; 7] = [
    "districts",
    "units",
    "points",
    "categories",
    "templates",
    "users",
    "calendar",
];

pub(crate) fn read(
    bytes: &[u8],
    at: &Location,
    given: Option<Kind>,
    from_name: Option<Kind>,
) -> Result<ReferenceBundle, RefDataError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| RefDataError::Parse {
        at: Box::new(at.clone()),
        message: format!(
            "not UTF-8 text (invalid byte at offset {}); JSON files must be UTF-8",
            e.valid_up_to()
        ),
    })?;
    if text.trim().is_empty() {
        return Err(RefDataError::Empty {
            at: Box::new(at.clone()),
            message: "the file is empty".into(),
        });
    }
    // Parse once untyped to see the shape, then again typed so that errors carry the line.
    let shape: Value = parse(text, at)?;
    let kind = given.or(from_name);
    match shape {
        Value::Object(map)
            if map.keys().any(|k| BUNDLE_KEYS.contains(&k.as_str())) || map.is_empty() =>
        {
            let unknown: Vec<String> = map
                .keys()
                .filter(|k| !BUNDLE_KEYS.contains(&k.as_str()))
                .cloned()
                .collect();
            if !unknown.is_empty() {
                return Err(RefDataError::UnknownColumn {
                    message: format!(
                        "unknown key{} {} in a reference bundle (expected {})",
                        if unknown.len() == 1 { "" } else { "s" },
                        unknown
                            .iter()
                            .map(|k| format!("\"{k}\""))
                            .collect::<Vec<_>>()
                            .join(", "),
                        BUNDLE_KEYS.join(", ")
                    ),
                    at: Box::new(at.clone()),
                    columns: unknown,
                });
            }
            let bundle: ReferenceBundle = parse(text, at)?;
            Ok(match given {
                Some(k) => k.take(bundle),
                None => bundle,
            })
        }
        Value::Object(_) => match kind {
            Some(Kind::Calendar) => Ok(ReferenceBundle {
                calendar: Some(parse::<WorkCalendar>(text, at)?),
                ..ReferenceBundle::default()
            }),
            Some(k) => {
                let mut b = ReferenceBundle::default();
                one(k, text, at, &mut b)?;
                Ok(b)
            }
            None => Err(RefDataError::UnknownKind {
                at: Box::new(at.clone()),
                message: format!(
                    "the JSON object is not a reference bundle (it has none of the keys {}) and \
                     the file name does not say which kind of record it is; name the kind. \
                     Kinds: {}",
                    BUNDLE_KEYS.join(", "),
                    Kind::accepted_names()
                ),
            }),
        },
        Value::Array(_) => {
            let kind = kind.ok_or_else(|| RefDataError::UnknownKind {
                at: Box::new(at.clone()),
                message: format!(
                    "a JSON array holds one kind of reference data and the file name does not \
                     say which; name the kind or the file after it (e.g. points.json). Kinds: {}",
                    Kind::accepted_names()
                ),
            })?;
            let mut b = ReferenceBundle::default();
            match kind {
                Kind::Districts => b.districts = parse(text, at)?,
                Kind::Units => b.units = parse(text, at)?,
                Kind::Points => b.points = parse(text, at)?,
                Kind::Categories => b.categories = parse(text, at)?,
                Kind::Templates => b.templates = parse(text, at)?,
                Kind::Users => b.users = parse(text, at)?,
                Kind::Calendar => {
                    return Err(RefDataError::Parse {
                        at: Box::new(at.clone()),
                        message: "a work calendar is one JSON object, not an array".into(),
                    });
                }
            }
            Ok(b)
        }
        Value::Null if kind == Some(Kind::Calendar) => Ok(ReferenceBundle::default()),
        _ => Err(RefDataError::Parse {
            at: Box::new(at.clone()),
            message: "expected a JSON object (a reference bundle or one record) or an array of \
                      records"
                .into(),
        }),
    }
}

/// A single record of `kind` (e.g. `data/templates/back_alley.json`).
fn one(kind: Kind, text: &str, at: &Location, b: &mut ReferenceBundle) -> Result<(), RefDataError> {
    match kind {
        Kind::Districts => b.districts = vec![parse(text, at)?],
        Kind::Units => b.units = vec![parse(text, at)?],
        Kind::Points => b.points = vec![parse(text, at)?],
        Kind::Categories => b.categories = vec![parse(text, at)?],
        Kind::Templates => b.templates = vec![parse(text, at)?],
        Kind::Users => b.users = vec![parse(text, at)?],
        Kind::Calendar => b.calendar = Some(parse(text, at)?),
    }
    Ok(())
}

fn parse<T: DeserializeOwned>(text: &str, at: &Location) -> Result<T, RefDataError> {
    serde_json::from_str(text).map_err(|e| {
        // serde_json appends " at line L column C" to its message; give the location first,
        // the way the table formats do.
        let full = e.to_string();
        let message = match full.rfind(" at line ") {
            Some(i) if e.line() > 0 => full[..i].to_string(),
            _ => full,
        };
        RefDataError::Parse {
            at: Box::new(at.clone()),
            message: if e.line() > 0 {
                format!("line {}, column {}: {message}", e.line(), e.column())
            } else {
                message
            },
        }
    })
}

pub(crate) fn write(
    bundle: &ReferenceBundle,
    at: &Location,
    kind: Option<Kind>,
) -> Result<Vec<u8>, RefDataError> {
    let result = match kind {
        None => serde_json::to_vec_pretty(bundle),
        Some(Kind::Districts) => serde_json::to_vec_pretty(&bundle.districts),
        Some(Kind::Units) => serde_json::to_vec_pretty(&bundle.units),
        Some(Kind::Points) => serde_json::to_vec_pretty(&bundle.points),
        Some(Kind::Categories) => serde_json::to_vec_pretty(&bundle.categories),
        Some(Kind::Templates) => serde_json::to_vec_pretty(&bundle.templates),
        Some(Kind::Users) => serde_json::to_vec_pretty(&bundle.users),
        Some(Kind::Calendar) => serde_json::to_vec_pretty(&bundle.calendar),
    };
    let mut bytes = result.map_err(|e| RefDataError::Write {
        at: Box::new(at.clone()),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}
