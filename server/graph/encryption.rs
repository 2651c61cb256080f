//! Encrypted overlays (`--opt encrypted`): the IPsec SAs behind each tunnel direction, the
//! iptables/nftables rules that guard an encrypted VNI, and what is missing between two nodes.
//!
//! Facts as moby programs them (`daemon/libnetwork/drivers/overlay/encryption.go`): per peer,
//! ESP SAs in transport mode with reqid 0xD0C4E3 in the host namespace, an out policy for UDP to
//! the VXLAN port under mark 0xD0C4E3, a mangle OUTPUT rule marking the VNI's VXLAN, and a filter
//! INPUT rule dropping the VNI's VXLAN that came in without IPsec (`-m policy --dir in --pol none`,
//! the VNI matched by `-m u32` (20.10) or `-m bpf` (23+)); 29.6+ with nftables puts the same in
//! table `docker-overlay` (set `encrypted-vnis`, chains `enc-out`, `enc-in`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::names;
use crate::snapshot::{Firewall, NodeSnapshot, Rule, XfrmSa};

use super::builder::Builder;
use super::ids;
use super::model::{EdgeKind, Severity};

pub use crate::names::{IPSEC_MARK as DOCKER_IPSEC_MARK, OPTION_ENCRYPTED as ENCRYPTED_OPTION};

/// An SPI as `ip xfrm` prints it.
pub fn spi_text(spi: u32) -> String {
    format!("0x{spi:08x}")
}

/// VNI → network name of every encrypted overlay the snapshots' engines report.
pub fn encrypted_vnis(snaps: &[&NodeSnapshot]) -> BTreeMap<u32, String> {
    let mut out = BTreeMap::new();
    for e in snaps.iter().filter_map(|s| s.engine.as_ref()) {
        for n in &e.networks {
            if n.driver != names::DRIVER_OVERLAY || !n.options.contains_key(ENCRYPTED_OPTION) {
                continue;
            }
            for vni in names::vxlan_ids(&n.options) {
                out.insert(vni, n.name.clone());
            }
        }
    }
    out
}

/// The host namespace's ESP SAs of a node from `src` to `dst`; `None` when xfrm was not read.
pub fn esp_sas<'a>(snap: &'a NodeSnapshot, src: &str, dst: &str) -> Option<Vec<&'a XfrmSa>> {
    let x = snap.host_namespace()?.xfrm.as_ref()?;
    Some(
        x.states
            .iter()
            .filter(|s| s.proto == "esp" && s.src == src && s.dst == dst)
            .collect(),
    )
}

/// The SA a node sends with to `dst`: the SPI its out policy's template names, else its only
/// (or first) outbound SA. Docker keeps older inbound SAs during a key rotation; outbound it
/// uses the policy's.
pub fn outbound_sa<'a>(snap: &'a NodeSnapshot, src: &str, dst: &str) -> Option<&'a XfrmSa> {
    let sas = esp_sas(snap, src, dst)?;
    let x = snap.host_namespace()?.xfrm.as_ref()?;
    let chosen = x
        .policies
        .iter()
        .filter(|p| p.dir == "out")
        .flat_map(|p| &p.templates)
        .find(|t| t.proto == "esp" && t.src == src && t.dst == dst && t.spi != 0)
        .map(|t| t.spi);
    match chosen {
        Some(spi) => sas.iter().copied().find(|s| s.spi == spi),
        None => sas.first().copied(),
    }
}

/// Does an iptables rule match VXLAN of `vni` the way moby writes it (u32 or bpf)?
fn matches_vni(r: &Rule, vni: u32) -> bool {
    let shifted = u64::from(vni) << 8;
    r.matches.iter().any(|m| match m.name.as_str() {
        "u32" => m.args.iter().any(|a| {
            let a = a.trim_matches('"').to_ascii_lowercase();
            a.ends_with(&format!("=0x{shifted:x}")) || a.ends_with(&format!("={shifted}"))
        }),
        // `--bytecode "7,48 0 0 4294963200,7 0 0 0,32 0 0 4,116 0 0 8,21 1 0 4097,..."`:
        // the jeq (opcode 21) compares the VNI.
        "bpf" => m.args.iter().any(|a| {
            a.trim_matches('"').split(',').any(|ins| {
                let f: Vec<&str> = ins.split_whitespace().collect();
                f.len() == 4 && f[0] == "21" && f[3] == vni.to_string()
            })
        }),
        _ => false,
    })
}

fn has_arg_pair(r: &Rule, flag: &str, value: &str) -> bool {
    r.matches
        .iter()
        .any(|m| m.args.windows(2).any(|w| w[0] == flag && w[1] == value))
}

/// The rule (as iptables-save printed it) that drops `vni`'s VXLAN arriving without IPsec.
pub fn guard_rule(fw: &Firewall, vni: u32) -> Option<String> {
    for t in fw
        .ipv4
        .iter()
        .chain(&fw.ipv6)
        .filter(|t| t.name == "filter")
    {
        for r in t.rules.iter().filter(|r| r.chain == "INPUT") {
            let drops = r.target.as_ref().is_some_and(|t| t.name == "DROP");
            if drops && has_arg_pair(r, "--pol", "none") && matches_vni(r, vni) {
                return Some(r.text.clone());
            }
        }
    }
    nft_encrypted_vni(fw, vni, "enc-in", "drop")
}

/// The rule that marks `vni`'s outgoing VXLAN for the IPsec policy.
pub fn mark_rule(fw: &Firewall, vni: u32) -> Option<String> {
    for t in fw
        .ipv4
        .iter()
        .chain(&fw.ipv6)
        .filter(|t| t.name == "mangle")
    {
        for r in t.rules.iter().filter(|r| r.chain == "OUTPUT") {
            let marks = r.target.as_ref().is_some_and(|t| t.name == "MARK");
            if marks && matches_vni(r, vni) {
                return Some(r.text.clone());
            }
        }
    }
    nft_encrypted_vni(fw, vni, "enc-out", "mangle")
}

/// 29.6+ nftables: `vni` in `docker-overlay`'s `encrypted-vnis` set, and a rule of `chain` whose
/// expression holds `verb` (`drop`, or `mangle` for the mark).
fn nft_encrypted_vni(fw: &Firewall, vni: u32, chain: &str, verb: &str) -> Option<String> {
    let items = fw.nftables.as_ref()?.get("nftables")?.as_array()?;
    let in_set = items.iter().filter_map(|i| i.get("set")).any(|s| {
        s.get("table").and_then(Value::as_str) == Some("docker-overlay")
            && s.get("name").and_then(Value::as_str) == Some("encrypted-vnis")
            && s.get("elem").and_then(Value::as_array).is_some_and(|e| {
                e.iter().any(|v| {
                    v.as_u64() == Some(u64::from(vni))
                        || v.as_str()
                            .and_then(|s| u32::from_str_radix(s.trim_start_matches("0x"), 16).ok())
                            == Some(vni)
                })
            })
    });
    if !in_set {
        return None;
    }
    items.iter().filter_map(|i| i.get("rule")).find_map(|r| {
        let ours = r.get("table").and_then(Value::as_str) == Some("docker-overlay")
            && r.get("chain").and_then(Value::as_str) == Some(chain);
        let expr = r.get("expr").map(Value::to_string).unwrap_or_default();
        (ours && expr.contains(&format!("\"{verb}\"")))
            .then(|| format!("table docker-overlay chain {chain} (encrypted-vnis holds {vni})"))
    })
}

/// One node as the encryption checks need it.
struct Side<'a> {
    snap: &'a NodeSnapshot,
    key: String,
    label: String,
    addr: String,
}

/// An FDB edge of an encrypted VNI: (edge id, VNI, underlay destination, the local node's key).
struct Tunnel {
    edge_id: String,
    vni: u32,
    dst: String,
    key: String,
}

/// Mark encrypted tunnels and add the findings; runs after the FDB edges point at nodes.
pub(super) fn encryption(b: &mut Builder, snaps: &[&NodeSnapshot]) {
    let vnis = encrypted_vnis(snaps);
    if vnis.is_empty() {
        return;
    }
    let sides: Vec<Side> = snaps
        .iter()
        .map(|s| Side {
            snap: s,
            key: b.names.key(s).to_owned(),
            label: b.names.label(s).to_owned(),
            addr: s
                .engine
                .as_ref()
                .map(|e| e.swarm.node_addr.clone())
                .unwrap_or_default(),
        })
        .collect();
    let tunnels = encrypted_tunnels(b, &vnis);
    let without_sa = nodes_without_sa(b, &sides, &tunnels, &vnis);
    for t in &tunnels {
        check_tunnel(b, &sides, t, &vnis[&t.vni], &without_sa);
    }
    guards(b, &sides, &vnis);
}

fn side_by_key<'s, 'a>(sides: &'s [Side<'a>], key: &str) -> Option<&'s Side<'a>> {
    sides.iter().find(|s| s.key == key)
}

/// The FDB edges whose VNI is an encrypted overlay's.
fn encrypted_tunnels(b: &Builder, vnis: &BTreeMap<u32, String>) -> Vec<Tunnel> {
    b.edges
        .values()
        .filter(|e| e.kind == EdgeKind::Fdb)
        .filter_map(|e| {
            let vni = u32::try_from(e.attrs.get("vni")?.as_u64()?).ok()?;
            let dst = e.attrs.get("dst")?.as_str()?.to_owned();
            let key = e.source.strip_prefix("if:")?.split('/').next()?.to_owned();
            vnis.contains_key(&vni).then(|| Tunnel {
                edge_id: e.id.clone(),
                vni,
                dst,
                key,
            })
        })
        .collect()
}

/// Nodes that carry an encrypted VNI to a peer, and hold no SA of Docker's at all: one finding
/// per node; returns them with the VNIs.
fn nodes_without_sa(
    b: &mut Builder,
    sides: &[Side],
    tunnels: &[Tunnel],
    vnis: &BTreeMap<u32, String>,
) -> BTreeSet<(String, u32)> {
    let mut without_sa: BTreeSet<(String, u32)> = BTreeSet::new();
    for t in tunnels {
        let Some(local) = side_by_key(sides, &t.key) else {
            continue;
        };
        let Some(x) = local.snap.host_namespace().and_then(|n| n.xfrm.as_ref()) else {
            continue;
        };
        if !x.states.iter().any(|s| s.proto == "esp") {
            without_sa.insert((t.key.clone(), t.vni));
        }
    }
    let mut said_no_sa: BTreeSet<String> = BTreeSet::new();
    for (key, vni) in &without_sa {
        if !said_no_sa.insert(key.clone()) {
            continue;
        }
        let Some(local) = side_by_key(sides, key) else {
            continue;
        };
        let net = &vnis[vni];
        b.finding(
            "ipsec-no-sa",
            Severity::Error,
            format!(
                "{} carries encrypted overlay {net} (VNI {vni}) to other nodes but holds no IPsec SA: dockerd programs none when the kernel lacks ESP (CONFIG_INET_ESP) and only logs it; the VNI's drop rule on the peers then discards this node's VXLAN, so {net} does not work across nodes",
                local.label
            ),
            vec![ids::host(key), ids::network("", "swarm", net)],
        );
    }
    without_sa
}

/// Mark one tunnel encrypted with its SPIs, then say which direction has no SA, or an SPI its
/// peer does not hold.
fn check_tunnel(
    b: &mut Builder,
    sides: &[Side],
    t: &Tunnel,
    net: &str,
    without_sa: &BTreeSet<(String, u32)>,
) {
    let Some(local) = side_by_key(sides, &t.key) else {
        return;
    };
    let dst = &t.dst;
    let mut attrs: BTreeMap<String, Value> = BTreeMap::new();
    attrs.insert("encrypted".into(), json!(true));
    attrs.insert("encrypted_network".into(), json!(net));
    let out = esp_sas(local.snap, &local.addr, dst);
    let inbound = esp_sas(local.snap, dst, &local.addr);
    let remote = sides.iter().find(|s| !s.addr.is_empty() && s.addr == *dst);
    let remote_label = remote.map_or(dst.clone(), |r| r.label.clone());
    match (&out, &inbound) {
        (Some(out), Some(inbound)) => {
            let spis = |v: &[&XfrmSa]| v.iter().map(|s| spi_text(s.spi)).collect::<Vec<_>>();
            attrs.insert("spi_out".into(), json!(spis(out)));
            attrs.insert("spi_in".into(), json!(spis(inbound)));
            if let Some(sa) = outbound_sa(local.snap, &local.addr, dst) {
                attrs.insert(
                    "sa_out".into(),
                    json!(format!("{} {}→{}", spi_text(sa.spi), sa.src, sa.dst)),
                );
            }
        }
        _ => {
            attrs.insert("ipsec".into(), json!("not read"));
        }
    }
    let ends = match b.edges.get_mut(&t.edge_id) {
        Some(e) => {
            e.attrs.extend(attrs);
            vec![e.source.clone(), e.target.clone()]
        }
        None => return,
    };
    let (Some(out), Some(inbound)) = (out, inbound) else {
        return;
    };
    if without_sa.contains(&(t.key.clone(), t.vni)) {
        return;
    }
    for (dir, list, words) in [
        ("out", &out, format!("{} → {remote_label}", local.label)),
        ("in", &inbound, format!("{remote_label} → {}", local.label)),
    ] {
        if list.is_empty() {
            b.finding(
                "ipsec-sa-missing",
                Severity::Error,
                format!(
                    "encrypted overlay {net}: {} holds no IPsec SA for {words} ({dir}bound): that direction's VXLAN is not encrypted and the receiver drops it",
                    local.label
                ),
                ends.clone(),
            );
        }
    }
    if let Some(remote) = remote {
        spi_mismatch(b, local, remote, dst, net, ends);
    }
}

/// Node A's outbound SPI must be among B's inbound SAs from A.
fn spi_mismatch(
    b: &mut Builder,
    local: &Side,
    remote: &Side,
    dst: &str,
    net: &str,
    ends: Vec<String>,
) {
    let Some(sa) = outbound_sa(local.snap, &local.addr, dst) else {
        return;
    };
    let Some(theirs) = esp_sas(remote.snap, &local.addr, dst) else {
        return;
    };
    // None at all from us is the remote's own missing direction, said on its side.
    if !theirs.is_empty() && !theirs.iter().any(|s| s.spi == sa.spi) {
        let have: Vec<String> = theirs.iter().map(|s| spi_text(s.spi)).collect();
        b.finding(
            "ipsec-spi-mismatch",
            Severity::Error,
            format!(
                "encrypted overlay {net}: {} sends to {} with SPI {} but {} holds SAs from it for {}: the packets are dropped on arrival (engines that derive SPIs differently, e.g. 29.0–29.2 next to older ones)",
                local.label,
                remote.label,
                spi_text(sa.spi),
                remote.label,
                have.join(", ")
            ),
            ends,
        );
    }
}

/// Every node that has an encrypted VNI's vxlan device must drop that VNI's cleartext VXLAN and
/// mark its outgoing VXLAN; where its host firewall was read and a rule is missing, say so.
fn guards(b: &mut Builder, sides: &[Side], vnis: &BTreeMap<u32, String>) {
    for side in sides {
        let Some(fw) = side.snap.host_namespace().and_then(|n| n.firewall.as_ref()) else {
            continue;
        };
        let present: BTreeSet<u32> = side
            .snap
            .namespaces
            .iter()
            .flat_map(|n| &n.links)
            .filter_map(|l| l.vxlan.as_ref().map(|v| v.vni))
            .collect();
        for (vni, net) in vnis.iter().filter(|(v, _)| present.contains(v)) {
            let host = ids::host(&side.key);
            if guard_rule(fw, *vni).is_none() {
                b.finding(
                    "encrypted-vxlan-unguarded",
                    Severity::Warning,
                    format!(
                        "encrypted overlay {net} (VNI {vni}) on {}: no rule drops its VXLAN arriving without IPsec (filter INPUT `-m policy --dir in --pol none … -j DROP`, or nftables table docker-overlay): cleartext VXLAN for it is accepted",
                        side.label
                    ),
                    vec![host.clone(), ids::network("", "swarm", net)],
                );
            }
            if mark_rule(fw, *vni).is_none() {
                b.finding(
                    "encrypted-vxlan-unmarked",
                    Severity::Warning,
                    format!(
                        "encrypted overlay {net} (VNI {vni}) on {}: no mangle OUTPUT rule marks its VXLAN with 0x{DOCKER_IPSEC_MARK:x}, so the IPsec policy never applies and it leaves in cleartext",
                        side.label
                    ),
                    vec![host, ids::network("", "swarm", net)],
                );
            }
        }
    }
}
