//! Lenient reads from the engine's JSON: a missing or odd field gives its empty value, never an error.
//!
//! Paths are JSON pointers (`/NetworkSettings/SandboxKey`). Only the fields a
//! decoder names are read, so env, command lines and other labels never leave.

use std::collections::BTreeMap;

use serde_json::Value;

/// The string at `ptr`; numbers and booleans as text; otherwise empty.
pub(super) fn text(v: &Value, ptr: &str) -> String {
    match v.pointer(ptr) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// The integer at `ptr`, also when the engine sent it as a string.
pub(super) fn int(v: &Value, ptr: &str) -> Option<i64> {
    match v.pointer(ptr)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The non-negative integer at `ptr`.
pub(super) fn uint(v: &Value, ptr: &str) -> Option<u64> {
    int(v, ptr).and_then(|i| u64::try_from(i).ok())
}

/// The boolean at `ptr`, false when absent.
pub(super) fn flag(v: &Value, ptr: &str) -> bool {
    matches!(v.pointer(ptr), Some(Value::Bool(true)))
}

/// The array at `ptr`, empty when absent or not an array.
pub(super) fn array<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    match v.pointer(ptr) {
        Some(Value::Array(items)) => items,
        _ => &[],
    }
}

/// The strings in the array at `ptr` (other items skipped).
pub(super) fn strings(v: &Value, ptr: &str) -> Vec<String> {
    array(v, ptr)
        .iter()
        .filter_map(|item| item.as_str().map(str::to_owned))
        .collect()
}

/// The entries of the object at `ptr`, in key order; none when absent or not an object.
pub(super) fn entries<'a>(v: &'a Value, ptr: &str) -> Vec<(&'a str, &'a Value)> {
    match v.pointer(ptr) {
        Some(Value::Object(map)) => {
            let mut out: Vec<_> = map.iter().map(|(k, v)| (k.as_str(), v)).collect();
            out.sort_by(|a, b| a.0.cmp(b.0));
            out
        }
        _ => Vec::new(),
    }
}

/// The string-valued entries of the object at `ptr`, keeping those whose key passes `keep`.
pub(super) fn string_map(
    v: &Value,
    ptr: &str,
    keep: impl Fn(&str) -> bool,
) -> BTreeMap<String, String> {
    entries(v, ptr)
        .into_iter()
        .filter(|(k, _)| keep(k))
        .filter_map(|(k, v)| v.as_str().map(|s| (k.to_owned(), s.to_owned())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn odd_values_read_as_empty() {
        let v = json!({"A": {"B": "x", "N": 7, "S": "8", "Null": null, "L": [1, "y"], "M": {"k": "v", "z": 1}}});
        assert_eq!(text(&v, "/A/B"), "x");
        assert_eq!(text(&v, "/A/N"), "7");
        assert_eq!(text(&v, "/A/Null"), "");
        assert_eq!(text(&v, "/A/Missing"), "");
        assert_eq!(int(&v, "/A/S"), Some(8));
        assert_eq!(int(&v, "/A/B"), None);
        assert_eq!(uint(&v, "/A/N"), Some(7));
        assert!(!flag(&v, "/A/N"));
        assert_eq!(strings(&v, "/A/L"), vec!["y".to_owned()]);
        assert!(array(&v, "/A/B").is_empty());
        let m = string_map(&v, "/A/M", |_| true);
        assert_eq!(m.len(), 1);
        assert_eq!(m["k"], "v");
        assert!(entries(&v, "/A/L").is_empty());
    }
}
