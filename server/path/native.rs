//! Native nftables tables (Docker 29's `ip docker-bridges`, firewalld, ufw on nft) that the path
//! walker does not interpret yet: where one has a base chain on the hook a hop is judged at, a
//! hop that would pass or find nothing becomes *unknown*, never *broken*.

use serde_json::Value;

use crate::snapshot::Namespace;

use super::lookup::NodeView;
use super::model::{Evidence, Verdict};

/// A native base chain: family, table, chain, its header as `nft list ruleset` prints it.
struct BaseChain {
    family: String,
    table: String,
    text: String,
}

/// The native base chains of `ns` that IPv4 packets meet on `hook` (`prerouting`, `forward`, ...),
/// of any type: a `filter` chain on a nat hook may drop as well.
fn base_chains(ns: &Namespace, hook: &str) -> Vec<BaseChain> {
    let Some(items) = ns
        .firewall
        .as_ref()
        .and_then(|f| f.nftables.as_ref())
        .and_then(|v| v.get("nftables"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|i| i.get("chain"))
        .filter(|c| c.get("hook").and_then(Value::as_str) == Some(hook))
        .filter(|c| matches!(c.get("family").and_then(Value::as_str), Some("ip" | "inet")))
        .map(|c| {
            let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            let prio = c
                .get("prio")
                .map(|p| p.to_string())
                .unwrap_or_else(|| "?".into());
            let policy = c
                .get("policy")
                .and_then(Value::as_str)
                .map(|p| format!(" policy {p};"))
                .unwrap_or_default();
            BaseChain {
                family: s("family"),
                table: s("table"),
                text: format!(
                    "table {} {} {{ chain {} {{ type {} hook {hook} priority {prio};{policy} }} }}",
                    s("family"),
                    s("table"),
                    s("name"),
                    s("type")
                ),
            }
        })
        .collect()
}

/// `verdict` as it stands once native base chains on `hook` are taken into account: a pass or a
/// missing rule becomes unknown (those chains may drop, DNAT or masquerade), quoting the chains
/// in `ev`; a block by the rules that were read stands (a drop anywhere ends the packet).
pub fn soften(
    nv: &NodeView<'_>,
    ns: &Namespace,
    hook: &str,
    verdict: Verdict,
    ev: &mut Vec<Evidence>,
) -> Verdict {
    if matches!(verdict, Verdict::Blocked(_) | Verdict::Unknown(_)) {
        return verdict;
    }
    let chains = base_chains(ns, hook);
    if chains.is_empty() {
        return verdict;
    }
    let label = nv.ns_name(ns);
    let mut tables: Vec<String> = chains
        .iter()
        .map(|c| format!("{} {}", c.family, c.table))
        .collect();
    tables.dedup();
    ev.extend(chains.into_iter().map(|c| Evidence {
        kind: "nftables".into(),
        namespace: label.clone(),
        text: c.text,
    }));
    let before = match &verdict {
        Verdict::Pass => String::new(),
        v => format!(" ({} as far as iptables goes)", v.reason()),
    };
    Verdict::Unknown(format!(
        "native nftables rules not interpreted: table {} has a base chain on the {hook} hook of {label}{before}",
        tables.join(", table ")
    ))
}
