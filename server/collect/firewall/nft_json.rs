//! Trimming `nft -j list ruleset` output to what iptables-save does not already show.

use serde_json::Value;

use super::probe::NftTable;

/// Remove the objects of iptables-nft's own tables (their rules are opaque `xt`
/// entries in JSON and are read in full through iptables-save) for the families
/// whose iptables-save output was read, except the `(family, table)` pairs in
/// `keep` (tables iptables-save said it cannot show).
pub fn drop_iptables_tables(
    ruleset: &mut Value,
    ipv4_read: bool,
    ipv6_read: bool,
    keep: &[(String, String)],
) {
    let Some(items) = ruleset.get_mut("nftables").and_then(Value::as_array_mut) else {
        return;
    };
    items.retain(|item| {
        let Some((family, table)) = owner(item) else {
            return true;
        };
        if keep.iter().any(|(f, t)| f == family && t == table) {
            return true;
        }
        let shown = match family {
            "ip" => ipv4_read,
            "ip6" => ipv6_read,
            _ => false,
        };
        let probe = NftTable {
            family: if family == "ip" { 2 } else { 10 },
            name: table.to_owned(),
        };
        !(shown && probe.is_iptables_nft())
    });
}

/// The (family, table) an nft JSON object belongs to: `{"table": {"family", "name"}}`
/// or `{"chain"|"rule"|"set"|...: {"family", "table"}}`.
fn owner(item: &Value) -> Option<(&str, &str)> {
    let (kind, body) = item.as_object()?.iter().next()?;
    let family = body.get("family")?.as_str()?;
    let table_key = if kind == "table" { "name" } else { "table" };
    Some((family, body.get(table_key)?.as_str()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_native_tables_and_metainfo() {
        let mut v: Value = serde_json::json!({"nftables": [
            {"metainfo": {"version": "1.0.6"}},
            {"table": {"family": "ip", "name": "nat", "handle": 1}},
            {"chain": {"family": "ip", "table": "nat", "name": "DOCKER"}},
            {"table": {"family": "ip6", "name": "nat", "handle": 2}},
            {"table": {"family": "inet", "name": "filter", "handle": 3}},
            {"rule": {"family": "inet", "table": "filter", "chain": "x"}}
        ]});
        drop_iptables_tables(&mut v, true, false, &[]);
        let items = v["nftables"].as_array().unwrap();
        assert_eq!(items.len(), 4);
        assert!(items.iter().all(|i| i.get("chain").is_none()));
        assert_eq!(items[1]["table"]["family"], "ip6");
        assert_eq!(items[2]["table"]["family"], "inet");
    }

    #[test]
    fn keeps_tables_iptables_save_cannot_show() {
        let mut v: Value = serde_json::json!({"nftables": [
            {"table": {"family": "ip", "name": "filter", "handle": 1}},
            {"rule": {"family": "ip", "table": "filter", "chain": "input"}},
            {"table": {"family": "ip", "name": "nat", "handle": 2}}
        ]});
        let keep = [("ip".to_owned(), "filter".to_owned())];
        drop_iptables_tables(&mut v, true, true, &keep);
        assert_eq!(v["nftables"].as_array().unwrap().len(), 2);
    }
}
