//! What each node says: its two lines and its style tokens.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::graph::{ElementKind, InterfaceType};

use super::index::{GraphIndex, NsPlace};

/// Average glyph width of the 12 px UI font, for cutting labels to fit.
const CHAR_W: i32 = 7;
/// Same for the 10 px second line.
const SUB_CHAR_W: i32 = 6;

/// Cut `s` to what fits in `width` pixels of the first line, with an ellipsis.
pub fn fit(s: &str, width: i32) -> String {
    cut(s, ((width - 14) / CHAR_W).max(3) as usize)
}

/// Same for the smaller second line.
pub fn fit_sub(s: &str, width: i32) -> String {
    cut(s, ((width - 14) / SUB_CHAR_W).max(3) as usize)
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    }
}

fn first_and_more(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [first, rest @ ..] => format!("{first} +{}", rest.len()),
    }
}

/// The second line of an element.
pub fn sub_label(ix: &GraphIndex, id: &str) -> String {
    let Some(e) = ix.get(id) else {
        return String::new();
    };
    let a = &e.attrs;
    match e.kind {
        ElementKind::Container => container_sub(a),
        ElementKind::Interface => interface_sub(ix, id, a),
        ElementKind::Network => {
            let driver = a.get("driver").and_then(Value::as_str).unwrap_or("");
            let subnets = strings(a.get("subnets"));
            if subnets.is_empty() {
                format!("{driver} network")
            } else {
                format!("{driver} · {}", first_and_more(&subnets))
            }
        }
        ElementKind::Netns => {
            let role = a.get("role").and_then(Value::as_str).unwrap_or("namespace");
            let n = ix
                .kids(id)
                .iter()
                .filter(|k| ix.if_type(k) != InterfaceType::Loopback)
                .count();
            format!("{role} · {n} interfaces")
        }
        ElementKind::Service => {
            let mode = a.get("mode").and_then(Value::as_str).unwrap_or("");
            let tasks = ix.kids(id).len();
            format!("{mode} · {tasks} tasks")
        }
        ElementKind::Task => a
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        ElementKind::Remote => "vxlan peer (underlay)".to_owned(),
        ElementKind::Host => host_sub(a),
    }
}

/// A container's second line: its addresses, or its state when it has none.
fn container_sub(a: &BTreeMap<String, Value>) -> String {
    let ips = strings(a.get("ips"));
    if ips.is_empty() {
        a.get("state")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    } else {
        ips.join(", ")
    }
}

/// An interface's addresses that say something: link-local IPv6 (fe80::) is on every
/// interface and loopback's on every namespace.
fn telling_addresses(a: &BTreeMap<String, Value>) -> Vec<&str> {
    strings(a.get("addresses"))
        .into_iter()
        .filter(|s| {
            !s.starts_with("127.")
                && *s != "::1/128"
                && !s.to_ascii_lowercase().starts_with("fe80:")
        })
        .collect()
}

/// An interface's second line: its telling addresses, else its VNI, else its type and MTU.
fn interface_sub(ix: &GraphIndex, id: &str, a: &BTreeMap<String, Value>) -> String {
    let t = ix.if_type(id).as_str();
    let addrs = telling_addresses(a);
    let mut s = if !addrs.is_empty() {
        first_and_more(&addrs)
    } else if let Some(vni) = a.get("vni").and_then(Value::as_u64) {
        format!("vxlan · vni {vni}")
    } else {
        let mtu = a.get("mtu").and_then(Value::as_u64).unwrap_or(0);
        format!("{t} · mtu {mtu}")
    };
    if ix.is_down(id) {
        s = format!("DOWN · {s}");
    }
    s
}

/// A host's second line: its kernel and its engine's version.
fn host_sub(a: &BTreeMap<String, Value>) -> String {
    let kernel = a.get("kernel").and_then(Value::as_str).unwrap_or("");
    let engine = a.get("engine_version").and_then(Value::as_str);
    let api = a.get("engine_api").and_then(Value::as_str).unwrap_or("");
    match engine {
        Some(v) if !api.is_empty() => format!("kernel {kernel} · engine {v} (API {api})"),
        Some(v) => format!("kernel {kernel} · engine {v}"),
        None => format!("kernel {kernel} · no engine"),
    }
}

/// The header of an open namespace box.
pub fn netns_header(ix: &GraphIndex, id: &str) -> String {
    let Some(e) = ix.get(id) else {
        return String::new();
    };
    match ix.ns_place(id) {
        NsPlace::Host => "host namespace".to_owned(),
        NsPlace::Overlay => {
            // Name the network the overlay namespace is for, through the bridge that carries it.
            let nets: Vec<&str> = ix
                .kids(id)
                .iter()
                .flat_map(|k| ix.carried.get(k).into_iter().flatten())
                .filter_map(|n| ix.get(n).map(|e| e.label.as_str()))
                .collect();
            match nets.first() {
                Some(n) => format!("{} · overlay {n}", e.label),
                None => format!("{} · overlay", e.label),
            }
        }
        NsPlace::Sandbox => e.label.clone(),
    }
}

/// What an open namespace or a network says far out (see `SceneNode::card`).
pub fn card(ix: &GraphIndex, id: &str, compound: bool) -> String {
    match ix.get(id).map(|e| e.kind) {
        Some(ElementKind::Netns) if compound => netns_card(ix, id),
        Some(ElementKind::Network) => match ix.endpoints.get(id).copied().unwrap_or(0) {
            0 => "no endpoints".to_owned(),
            n => plural(n, "endpoint"),
        },
        _ => String::new(),
    }
}

/// `n thing`, or `n things`.
pub fn plural(n: usize, thing: &str) -> String {
    let s = if n == 1 {
        ""
    } else if thing.ends_with('s') {
        "es"
    } else {
        "s"
    };
    format!("{n} {thing}{s}")
}

/// A namespace's card: how many interfaces are down, what it holds (a sandbox: interfaces; the
/// host's or an overlay's: interfaces by type), its addresses and, when shared, its containers.
fn netns_card(ix: &GraphIndex, id: &str) -> String {
    let ifaces: Vec<&str> = ix
        .kids(id)
        .iter()
        .copied()
        .filter(|i| ix.if_type(i) != InterfaceType::Loopback)
        .collect();
    let mut parts = Vec::new();
    let down = ifaces.iter().filter(|i| ix.is_down(i)).count();
    if down > 0 {
        parts.push(format!("{down} down"));
    }
    if ix.ns_place(id) == NsPlace::Sandbox {
        parts.push(plural(ifaces.len(), "interface"));
    } else {
        let mut by_type: BTreeMap<u8, (usize, &str)> = BTreeMap::new();
        for i in &ifaces {
            let (rank, what) = match ix.if_type(i) {
                InterfaceType::Veth => (0, "veth"),
                InterfaceType::Bridge => (1, "bridge"),
                InterfaceType::Vxlan => (2, "vxlan"),
                InterfaceType::Physical => (3, "uplink"),
                _ => (4, "other"),
            };
            by_type.entry(rank).or_insert((0, what)).0 += 1;
        }
        parts.extend(by_type.values().map(|(n, what)| plural(*n, what)));
    }
    let addrs: usize = ifaces
        .iter()
        .filter_map(|i| ix.get(i))
        .map(|e| telling_addresses(&e.attrs).len())
        .sum();
    if addrs > 0 {
        parts.push(plural(addrs, "address"));
    }
    let ctrs = ix.sandbox_ctrs.get(id).map_or(0, Vec::len);
    if ctrs > 1 {
        parts.push(plural(ctrs, "container"));
    }
    parts.join(" · ")
}

/// Summary lines of a folded host: what is inside, by kind.
pub fn host_summary(counts: &BTreeMap<&'static str, usize>) -> String {
    counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Style tokens besides the kind.
pub fn style(ix: &GraphIndex, id: &str) -> String {
    let Some(e) = ix.get(id) else {
        return String::new();
    };
    match e.kind {
        ElementKind::Interface => {
            let mut s = format!("t-{}", ix.if_type(id).as_str());
            if ix.is_down(id) {
                s.push_str(" down");
            }
            s
        }
        ElementKind::Netns => match ix.ns_place(id) {
            NsPlace::Host => "r-host".into(),
            NsPlace::Overlay => "r-overlay".into(),
            NsPlace::Sandbox => match e.attrs.get("role").and_then(Value::as_str) {
                Some("ingress-sandbox") | Some("load-balancer") => "r-mesh".into(),
                _ => "r-sandbox".into(),
            },
        },
        ElementKind::Container => match e.attrs.get("state").and_then(Value::as_str) {
            Some("running") | None => String::new(),
            Some(_) => "stopped".into(),
        },
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_long_labels_with_an_ellipsis_only_when_needed() {
        assert_eq!(fit("eth0", 150), "eth0");
        let long = "svc-007.3.abcdefabcdefabcdefabcdefa";
        let f = fit(long, 150);
        assert!(f.ends_with('…') && f.chars().count() < long.chars().count());
        // Multi-byte text is cut on character boundaries.
        assert!(fit(&"é".repeat(100), 100).ends_with('…'));
    }
}

#[cfg(test)]
mod host_tests {
    use super::*;
    use crate::graph::{Element, Graph};
    use serde_json::json;

    #[test]
    fn a_host_says_its_engine_and_api_version() {
        let host = |attrs: Vec<(&str, &str)>| Element {
            id: "host:a".into(),
            kind: ElementKind::Host,
            label: "a".into(),
            parent: None,
            attrs: attrs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), json!(v)))
                .collect(),
        };
        let g = Graph {
            elements: vec![host(vec![
                ("kernel", "6.1"),
                ("engine_version", "29.0.0"),
                ("engine_api", "1.52"),
            ])],
            ..Graph::default()
        };
        let ix = GraphIndex::new(&g);
        assert_eq!(
            sub_label(&ix, "host:a"),
            "kernel 6.1 · engine 29.0.0 (API 1.52)"
        );
        let bare = Graph {
            elements: vec![host(vec![("kernel", "6.1")])],
            ..Graph::default()
        };
        assert_eq!(
            sub_label(&GraphIndex::new(&bare), "host:a"),
            "kernel 6.1 · no engine"
        );
    }
}
