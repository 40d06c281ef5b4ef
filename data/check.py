#!/usr/bin/env python3
"""Cross-reference checks for FieldCheck's shipped data (stdlib only).

Usage: python3 data/check.py [DATA_DIR]     (default: the folder this script is in)

Checks categories.json, templates/*.json and demo/*.json against each other and against the
shapes the Rust types in crates/fieldcheck-domain expect. Prints one summary line; exits 1
and lists every problem when something is wrong.
"""

import datetime as dt
import json
import math
import os
import re
import sys

MAJORS = ["SR", "XC", "SG", "JM", "TF", "JT", "GY", "SS"]
DEADLINE_UNITS = {"working_hours", "working_days", "natural_hours"}
POINT_TYPES = {
    "main_road", "secondary_road", "back_alley", "intersection", "farmers_market",
    "commercial_street", "community", "school_surroundings", "park_square", "public_toilet",
    "station", "hospital", "construction_site", "mall_supermarket", "hotel", "restaurant",
    "internet_cafe", "service_hall",
}
UNIT_KINDS = {
    "sub_district_office", "community", "housing_construction", "law_enforcement",
    "traffic_police", "market_regulation", "education", "transport", "greening", "sanitation",
    "public_security", "propaganda", "property_management", "other",
}
ROLES = {"admin", "inspector", "unit_handler", "volunteer"}
LEVEL_PARENT = {"district": None, "street": "district", "community": "street"}
TEMPLATES = {
    "back_alley": "ba", "farmers_market": "fm", "intersection": "ix",
    "school_surroundings": "ss", "community": "cm", "main_road": "mr",
}
LAT_RANGE, LON_RANGE = (26.0, 26.15), (119.25, 119.36)
CENTRE, MAX_KM = (26.08, 119.30), 5.0

errors = []


def err(where, msg):
    errors.append(f"{where}: {msg}")


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        err(os.path.basename(path), f"cannot load: {e}")
        return None


def text_ok(where, t, need_en=True):
    if not isinstance(t, dict) or not isinstance(t.get("zh"), str) or not t["zh"].strip():
        err(where, "needs a Text with non-empty zh")
        return False
    if need_en and (not isinstance(t.get("en"), str) or not t["en"].strip()):
        err(where, "needs English text")
        return False
    return True


def unique(where, ids):
    seen = set()
    for i in ids:
        if i in seen:
            err(where, f"duplicate id {i}")
        seen.add(i)
    return seen


def num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def km(a, b):
    p1, p2 = math.radians(a[0]), math.radians(b[0])
    dp, dl = p2 - p1, math.radians(b[1] - a[1])
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def check_categories(cats):
    if not isinstance(cats, list) or not cats:
        err("categories", "must be a non-empty array")
        return {}
    codes = unique("categories", [c.get("code") for c in cats])
    per_major, major_text = {}, {}
    for c in cats:
        code, mc = c.get("code", "?"), c.get("major_code")
        w = f"categories {code}"
        if mc not in MAJORS:
            err(w, f"unknown major_code {mc}")
        elif not re.fullmatch(re.escape(mc) + r"-\d{2}", code):
            err(w, f"code must look like {mc}-NN")
        text_ok(w + " major", c.get("major"))
        text_ok(w + " minor", c.get("minor"))
        text_ok(w + " filing_condition", c.get("filing_condition"))
        text_ok(w + " closing_condition", c.get("closing_condition"))
        major = c.get("major") or {}
        key = (major.get("zh"), major.get("en"))
        if major_text.setdefault(mc, key) != key:
            err(w, f"major text differs from the rest of class {mc}")
        d = c.get("deadline") or {}
        if not isinstance(d.get("amount"), int) or isinstance(d.get("amount"), bool) or d["amount"] <= 0:
            err(w, "deadline amount must be a positive integer")
        if d.get("unit") not in DEADLINE_UNITS:
            err(w, f"deadline unit {d.get('unit')!r} is not one of {sorted(DEADLINE_UNITS)}")
        per_major[mc] = per_major.get(mc, 0) + 1
    for mc in MAJORS:
        n = per_major.get(mc, 0)
        if not 4 <= n <= 8:
            err("categories", f"class {mc} has {n} minor classes, want 4-8")
    return codes


def check_templates(tdir, codes):
    summary = {}
    for pt, prefix in TEMPLATES.items():
        path = os.path.join(tdir, pt + ".json")
        t = load(path)
        if t is None:
            continue
        w = f"templates/{pt}.json"
        if t.get("point_type") != pt:
            err(w, f"point_type {t.get('point_type')!r} should be {pt!r}")
        if not isinstance(t.get("id"), str) or not t["id"]:
            err(w, "needs an id")
        if not isinstance(t.get("version"), int) or t["version"] < 1:
            err(w, "version must be a positive integer")
        text_ok(w + " name", t.get("name"))
        items = t.get("items") or []
        if not 10 <= len(items) <= 16:
            err(w, f"{len(items)} items, want 10-16")
        unique(w, [i.get("id") for i in items])
        total = 0.0
        for i in items:
            iid = i.get("id", "?")
            iw = f"{w} {iid}"
            if not re.fullmatch(prefix + r"-\d{2}", str(iid)):
                err(iw, f"id should look like {prefix}-NN")
            text_ok(iw + " text", i.get("text"))
            pts = i.get("points")
            if not num(pts) or not 2 <= pts <= 10:
                err(iw, f"points {pts!r} not within 2-10")
            else:
                total += pts
            if not isinstance(i.get("photo_required_on_fail", False), bool):
                err(iw, "photo_required_on_fail must be a boolean")
            kind = i.get("kind")
            if kind == "pass_fail":
                pass
            elif kind == "count":
                ded, cap = i.get("deduction"), i.get("cap")
                if not (num(ded) and ded > 0 and num(cap) and cap > 0):
                    err(iw, "count needs positive deduction and cap")
                elif num(pts) and cap > pts:
                    err(iw, f"cap {cap} exceeds points {pts}")
            elif kind == "measured":
                if not num(i.get("threshold")):
                    err(iw, "measured needs a finite threshold")
                if i.get("comparison") not in ("at_least", "at_most"):
                    err(iw, f"comparison {i.get('comparison')!r} not at_least/at_most")
            else:
                err(iw, f"unknown kind {kind!r}")
            cat = i.get("category")
            if cat is None:
                err(iw, "has no category")
            elif cat not in codes:
                err(iw, f"unknown category {cat}")
        if not 80 <= total <= 120:
            err(w, f"total points {total:g} not within 80-120")
        summary[pt] = (len(items), total)
    return summary


def check_demo(ddir):
    dists = load(os.path.join(ddir, "districts.json")) or []
    units = load(os.path.join(ddir, "units.json")) or []
    points = load(os.path.join(ddir, "points.json")) or []
    users = load(os.path.join(ddir, "users.json")) or []
    cal = load(os.path.join(ddir, "calendar.json"))

    unique("districts", [d.get("id") for d in dists])
    by_id = {d.get("id"): d for d in dists}
    for d in dists:
        w = f"district {d.get('id')}"
        text_ok(w + " name", d.get("name"))
        lvl = d.get("level")
        if lvl not in LEVEL_PARENT:
            err(w, f"unknown level {lvl!r}")
            continue
        want = LEVEL_PARENT[lvl]
        pid = d.get("parent_id")
        if want is None:
            if pid is not None:
                err(w, "a district cannot have a parent")
            if not d.get("code_prefix"):
                err(w, "a district needs a code_prefix")
        elif pid not in by_id:
            err(w, f"parent {pid!r} does not exist")
        elif by_id[pid].get("level") != want:
            err(w, f"parent {pid} is a {by_id[pid].get('level')}, want {want}")

    unique("units", [u.get("id") for u in units])
    unit_ids = {u.get("id") for u in units}
    for u in units:
        w = f"unit {u.get('id')}"
        text_ok(w + " name", u.get("name"))
        if u.get("kind") not in UNIT_KINDS:
            err(w, f"unknown kind {u.get('kind')!r}")
        if u.get("district_id") is not None and u["district_id"] not in by_id:
            err(w, f"district {u['district_id']} does not exist")
        if u.get("kind") == "sub_district_office" and by_id.get(u.get("district_id"), {}).get("level") != "street":
            err(w, "a sub-district office belongs to a street")
        if u.get("kind") == "community" and by_id.get(u.get("district_id"), {}).get("level") != "community":
            err(w, "a community committee belongs to a community")

    def coord_ok(w, ll):
        if not isinstance(ll, dict) or not num(ll.get("lat")) or not num(ll.get("lon")):
            err(w, "needs numeric lat and lon")
            return
        lat, lon = ll["lat"], ll["lon"]
        if not (LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LON_RANGE[0] <= lon <= LON_RANGE[1]):
            err(w, f"({lat}, {lon}) outside lat {LAT_RANGE} lon {LON_RANGE}")
        elif km(CENTRE, (lat, lon)) > MAX_KM:
            err(w, f"({lat}, {lon}) more than {MAX_KM} km from the centre")

    unique("points", [p.get("id") for p in points])
    types = {}
    for p in points:
        w = f"point {p.get('id')}"
        if not p.get("name"):
            err(w, "needs a name")
        t = p.get("type")
        if t not in POINT_TYPES:
            err(w, f"unknown type {t!r}")
        types[t] = types.get(t, 0) + 1
        coord_ok(w + " location", p.get("location"))
        line = p.get("line", [])
        for k, ll in enumerate(line):
            coord_ok(f"{w} line[{k}]", ll)
        if t in ("back_alley", "main_road") and not 3 <= len(line) <= 5:
            err(w, f"a {t} needs a line of 3-5 points, has {len(line)}")
        did = p.get("district_id")
        if did not in by_id:
            err(w, f"district {did!r} does not exist")
        elif by_id[did].get("level") not in ("community", "street"):
            err(w, f"district {did} should be a community or street")
        tu = p.get("territorial_unit_id")
        if tu is not None and tu not in unit_ids:
            err(w, f"territorial unit {tu} does not exist")
        for su in p.get("sector_unit_ids", []):
            if su not in unit_ids:
                err(w, f"sector unit {su} does not exist")
        if not isinstance(p.get("active", True), bool):
            err(w, "active must be a boolean")

    unique("users", [u.get("id") for u in users])
    roles = {}
    for u in users:
        w = f"user {u.get('id')}"
        r = u.get("role")
        if r not in ROLES:
            err(w, f"unknown role {r!r}")
        roles[r] = roles.get(r, 0) + 1
        uid = u.get("unit_id")
        if uid is not None and uid not in unit_ids:
            err(w, f"unit {uid} does not exist")
        if r == "unit_handler" and uid is None:
            err(w, "a unit handler needs a unit_id")
        if r == "admin" and (uid is not None or u.get("district_ids")):
            err(w, "an admin has no unit and no district restriction")
        for d in u.get("district_ids", []):
            if d not in by_id:
                err(w, f"district {d} does not exist")

    if isinstance(cal, dict):
        w = "calendar"
        if cal.get("utc_offset_minutes") != 480:
            err(w, "utc_offset_minutes should be 480 for China")
        try:
            ps = [(dt.time.fromisoformat(p["start"]), dt.time.fromisoformat(p["end"]))
                  for p in cal.get("periods", [])]
            if not ps:
                err(w, "no periods")
            if any(s >= e for s, e in ps) or any(a[1] > b[0] for a, b in zip(ps, ps[1:])):
                err(w, "periods must be sorted, non-empty and not overlapping")
        except (KeyError, TypeError, ValueError) as e:
            err(w, f"bad period: {e}")
        if not all(isinstance(d, int) and 1 <= d <= 7 for d in cal.get("working_weekdays", [])):
            err(w, "working_weekdays must be ISO weekday numbers 1-7")
        try:
            hol = [dt.date.fromisoformat(d) for d in cal.get("holidays", [])]
            extra = [dt.date.fromisoformat(d) for d in cal.get("extra_working_days", [])]
            if set(hol) & set(extra):
                err(w, "a date is both a holiday and a makeup working day")
            if len(set(hol)) != len(hol) or len(set(extra)) != len(extra):
                err(w, "duplicate dates")
            wk = set(cal.get("working_weekdays", []))
            for d in extra:
                if d.isoweekday() in wk:
                    err(w, f"makeup day {d} is already a working weekday")
        except (TypeError, ValueError) as e:
            err(w, f"bad date: {e}")
    return len(dists), len(units), types, roles, len(cal.get("holidays", [])) if isinstance(cal, dict) else 0


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    cats = load(os.path.join(root, "categories.json"))
    codes = check_categories(cats) if cats is not None else set()
    tpls = check_templates(os.path.join(root, "templates"), codes)
    nd, nu, types, roles, nh = check_demo(os.path.join(root, "demo"))
    if errors:
        for e in errors:
            print("ERROR", e)
        print(f"data check FAILED: {len(errors)} problem(s)")
        return 1
    items = sum(n for n, _ in tpls.values())
    print(f"data check OK: {len(codes)} categories, {len(tpls)} templates ({items} items), "
          f"{nd} districts, {nu} units, {sum(types.values())} points, "
          f"{sum(roles.values())} users, {nh} holidays")
    return 0


if __name__ == "__main__":
    sys.exit(main())
