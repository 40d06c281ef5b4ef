//! Hybrid logical clock: wall time in ms + a counter + the node (device) id.
//!
//! Ordering is total (ties broken by node) and respects causality even when a phone's clock
//! is wrong: a device that has seen an event always stamps its next event later than it.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest counter the fixed-width text form holds (six digits).
pub const MAX_TEXT_COUNTER: u32 = 999_999;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(type = "string"))]
pub struct Hlc {
    pub wall_ms: i64,
    pub counter: u32,
    pub node: String,
}

impl Hlc {
    pub fn new(wall_ms: i64, counter: u32, node: impl Into<String>) -> Self {
        Hlc {
            wall_ms,
            counter,
            node: node.into(),
        }
    }

    /// Moves a timestamp that lies too far in the future back to `now + max_future_ms`.
    /// The server does this so that one phone with its clock set to next year cannot make its
    /// field edits win every merge for a year.
    pub fn clamped(&self, now_ms: i64, max_future_ms: i64) -> Hlc {
        let limit = now_ms.saturating_add(max_future_ms);
        if self.wall_ms > limit {
            Hlc::new(limit, self.counter, self.node.clone())
        } else {
            self.clone()
        }
    }

    /// This stamp, or — when it does not order after `floor` — the earliest stamp of this
    /// node that does. The server places a device's event after the newest event of its
    /// record that the device had already been sent: an edit made after seeing the office's
    /// filing cannot claim to precede it, whatever the phone's clock (or its owner) says.
    /// A stamp already after `floor` (an edit made offline before the filing arrived) keeps
    /// its place.
    pub fn not_before(&self, floor: &Hlc) -> Hlc {
        if *self > *floor {
            return self.clone();
        }
        // The text form has six counter digits: past them, the next millisecond.
        if floor.counter < MAX_TEXT_COUNTER {
            Hlc::new(floor.wall_ms, floor.counter + 1, self.node.clone())
        } else {
            Hlc::new(floor.wall_ms.saturating_add(1), 0, self.node.clone())
        }
    }

    pub fn to_datetime(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.wall_ms).unwrap_or_default()
    }
}

impl Ord for Hlc {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.wall_ms, self.counter, &self.node).cmp(&(other.wall_ms, other.counter, &other.node))
    }
}

impl PartialOrd for Hlc {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Fixed-width text form whose byte order equals the clock order, so SQL `ORDER BY hlc`
/// is the fold order: `000001763890000000-000000-<node>`.
impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:018}-{:06}-{}",
            self.wall_ms.max(0),
            self.counter,
            self.node
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed HLC timestamp {0:?}")]
pub struct HlcParseError(pub String);

impl FromStr for Hlc {
    type Err = HlcParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || HlcParseError(s.to_owned());
        let mut parts = s.splitn(3, '-');
        let wall = parts.next().ok_or_else(err)?;
        let counter = parts.next().ok_or_else(err)?;
        let node = parts.next().ok_or_else(err)?;
        // Digits only: `str::parse` would also take a `+` sign, which the text form never has.
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if wall.len() != 18
            || counter.len() != 6
            || node.is_empty()
            || !digits(wall)
            || !digits(counter)
        {
            return Err(err());
        }
        Ok(Hlc {
            wall_ms: wall.parse().map_err(|_| err())?,
            counter: counter.parse().map_err(|_| err())?,
            node: node.to_owned(),
        })
    }
}

impl Serialize for Hlc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// In the OpenAPI document an HLC is its text form (see `Display`).
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Hlc {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(HLC_PATTERN))
            .description(Some(
                "Hybrid logical clock: 18-digit wall milliseconds, 6-digit counter, node",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Hlc {}

/// What [`Hlc::from_str`] accepts, as an ECMA-262 pattern (the node is any non-empty text).
pub const HLC_PATTERN: &str = "^[0-9]{18}-[0-9]{6}-[\\s\\S]+$";

impl<'de> Deserialize<'de> for Hlc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The clock of one node. Feed it the wall clock; it never goes backwards.
#[derive(Debug, Clone)]
pub struct HlcClock {
    node: String,
    last: Hlc,
}

impl HlcClock {
    pub fn new(node: impl Into<String>) -> Self {
        let node = node.into();
        HlcClock {
            last: Hlc::new(0, 0, node.clone()),
            node,
        }
    }

    /// Resumes from the last timestamp this node issued or saw (persisted by the store).
    pub fn resume(node: impl Into<String>, last: Option<Hlc>) -> Self {
        let mut c = HlcClock::new(node);
        if let Some(l) = last {
            c.last = Hlc::new(l.wall_ms, l.counter, c.node.clone());
        }
        c
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn last(&self) -> &Hlc {
        &self.last
    }

    /// A timestamp for a local event.
    pub fn tick(&mut self, now_ms: i64) -> Hlc {
        let (wall, counter) = if now_ms > self.last.wall_ms {
            (now_ms, 0)
        } else {
            (self.last.wall_ms, self.last.counter.saturating_add(1))
        };
        self.last = Hlc::new(wall, counter, self.node.clone());
        self.last.clone()
    }

    /// Takes a remote timestamp into account so that later local events order after it.
    pub fn observe(&mut self, remote: &Hlc, now_ms: i64) {
        let wall = now_ms.max(self.last.wall_ms).max(remote.wall_ms);
        let counter = if wall == self.last.wall_ms && wall == remote.wall_ms {
            self.last.counter.max(remote.counter).saturating_add(1)
        } else if wall == self.last.wall_ms {
            self.last.counter.saturating_add(1)
        } else if wall == remote.wall_ms {
            remote.counter.saturating_add(1)
        } else {
            0
        };
        self.last = Hlc::new(wall, counter, self.node.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_orders_like_the_clock() {
        let a = Hlc::new(1_700_000_000_000, 5, "dev-b");
        let b = Hlc::new(1_700_000_000_000, 12, "dev-a");
        let c = Hlc::new(1_700_000_000_001, 0, "dev-a");
        assert!(a < b && b < c);
        assert!(a.to_string() < b.to_string() && b.to_string() < c.to_string());
        assert_eq!(a.to_string().parse::<Hlc>().unwrap(), a);
    }

    #[test]
    fn clock_never_goes_backwards_and_orders_after_observed() {
        let mut c = HlcClock::new("d1");
        let t1 = c.tick(1000);
        let t2 = c.tick(900); // phone clock jumped back
        assert!(t2 > t1);
        let remote = Hlc::new(5000, 7, "d2");
        c.observe(&remote, 1000);
        let t3 = c.tick(1000);
        assert!(t3 > remote);
    }

    #[test]
    fn malformed_text_is_refused() {
        for s in [
            "",
            "12-3-x",
            "000000000000000001-00000a-n",
            "000000000000000001-000001-",
            // A sign fits the width but is not the text form (nor the documented pattern).
            "+00000000000000001-000001-n",
            "000000000000000001-+00001-n",
        ] {
            assert!(s.parse::<Hlc>().is_err(), "{s}");
        }
    }

    #[test]
    fn not_before_moves_only_stamps_that_do_not_follow_the_floor() {
        let filing = Hlc::new(5_000, 2, "office");
        // Made offline before the filing arrived: keeps its place (it is legitimately earlier).
        let later = Hlc::new(6_000, 0, "phone");
        assert_eq!(later.not_before(&filing), later);
        // Claims to precede what the device had been sent: placed just after it.
        // The same instant and counter orders by node: "phone" > "office" already follows.
        let tie = Hlc::new(5_000, 2, "phone");
        assert_eq!(tie.not_before(&filing), tie);
        for forged in [
            Hlc::new(1_000, 0, "phone"),
            Hlc::new(5_000, 1, "phone"),
            Hlc::new(5_000, 2, "a"),
            filing.clone(),
        ] {
            let placed = forged.not_before(&filing);
            assert!(placed > filing, "{forged} -> {placed}");
            assert_eq!(placed, Hlc::new(5_000, 3, forged.node.clone()));
            // Its text form orders the same way (the store folds by it).
            assert!(placed.to_string() > filing.to_string());
        }
        // A counter at its limit rolls over into the next millisecond.
        let full = Hlc::new(7_000, MAX_TEXT_COUNTER, "office");
        let placed = Hlc::new(1, 0, "phone").not_before(&full);
        assert_eq!(placed, Hlc::new(7_001, 0, "phone"));
        assert!(placed > full);
        assert_eq!(placed.to_string().parse::<Hlc>().unwrap(), placed);
    }

    #[test]
    fn clamp_limits_future_stamps() {
        let h = Hlc::new(10_000, 3, "n");
        assert_eq!(h.clamped(1_000, 500).wall_ms, 1_500);
        assert_eq!(h.clamped(20_000, 500), h);
    }
}
