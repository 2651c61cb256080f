//! What the fuzz targets share: small synthetic snapshots, a structured mutation of them by the
//! fuzzer's bytes, and the whole snapshot → graph → layout → paths / diff / compare pipeline.

pub mod targets;

use std::sync::OnceLock;

use dockmap::graph::NodeNames;
use dockmap::layout::View;
use dockmap::path::{Question, Question::Between, Question::Port};
use dockmap::snapshot::{ClusterSnapshot, NodeSnapshot};
use dockmap::synthetic::{snapshots, SyntheticOptions};
use serde_json::Value;

/// Two hosts, a dozen containers, the hostile network: small enough for hundreds of runs a second.
pub fn small() -> &'static [NodeSnapshot] {
    static SNAPS: OnceLock<Vec<NodeSnapshot>> = OnceLock::new();
    SNAPS.get_or_init(|| {
        snapshots(&SyntheticOptions {
            hosts: 2,
            containers: 12,
            hostile_names: true,
        })
    })
}

fn small_json() -> &'static Value {
    static JSON: OnceLock<Value> = OnceLock::new();
    JSON.get_or_init(|| serde_json::to_value(small()).expect("synthetic snapshots serialize"))
}

/// Values a mutation can put in (names and addresses that make joins collide or break).
const WORDS: &[&str] = &[
    "",
    "host",
    "eth0",
    "br0",
    "docker0",
    "veth0",
    "vxlan0",
    "ingress_sbox",
    "0.0.0.0/0",
    "198.18.0.2",
    "198.18.0.0/15",
    "::",
    "2001:2::1",
    "bridge",
    "overlay",
    "veth",
    "vxlan",
    "active",
    "running",
    "ingress",
    "dockmap.node/1",
    "-A FORWARD -j DOCKER",
    "-A DOCKER -j DOCKER",
    "x<img src=x>",
    "ctr:a/b",
    "if:node-01/host/eth0",
    "\u{0}",
    "\u{202e}",
];

/// Count of JSON nodes under `v` (itself included).
fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

/// The `k`-th node of `v` in pre-order.
fn nth<'v>(v: &'v mut Value, k: &mut usize) -> Option<&'v mut Value> {
    if *k == 0 {
        return Some(v);
    }
    *k -= 1;
    match v {
        Value::Array(a) => a.iter_mut().find_map(|x| nth(x, k)),
        Value::Object(o) => o.values_mut().find_map(|x| nth(x, k)),
        _ => None,
    }
}

/// Apply the mutations `bytes` spell (4 bytes each: where, what, with) to `v`.
fn mutate(v: &mut Value, bytes: &[u8]) {
    for op in bytes.chunks_exact(4).take(16) {
        let total = count(v);
        let mut k = usize::from(u16::from_le_bytes([op[0], op[1]])) * total / 65536;
        let Some(target) = nth(v, &mut k) else {
            continue;
        };
        let with = op[3];
        match op[2] % 10 {
            0 => *target = Value::String(WORDS[usize::from(with) % WORDS.len()].to_owned()),
            1 => *target = Value::from(i64::from(with as i8) * 1_000_003),
            2 => *target = Value::from(u64::from(with)),
            3 => *target = Value::Null,
            4 => *target = Value::Bool(with & 1 == 1),
            5 => {
                if let Value::Array(a) = target {
                    if !a.is_empty() {
                        let i = usize::from(with) % a.len();
                        a.remove(i);
                    }
                }
            }
            6 => {
                if let Value::Array(a) = target {
                    if !a.is_empty() {
                        let i = usize::from(with) % a.len();
                        let dup = a[i].clone();
                        a.push(dup);
                    }
                }
            }
            7 => {
                if let Value::Object(o) = target {
                    if !o.is_empty() {
                        let key = o.keys().nth(usize::from(with) % o.len()).cloned();
                        if let Some(key) = key {
                            o.remove(&key);
                        }
                    }
                }
            }
            8 => {
                if let Value::String(s) = target {
                    s.push_str(WORDS[usize::from(with) % WORDS.len()]);
                }
            }
            _ => {
                if let Value::Number(n) = target {
                    let x = n.as_i64().unwrap_or(0);
                    *target = Value::from(x.wrapping_add(i64::from(with as i8)));
                }
            }
        }
    }
}

/// The small snapshots with the mutations `bytes` spell, if they still fit the model.
pub fn mutated(bytes: &[u8]) -> Option<Vec<NodeSnapshot>> {
    let mut v = small_json().clone();
    mutate(&mut v, bytes);
    serde_json::from_value(v).ok()
}

/// Everything the server and the CLI derive from snapshots: the graph, the default drawing,
/// published ports and a few paths, a diff against `before` and a comparison of two nodes.
pub fn pipeline(mut snaps: Vec<NodeSnapshot>, before: Option<&[NodeSnapshot]>) {
    let g = dockmap::graph::derive(&mut snaps);
    let layout = dockmap::layout::layout(&g, &View::default());
    let _ = dockmap::render::svg(&layout.scene);
    let ports = dockmap::path::published_ports(&snaps, &g);
    let mut questions: Vec<Question> = ports
        .iter()
        .take(2)
        .map(|p| Port {
            port: p.port,
            protocol: p.protocol.clone(),
            node: None,
        })
        .collect();
    let names: Vec<String> = snaps
        .iter()
        .flat_map(|s| s.engine.iter().flat_map(|e| &e.containers))
        .map(|c| c.name.clone())
        .take(2)
        .collect();
    if let [a, b] = names.as_slice() {
        questions.push(Between {
            from: a.clone(),
            to: b.clone(),
        });
        questions.push(Between {
            from: a.clone(),
            to: "internet".into(),
        });
    }
    for q in &questions {
        let _ = dockmap::path::trace(q, &snaps, &g);
    }
    if let Some(before) = before {
        let a = ClusterSnapshot::of_nodes(before.to_vec(), "fuzz");
        let b = ClusterSnapshot::of_nodes(snaps.clone(), "fuzz");
        let _ = dockmap::diff::diff_clusters(a, b);
    }
    let refs: Vec<&NodeSnapshot> = snaps.iter().collect();
    let labels: Vec<String> = NodeNames::new(&refs)
        .all()
        .iter()
        .map(|n| n.label.clone())
        .collect();
    if let (Some(l), Some(r)) = (labels.first(), labels.last()) {
        if let (Ok(left), Ok(right)) = (
            dockmap::compare::side(&snaps, l, "left"),
            dockmap::compare::side(&snaps, r, "right"),
        ) {
            let c = dockmap::compare::compare(left, right);
            let _ = c.report();
        }
    }
}
