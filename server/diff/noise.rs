//! What is not a difference: facts that change with every collection, and learned state.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::graph::ElementKind;

/// Attributes never compared, per element kind (they change with every collection, or say only
/// how the server fetched the node).
const IGNORED_ATTRS: &[(ElementKind, &str)] = &[
    (ElementKind::Host, "taken_at"),
    (ElementKind::Host, "node_source"),
    (ElementKind::Host, "age_s"),
    (ElementKind::Interface, "stats"),
];

/// What the diff leaves out, in words (for the module doc, the JSON and the page).
pub const IGNORED: &[&str] = &[
    "interface counters (stats: bytes, packets, drops, errors)",
    "collection times and durations (a host's taken_at, duration_ms)",
    "how a node was fetched (node_source, age_s)",
    "IPVS connection counters (active_conns, inactive_conns)",
    "learned (dynamic) neighbour and FDB entries, and multicast ones the kernel makes from group membership",
    "finding messages (a finding is compared by id and severity)",
    "the order of lists (addresses, routes, endpoints, ...), except firewall rules within a chain",
];

/// An element's attributes with the noise taken out, ready to compare.
pub fn clean(kind: ElementKind, attrs: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (k, v) in attrs {
        if IGNORED_ATTRS
            .iter()
            .any(|(ik, name)| *ik == kind && name == k)
        {
            continue;
        }
        let v = match (kind, k.as_str()) {
            (ElementKind::Netns, "neighbours") => keep_strings(v, static_neighbour),
            (ElementKind::Interface, "fdb") => keep_strings(v, static_fdb),
            (ElementKind::Netns, "ipvs") => without_keys(v, &["active_conns", "inactive_conns"]),
            _ => v.clone(),
        };
        if !is_empty(&v) {
            out.insert(k.clone(), v);
        }
    }
    out
}

/// Edge attributes, cleaned the same way (nothing in them is noise today, but empties go).
pub fn clean_edge(attrs: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    attrs
        .iter()
        .filter(|(_, v)| !is_empty(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Absent, null, an empty list or an empty object all mean "none".
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn keep_strings(v: &Value, keep: fn(&str) -> bool) -> Value {
    match v {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter(|x| x.as_str().is_none_or(keep))
                .cloned()
                .collect(),
        ),
        other => other.clone(),
    }
}

fn without_keys(v: &Value, keys: &[&str]) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| !keys.contains(&k.as_str()))
                .map(|(k, x)| (k.clone(), without_keys(x, keys)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| without_keys(x, keys)).collect()),
        other => other.clone(),
    }
}

/// NUD states that the kernel or an agent set, not traffic: they stay until someone removes them.
fn is_static_state(token: &str) -> bool {
    token.split(',').any(|s| matches!(s, "permanent" | "noarp"))
}

/// A neighbour line as the graph writes it: `<ip> lladdr <mac> dev <if> <states>`.
/// Kept when static and not a multicast address (those follow group membership).
fn static_neighbour(line: &str) -> bool {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let (Some(addr), Some(states)) = (tokens.first(), tokens.get(5)) else {
        // Not in the shape the graph writes: compare it as it is.
        return tokens.len() < 5;
    };
    is_static_state(states) && !multicast_ip(addr)
}

/// An FDB line as the graph writes it: `<mac> [vlan v] [dst d] [vni n] <flags and states>`.
/// Kept when static (Docker's VXLAN entries, a port's own MAC) and not a multicast MAC.
fn static_fdb(line: &str) -> bool {
    let mut tokens = line.split_whitespace();
    let Some(mac) = tokens.next() else {
        return true;
    };
    tokens.any(is_static_state) && !multicast_mac(mac)
}

fn multicast_ip(addr: &str) -> bool {
    match addr.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_multicast(),
        Err(_) => false,
    }
}

/// The group bit: the lowest bit of the first octet (33:33:…, 01:00:5e:…).
fn multicast_mac(mac: &str) -> bool {
    mac.get(..2)
        .and_then(|o| u8::from_str_radix(o, 16).ok())
        .is_some_and(|o| o & 1 == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn learned_and_multicast_entries_are_dropped_static_ones_kept() {
        assert!(static_neighbour(
            "10.0.0.2 lladdr 02:42:0a:00:00:02 dev vxlan0 permanent"
        ));
        assert!(!static_neighbour(
            "192.0.2.1 lladdr 02:fc:00:00:00:05 dev eth0 stale"
        ));
        assert!(!static_neighbour("fd00::1 lladdr - dev eth0 failed"));
        assert!(!static_neighbour(
            "ff02::16 lladdr 33:33:00:00:00:16 dev veth1 noarp"
        ));
        assert!(static_fdb(
            "02:42:0a:00:00:03 dst 198.18.0.3 self permanent"
        ));
        assert!(static_fdb("b2:c1:cf:c9:bd:56 permanent"));
        assert!(!static_fdb("02:42:0a:00:00:09 master reachable"));
        assert!(!static_fdb("33:33:00:00:00:01 self permanent"));
        assert!(!static_fdb("01:00:5e:00:00:01 self permanent"));
    }

    #[test]
    fn counters_and_empties_go() {
        let attrs: BTreeMap<String, Value> = [
            ("stats".to_string(), json!({"rx_bytes": 1})),
            ("mtu".to_string(), json!(1500)),
            ("addresses".to_string(), json!([])),
            ("alias".to_string(), Value::Null),
        ]
        .into();
        let c = clean(ElementKind::Interface, &attrs);
        assert_eq!(c.keys().collect::<Vec<_>>(), vec!["mtu"]);
        let ipvs: BTreeMap<String, Value> = [(
            "ipvs".to_string(),
            json!([{"fwmark": 256, "destinations": [{"address": "10.0.0.3", "active_conns": 4}]}]),
        )]
        .into();
        let c = clean(ElementKind::Netns, &ipvs);
        assert_eq!(
            c["ipvs"],
            json!([{"fwmark": 256, "destinations": [{"address": "10.0.0.3"}]}])
        );
    }
}
