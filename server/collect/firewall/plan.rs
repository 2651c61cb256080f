//! What to run in a namespace, decided from its table check.

use super::probe::{NftTable, TableProbe};
use crate::snapshot::{SourceKind, SourceState, SourceStatus};

/// The notes and errors that become one namespace's Iptables status.
#[derive(Debug, Default)]
pub(super) struct Report {
    pub errors: Vec<String>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn status(&self, source: SourceKind, ns: &str) -> SourceStatus {
        let mut words = self.errors.clone();
        words.extend(self.notes.iter().cloned());
        SourceStatus {
            source,
            namespace: Some(ns.to_owned()),
            state: if self.errors.is_empty() {
                SourceState::Ok
            } else {
                SourceState::Error
            },
            message: words.join("; "),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IpFamily {
    V4,
    V6,
}

impl IpFamily {
    /// The NFPROTO_* number of its nf_tables tables.
    pub fn nfproto(self) -> u8 {
        match self {
            IpFamily::V4 => 2,
            IpFamily::V6 => 10,
        }
    }

    fn base(self) -> &'static str {
        match self {
            IpFamily::V4 => "iptables",
            IpFamily::V6 => "ip6tables",
        }
    }
}

/// Which save tool to run for one family.
#[derive(Debug)]
pub(super) struct FamilyPlan {
    pub family: IpFamily,
    /// Candidate programs, best first; the last is the plain `*-save`.
    pub candidates: Vec<String>,
    /// (nf_tables, legacy) table names when both backends hold tables: one tool shows one backend.
    pub other_backend: Option<(Vec<String>, Vec<String>)>,
}

impl FamilyPlan {
    /// The tool's usual name, for messages.
    pub fn tool(&self) -> String {
        format!("{}-save", self.family.base())
    }
}

/// `None` when the family is proven to hold no iptables tables.
pub(super) fn plan_family(
    probe: &TableProbe,
    family: IpFamily,
    report: &mut Report,
) -> Option<FamilyPlan> {
    let base = family.base();
    let nft = probe.nftables.as_ref().map(|tables| {
        tables
            .iter()
            .filter(|t| t.is_iptables_nft() && t.is_ipv4() == (family == IpFamily::V4))
            .map(|t| t.name.clone())
            .collect::<Vec<_>>()
    });
    let legacy = match family {
        IpFamily::V4 => &probe.legacy_ipv4,
        IpFamily::V6 => &probe.legacy_ipv6,
    };
    let plain = format!("{base}-save");
    let (candidates, other_backend) = match (nft, legacy) {
        (Ok(n), Ok(l)) if n.is_empty() && l.is_empty() => return None,
        (Ok(_), Ok(l)) if l.is_empty() => (vec![format!("{base}-nft-save"), plain], None),
        (Ok(n), Ok(_)) if n.is_empty() => (vec![format!("{base}-legacy-save"), plain], None),
        (Ok(n), Ok(l)) => (vec![plain], Some((n, l.clone()))),
        (nft, legacy) => {
            // Could not prove it empty: run the default tool and say why.
            let failures = [nft.err().cloned(), legacy.as_ref().err().cloned()];
            for e in failures.into_iter().flatten() {
                report
                    .notes
                    .push(format!("table check failed ({e}); ran {base}-save"));
            }
            (vec![plain], None)
        }
    };
    Some(FamilyPlan {
        family,
        candidates,
        other_backend,
    })
}

/// Whether `nft -j list ruleset` is needed.
#[derive(Debug)]
pub(super) enum NativePlan {
    /// No table beyond iptables-nft's own.
    None,
    /// These native nftables tables exist.
    Tables(Vec<NftTable>),
    /// The table check failed: run nft if it is installed.
    Unknown,
}

pub(super) fn plan_nftables(probe: &TableProbe) -> NativePlan {
    match &probe.nftables {
        Ok(tables) => {
            let native: Vec<NftTable> = tables
                .iter()
                .filter(|t| !t.is_iptables_nft())
                .cloned()
                .collect();
            if native.is_empty() {
                NativePlan::None
            } else {
                NativePlan::Tables(native)
            }
        }
        Err(_) => NativePlan::Unknown,
    }
}

/// Every table is an iptables-nft one: nothing legacy, nothing native.
pub(super) fn only_iptables_nft(probe: &TableProbe) -> bool {
    let nft = probe
        .nftables
        .as_ref()
        .is_ok_and(|t| t.iter().all(NftTable::is_iptables_nft));
    let no_legacy = |l: &Result<Vec<String>, String>| l.as_ref().is_ok_and(Vec::is_empty);
    nft && no_legacy(&probe.legacy_ipv4) && no_legacy(&probe.legacy_ipv6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(nft: &[(u8, &str)], legacy4: &[&str]) -> TableProbe {
        TableProbe {
            nftables: Ok(nft
                .iter()
                .map(|(family, name)| NftTable {
                    family: *family,
                    name: (*name).to_owned(),
                })
                .collect()),
            generation: None,
            legacy_ipv4: Ok(legacy4.iter().map(|s| (*s).to_owned()).collect()),
            legacy_ipv6: Ok(Vec::new()),
        }
    }

    #[test]
    fn picks_the_tool_of_the_backend_that_holds_tables() {
        let mut r = Report::default();
        assert!(plan_family(&probe(&[], &[]), IpFamily::V4, &mut r).is_none());
        let p = plan_family(&probe(&[(2, "nat")], &[]), IpFamily::V4, &mut r).unwrap();
        assert_eq!(p.candidates, vec!["iptables-nft-save", "iptables-save"]);
        assert!(plan_family(&probe(&[(2, "nat")], &[]), IpFamily::V6, &mut r).is_none());
        let p = plan_family(&probe(&[], &["filter"]), IpFamily::V4, &mut r).unwrap();
        assert_eq!(p.candidates, vec!["iptables-legacy-save", "iptables-save"]);
        let p = plan_family(&probe(&[(2, "nat")], &["nat"]), IpFamily::V4, &mut r).unwrap();
        assert_eq!(p.candidates, vec!["iptables-save"]);
        assert!(p.other_backend.is_some());
        assert!(r.notes.is_empty());
    }

    #[test]
    fn a_failed_check_runs_the_default_tool_and_says_why() {
        let mut r = Report::default();
        let mut p = probe(&[], &[]);
        p.nftables = Err("nf_tables table dump: boom".to_owned());
        let plan = plan_family(&p, IpFamily::V6, &mut r).unwrap();
        assert_eq!(plan.candidates, vec!["ip6tables-save"]);
        assert!(r.notes[0].contains("boom"));
        assert!(matches!(plan_nftables(&p), NativePlan::Unknown));
    }

    #[test]
    fn native_tables_are_those_iptables_nft_did_not_make() {
        let p = probe(&[(2, "nat"), (1, "filter"), (2, "docker-bridges")], &[]);
        let NativePlan::Tables(t) = plan_nftables(&p) else {
            panic!("native tables expected")
        };
        assert_eq!(t.len(), 2);
        assert!(!only_iptables_nft(&p));
        assert!(only_iptables_nft(&probe(
            &[(2, "nat"), (10, "filter")],
            &[]
        )));
        assert!(!only_iptables_nft(&probe(&[(2, "nat")], &["nat"])));
    }
}
