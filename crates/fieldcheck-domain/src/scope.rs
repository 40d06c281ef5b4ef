//! Who sees which record and where a person may act: the district tree the scope is measured
//! in, a person's [`Scope`], and the attributes of a record that decide it ([`RecordScope`]).
//!
//! The server decides pulls, pushes and photo downloads with it; a device narrows what it
//! shows a volunteer with it ([`Scope::device_reporter`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::problem::Problem;
use crate::reference::{District, User};
use crate::role::Role;

/// The districts as a tree: which districts lie under which (a 区's streets, a street's
/// communities). Built once from the reference data, asked many times.
#[derive(Debug, Clone, Default)]
pub struct DistrictTree {
    by_id: BTreeMap<String, District>,
    /// Child ids by parent id, from every district record (even a duplicate id's).
    children: BTreeMap<String, Vec<String>>,
}

impl DistrictTree {
    pub fn new(districts: &[District]) -> DistrictTree {
        let mut tree = DistrictTree::default();
        for d in districts {
            if let Some(p) = &d.parent_id {
                tree.children
                    .entry(p.clone())
                    .or_default()
                    .push(d.id.clone());
            }
            tree.by_id.insert(d.id.clone(), d.clone());
        }
        tree
    }

    pub fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    pub fn get(&self, id: &str) -> Option<&District> {
        self.by_id.get(id)
    }

    /// The districts `ids` name and every district below them. An id the tree does not know
    /// is kept as given (it is what the caller asked for; nothing lies below it). Corrupt data
    /// with a cycle ends the walk: each district is visited once.
    pub fn descendants_of<I>(&self, ids: I) -> BTreeSet<String>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut todo: Vec<String> = Vec::new();
        for id in ids {
            let id = id.as_ref();
            if seen.insert(id.to_owned()) {
                todo.push(id.to_owned());
            }
        }
        while let Some(id) = todo.pop() {
            for child in self.children.get(&id).into_iter().flatten() {
                if seen.insert(child.clone()) {
                    todo.push(child.clone());
                }
            }
        }
        seen
    }

    /// The district `id` and the districts above it, nearest first. Stops at an unknown
    /// parent, and before a district already on the way up (a cycle in corrupt data).
    pub fn ancestors_of(&self, id: &str) -> Vec<&District> {
        let mut out: Vec<&District> = Vec::new();
        let mut cur = self.by_id.get(id);
        while let Some(d) = cur {
            if out.iter().any(|x| x.id == d.id) {
                break;
            }
            out.push(d);
            cur = d.parent_id.as_deref().and_then(|p| self.by_id.get(p));
        }
        out
    }
}

/// The attributes of a record that decide who sees it. The server stores them with every
/// event, so that a pull can tell what a device could see at any cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordScope {
    /// The record's lowest-level district (a problem's, or the inspected point's).
    pub district: Option<String>,
    /// The unit a problem is dispatched to.
    pub unit: Option<String>,
    /// The reporter of a problem or the inspector of an inspection.
    pub owner: Option<String>,
}

impl RecordScope {
    pub fn of_problem(p: &Problem) -> RecordScope {
        RecordScope {
            district: p.district_id.clone(),
            unit: p.unit_id.clone(),
            owner: Some(p.reporter.clone()),
        }
    }
}

/// A person's reach: their role and unit, and their districts with everything below them (a
/// person scoped to a district sees every street and community in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub user_id: String,
    pub role: Role,
    pub unit_id: Option<String>,
    /// `None`: the whole city (a user listed with no districts).
    pub districts: Option<BTreeSet<String>>,
}

impl Scope {
    pub fn of(user: &User, tree: &DistrictTree) -> Scope {
        Scope {
            user_id: user.id.clone(),
            role: user.role,
            unit_id: user.unit_id.clone(),
            districts: (!user.district_ids.is_empty())
                .then(|| tree.descendants_of(&user.district_ids)),
        }
    }

    /// Is `district` within this person's districts? A record with no district is within
    /// only a whole-city scope.
    pub fn in_districts(&self, district: Option<&str>) -> bool {
        match (&self.districts, district) {
            (None, _) => true,
            (Some(set), Some(d)) => set.contains(d),
            (Some(_), None) => false,
        }
    }

    /// Did this person report (or inspect) the record?
    pub fn owns(&self, r: &RecordScope) -> bool {
        r.owner.as_deref() == Some(self.user_id.as_str())
    }

    /// Who sees a record: admins everything; inspectors their districts; unit handlers the
    /// problems dispatched to their unit; volunteers their own reports. Everyone sees what
    /// they reported or inspected themselves.
    pub fn sees(&self, r: &RecordScope) -> bool {
        if self.owns(r) {
            return true;
        }
        match self.role {
            Role::Admin => true,
            Role::Inspector => self.in_districts(r.district.as_deref()),
            Role::UnitHandler => r.unit.is_some() && r.unit == self.unit_id,
            Role::Volunteer => false,
        }
    }

    /// May this person send an event onto a record of scope `target`, either creating it
    /// there (`new`) or acting on it as it stands? Inspectors act in their districts and on
    /// what they reported; unit handlers and volunteers create records in their districts,
    /// and then act only on what they see (a handler: dispatched to their unit, so a problem
    /// re-dispatched elsewhere while they were offline is out of reach) or own. Whether the
    /// lifecycle accepts the event is the fold's business, not this.
    pub fn may_act_on(&self, target: &RecordScope, new: bool) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Inspector => self.in_districts(target.district.as_deref()) || self.owns(target),
            Role::UnitHandler if new => self.in_districts(target.district.as_deref()),
            Role::UnitHandler => self.sees(target),
            Role::Volunteer if new => self.in_districts(target.district.as_deref()),
            Role::Volunteer => self.owns(target),
        }
    }

    /// May this person add photos to an existing record of scope `target`? What they may act
    /// on, and for a volunteer also someone else's report in their districts: adding a photo
    /// to a problem already reported is what they do instead of reporting it twice (the
    /// lifecycle admits it while the problem is open).
    pub fn may_add_photos(&self, target: &RecordScope) -> bool {
        self.may_act_on(target, false)
            || (self.role == Role::Volunteer && self.in_districts(target.district.as_deref()))
    }

    /// What a device shows of the records it holds: only a volunteer is narrowed, to the
    /// reports they made (`Some(their id)`). Everyone else sees all the device holds — the
    /// server sent it only what its enrolled user sees, and an office or inspector device
    /// also keeps records it once held or its people made — while a volunteer on a device
    /// others used (or a demo device holding the whole city) must not read others' reports.
    pub fn device_reporter(&self) -> Option<&str> {
        (self.role == Role::Volunteer).then_some(self.user_id.as_str())
    }

    /// Does a device show this person the record? See [`Scope::device_reporter`].
    pub fn sees_on_device(&self, r: &RecordScope) -> bool {
        self.device_reporter()
            .is_none_or(|me| r.owner.as_deref() == Some(me))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Text;
    use crate::reference::DistrictLevel;

    fn d(id: &str, level: DistrictLevel, parent: Option<&str>) -> District {
        District {
            id: id.into(),
            name: Text::new(id, id),
            level,
            parent_id: parent.map(Into::into),
            code_prefix: None,
        }
    }

    fn city() -> Vec<District> {
        use DistrictLevel::*;
        // Children listed before their parents: the tree must not depend on input order.
        vec![
            d("c-1", Community, Some("s-a")),
            d("c-2", Community, Some("s-a")),
            d("c-3", Community, Some("s-b")),
            d("s-a", Street, Some("gl")),
            d("s-b", Street, Some("gl")),
            d("s-c", Street, Some("tj")),
            d("gl", District, None),
            d("tj", District, None),
        ]
    }

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    fn user(id: &str, role: Role, unit: Option<&str>, districts: &[&str]) -> User {
        User {
            id: id.into(),
            name: id.into(),
            role,
            unit_id: unit.map(Into::into),
            district_ids: districts.iter().map(|s| (*s).to_owned()).collect(),
            phone: None,
        }
    }

    fn rec(district: Option<&str>, unit: Option<&str>, owner: &str) -> RecordScope {
        RecordScope {
            district: district.map(Into::into),
            unit: unit.map(Into::into),
            owner: Some(owner.into()),
        }
    }

    #[test]
    fn descendants_include_the_ids_and_everything_below() {
        let t = DistrictTree::new(&city());
        assert_eq!(
            t.descendants_of(["gl"]),
            set(&["gl", "s-a", "s-b", "c-1", "c-2", "c-3"])
        );
        assert_eq!(t.descendants_of(["s-a"]), set(&["s-a", "c-1", "c-2"]));
        assert_eq!(t.descendants_of(["c-3", "s-c"]), set(&["c-3", "s-c"]));
        assert_eq!(t.descendants_of(Vec::<String>::new()), set(&[]));
    }

    #[test]
    fn unknown_ids_are_kept_and_have_nothing_below() {
        let t = DistrictTree::new(&city());
        assert!(!t.contains("nowhere"));
        assert_eq!(
            t.descendants_of(["nowhere", "s-b"]),
            set(&["nowhere", "s-b", "c-3"])
        );
        assert!(t.ancestors_of("nowhere").is_empty());
    }

    #[test]
    fn a_cycle_ends_the_walk() {
        use DistrictLevel::*;
        let looped = vec![
            d("a", Street, Some("b")),
            d("b", Community, Some("c")),
            d("c", Street, Some("a")),
            d("x", Community, Some("c")),
        ];
        let t = DistrictTree::new(&looped);
        assert_eq!(t.descendants_of(["a"]), set(&["a", "b", "c", "x"]));
        let up: Vec<&str> = t.ancestors_of("x").iter().map(|d| d.id.as_str()).collect();
        assert_eq!(up, ["x", "c", "a", "b"]);
        // A district that is its own parent.
        let t = DistrictTree::new(&[d("s", Street, Some("s"))]);
        assert_eq!(t.descendants_of(["s"]), set(&["s"]));
        assert_eq!(t.ancestors_of("s").len(), 1);
    }

    #[test]
    fn ancestors_go_up_to_the_top_district() {
        let t = DistrictTree::new(&city());
        let up: Vec<&str> = t
            .ancestors_of("c-2")
            .iter()
            .map(|d| d.id.as_str())
            .collect();
        assert_eq!(up, ["c-2", "s-a", "gl"]);
    }

    #[test]
    fn a_scope_holds_the_users_districts_and_everything_below() {
        let t = DistrictTree::new(&city());
        let s = Scope::of(&user("i", Role::Inspector, None, &["s-a", "s-c"]), &t);
        assert_eq!(s.districts, Some(set(&["s-a", "c-1", "c-2", "s-c"])));
        assert!(s.in_districts(Some("c-2")));
        assert!(!s.in_districts(Some("c-3")));
        assert!(!s.in_districts(None), "no district is not in a district");
        let city_wide = Scope::of(&user("a", Role::Inspector, None, &[]), &t);
        assert_eq!(city_wide.districts, None);
        assert!(city_wide.in_districts(None) && city_wide.in_districts(Some("c-3")));
    }

    #[test]
    fn who_sees_a_record() {
        let t = DistrictTree::new(&city());
        let admin = Scope::of(&user("adm", Role::Admin, None, &["s-b"]), &t);
        let insp = Scope::of(&user("insp", Role::Inspector, None, &["s-a"]), &t);
        let handler = Scope::of(&user("h", Role::UnitHandler, Some("u1"), &["s-a"]), &t);
        let vol = Scope::of(&user("vol", Role::Volunteer, None, &["gl"]), &t);

        let in_c1 = rec(Some("c-1"), None, "someone");
        let in_c3_for_u1 = rec(Some("c-3"), Some("u1"), "someone");
        let nowhere = RecordScope::default();

        assert!(admin.sees(&in_c1) && admin.sees(&in_c3_for_u1) && admin.sees(&nowhere));

        assert!(insp.sees(&in_c1));
        assert!(
            !insp.sees(&in_c3_for_u1),
            "outside the inspector's districts"
        );
        assert!(!insp.sees(&nowhere));
        assert!(insp.sees(&rec(Some("c-3"), None, "insp")), "own report");

        assert!(
            handler.sees(&in_c3_for_u1),
            "dispatched to the unit, anywhere"
        );
        assert!(
            !handler.sees(&in_c1),
            "in the handler's districts but not dispatched"
        );
        assert!(!handler.sees(&rec(Some("c-1"), Some("u2"), "someone")));
        assert!(handler.sees(&rec(None, None, "h")), "own report");
        let no_unit = Scope::of(&user("h2", Role::UnitHandler, None, &[]), &t);
        assert!(
            !no_unit.sees(&nowhere),
            "no unit matches a record without one"
        );

        assert!(
            !vol.sees(&in_c1),
            "a volunteer's districts show them nothing"
        );
        assert!(vol.sees(&rec(Some("c-1"), Some("u1"), "vol")));
    }

    #[test]
    fn where_a_person_may_act() {
        let t = DistrictTree::new(&city());
        let insp = Scope::of(&user("insp", Role::Inspector, None, &["s-a"]), &t);
        let handler = Scope::of(&user("h", Role::UnitHandler, Some("u1"), &["s-a"]), &t);
        let vol = Scope::of(&user("vol", Role::Volunteer, None, &["s-a"]), &t);
        let admin = Scope::of(&user("adm", Role::Admin, None, &[]), &t);

        let theirs_c1 = rec(Some("c-1"), None, "someone");
        let theirs_c3_u1 = rec(Some("c-3"), Some("u1"), "someone");
        for new in [true, false] {
            assert!(admin.may_act_on(&theirs_c3_u1, new));
            assert!(insp.may_act_on(&theirs_c1, new));
            assert!(!insp.may_act_on(&theirs_c3_u1, new));
            assert!(insp.may_act_on(&rec(Some("c-3"), None, "insp"), new));
        }
        // Creating: in the person's districts.
        assert!(handler.may_act_on(&rec(Some("c-1"), None, "h"), true));
        assert!(!handler.may_act_on(&rec(Some("c-3"), None, "h"), true));
        assert!(vol.may_act_on(&rec(Some("c-2"), None, "vol"), true));
        assert!(!vol.may_act_on(&rec(Some("c-3"), None, "vol"), true));
        // Acting on what stands: a handler on what is dispatched to them, a volunteer on
        // their own reports, wherever those lie.
        assert!(handler.may_act_on(&theirs_c3_u1, false));
        assert!(!handler.may_act_on(&theirs_c1, false));
        assert!(vol.may_act_on(&rec(Some("c-3"), None, "vol"), false));
        assert!(!vol.may_act_on(&theirs_c1, false));
        // Adding a photo: a volunteer also to someone else's report in their districts (not
        // outside them); everyone else as they may act.
        assert!(vol.may_add_photos(&theirs_c1));
        assert!(!vol.may_add_photos(&theirs_c3_u1));
        assert!(vol.may_add_photos(&rec(Some("c-3"), None, "vol")));
        assert!(!handler.may_add_photos(&theirs_c1));
        assert!(handler.may_add_photos(&theirs_c3_u1));
        assert!(!insp.may_add_photos(&theirs_c3_u1));
    }

    #[test]
    fn a_device_narrows_only_a_volunteers_view() {
        let t = DistrictTree::new(&city());
        let vol = Scope::of(&user("vol", Role::Volunteer, None, &[]), &t);
        assert_eq!(vol.device_reporter(), Some("vol"));
        assert!(vol.sees_on_device(&rec(None, None, "vol")));
        assert!(!vol.sees_on_device(&rec(Some("c-1"), None, "other")));
        for role in [Role::Admin, Role::Inspector, Role::UnitHandler] {
            let s = Scope::of(&user("x", role, Some("u1"), &["s-a"]), &t);
            assert_eq!(s.device_reporter(), None);
            // What the device holds is shown, even outside the person's reach on the server.
            assert!(s.sees_on_device(&rec(Some("c-3"), Some("u2"), "other")));
        }
    }
}
