//! Attribute maps compared: scalars old → new, lists as sets of items, objects key by key.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::AttrChange;

/// The attributes that differ between two (cleaned) maps, by name.
pub fn compare(old: &BTreeMap<String, Value>, new: &BTreeMap<String, Value>) -> Vec<AttrChange> {
    let mut out = Vec::new();
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        value(name.clone(), old.get(name), new.get(name), &mut out);
    }
    out
}

/// Every attribute of one side as a change from (or to) nothing: an element added or removed.
pub fn whole(attrs: &BTreeMap<String, Value>, added: bool) -> Vec<AttrChange> {
    let none = BTreeMap::new();
    if added {
        compare(&none, attrs)
    } else {
        compare(attrs, &none)
    }
}

fn value(name: String, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<AttrChange>) {
    match (old, new) {
        (None, None) => {}
        (Some(Value::Object(a)), Some(Value::Object(b))) => object(&name, Some(a), Some(b), out),
        (Some(Value::Object(a)), None) => object(&name, Some(a), None, out),
        (None, Some(Value::Object(b))) => object(&name, None, Some(b), out),
        (Some(Value::Array(a)), Some(Value::Array(b))) => list(name, a, b, out),
        (Some(Value::Array(a)), None) => list(name, a, &[], out),
        (None, Some(Value::Array(b))) => list(name, &[], b, out),
        (a, b) if a == b => {}
        (a, b) => out.push(AttrChange {
            name,
            old: a.cloned(),
            new: b.cloned(),
            added: Vec::new(),
            removed: Vec::new(),
        }),
    }
}

fn object(
    name: &str,
    a: Option<&serde_json::Map<String, Value>>,
    b: Option<&serde_json::Map<String, Value>>,
    out: &mut Vec<AttrChange>,
) {
    let mut keys: Vec<&String> = a
        .into_iter()
        .flat_map(|m| m.keys())
        .chain(b.into_iter().flat_map(|m| m.keys()))
        .collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let (x, y) = (a.and_then(|m| m.get(k)), b.and_then(|m| m.get(k)));
        let x = x.filter(|v| !v.is_null());
        let y = y.filter(|v| !v.is_null());
        value(format!("{name}.{k}"), x, y, out);
    }
}

/// Lists compared as multisets: the order of a list never makes a difference.
fn list(name: String, a: &[Value], b: &[Value], out: &mut Vec<AttrChange>) {
    let mut count: BTreeMap<String, (isize, &Value)> = BTreeMap::new();
    for v in a {
        count.entry(canonical(v)).or_insert((0, v)).0 -= 1;
    }
    for v in b {
        count.entry(canonical(v)).or_insert((0, v)).0 += 1;
    }
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for (n, v) in count.into_values() {
        for _ in 0..n.unsigned_abs() {
            if n > 0 {
                added.push(v.clone());
            } else {
                removed.push(v.clone());
            }
        }
    }
    if !added.is_empty() || !removed.is_empty() {
        out.push(AttrChange {
            name,
            old: None,
            new: None,
            added,
            removed,
        });
    }
}

/// One text per value, the same for equal values (object keys are kept sorted by serde_json).
fn canonical(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn scalars_lists_and_objects() {
        let a = map(
            json!({"mtu": 1500, "addresses": ["10.0.0.1/24", "10.0.0.2/24"], "vxlan": {"vni": 4096, "learning": false}}),
        );
        let b = map(
            json!({"mtu": 1450, "addresses": ["10.0.0.3/24", "10.0.0.1/24"], "vxlan": {"vni": 4096, "learning": true}}),
        );
        let c = compare(&a, &b);
        let names: Vec<&str> = c.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, vec!["addresses", "mtu", "vxlan.learning"]);
        assert_eq!(c[0].added, vec![json!("10.0.0.3/24")]);
        assert_eq!(c[0].removed, vec![json!("10.0.0.2/24")]);
        assert_eq!(
            (c[1].old.clone(), c[1].new.clone()),
            (Some(json!(1500)), Some(json!(1450)))
        );
    }

    #[test]
    fn list_order_and_duplicates() {
        let a = map(json!({"l": ["x", "y", "x"]}));
        let b = map(json!({"l": ["y", "x", "x"]}));
        assert!(compare(&a, &b).is_empty());
        let b = map(json!({"l": ["y", "x"]}));
        assert_eq!(compare(&a, &b)[0].removed, vec![json!("x")]);
    }
}
