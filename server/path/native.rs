//! Native nftables tables (Docker 29's `ip docker-bridges`, firewalld, ufw on nft) on a path:
//! the hook's base chains walked by [`super::nft`], their verdict joined to what the iptables
//! rules said. What the walker cannot interpret makes the hop *unknown*, never *broken*.

use crate::snapshot::Namespace;

use super::lookup::NodeView;
use super::model::{Evidence, Verdict};
use super::nft::{walk_hook, NftDecision};
use super::rules::Packet;

/// What the native chains of one hook do with the packet.
pub enum Native {
    /// No native base chain on this hook (or no native ruleset read).
    Nothing,
    /// They let it pass; the rules that did.
    Pass(Vec<Evidence>),
    /// A rule (or policy) drops it: why, the rules.
    Blocked(String, Vec<Evidence>),
    /// A NAT statement: its name (`dnat`, `masquerade`, ...), where to, the rules.
    Nat(String, Option<String>, Vec<Evidence>),
    /// Not interpreted: why, the rules seen so far.
    Unknown(String, Vec<Evidence>),
}

/// Walk `pkt` through the native base chains of `ns` on `hook`.
pub fn at_hook(nv: &NodeView<'_>, ns: &Namespace, hook: &str, pkt: &Packet) -> Native {
    let Some(rs) = ns.firewall.as_ref().and_then(|f| f.nftables.as_ref()) else {
        return Native::Nothing;
    };
    let label = nv.ns_name(ns);
    let w = walk_hook(rs, hook, pkt);
    let quote = |t: &str| Evidence {
        kind: "nftables".into(),
        namespace: label.clone(),
        text: t.to_owned(),
    };
    let mut ev: Vec<Evidence> = w.matched.iter().map(|t| quote(t)).collect();
    match w.decision {
        NftDecision::NoChains => Native::Nothing,
        NftDecision::Pass => Native::Pass(ev),
        NftDecision::Drop(r) => {
            if !w.matched.contains(&r) {
                ev.push(quote(&r));
            }
            Native::Blocked(
                format!("native nftables drop it on the {hook} hook of {label}: `{r}`"),
                ev,
            )
        }
        NftDecision::Nat { kind, to, .. } => Native::Nat(kind, to, ev),
        NftDecision::Unknown(why) => Native::Unknown(
            format!("native nftables rules not interpreted on the {hook} hook of {label}: {why}"),
            ev,
        ),
    }
}

/// `verdict` (from the iptables rules) joined to the native chains on `hook`: a pass must pass
/// them too; a block stands (a drop anywhere ends the packet); a verdict of "no rule does it"
/// (`missing`) stands only if the native chains have no NAT for it either, else they decide.
pub fn join(
    nv: &NodeView<'_>,
    ns: &Namespace,
    hook: &str,
    pkt: &Packet,
    verdict: Verdict,
    ev: &mut Vec<Evidence>,
) -> Verdict {
    if matches!(verdict, Verdict::Blocked(_) | Verdict::Unknown(_)) {
        return verdict;
    }
    match at_hook(nv, ns, hook, pkt) {
        Native::Nothing => verdict,
        Native::Pass(more) => {
            ev.extend(more);
            verdict
        }
        Native::Blocked(why, more) => {
            ev.extend(more);
            Verdict::Blocked(why)
        }
        Native::Nat(kind, _, more) => {
            ev.extend(more);
            match verdict {
                Verdict::Broken(why) => Verdict::Unknown(format!(
                    "{why} as far as iptables goes, but native nftables {kind} it: not followed here"
                )),
                v => v,
            }
        }
        Native::Unknown(why, more) => {
            ev.extend(more);
            Verdict::Unknown(why)
        }
    }
}
