//! The diff for a terminal: what was added, removed and changed, with the attributes.
//!
//! Elements are nested as they sit (an interface under its namespace, a sandbox under its
//! container) when both changed the same way, and an edge is listed under an element added or
//! removed with it, so a container that came shows as one block. Engine strings may hold
//! control characters: they are escaped, never sent to the terminal as they are.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde_json::Value;

use super::model::*;

/// The whole diff as text (ends with a newline).
pub fn render(d: &Diff) -> String {
    let mut out = String::new();
    preamble(&mut out, d);
    if d.equal {
        out.push_str("No differences.\n");
        return out;
    }
    let _ = writeln!(out, "{}", headline(&d.counts));
    let mut listed_edges: BTreeSet<&str> = BTreeSet::new();
    for (change, title, mark) in [
        (Change::Added, "Added", '+'),
        (Change::Removed, "Removed", '-'),
        (Change::Changed, "Changed", '~'),
    ] {
        element_group(&mut out, d, (change, title, mark), &mut listed_edges);
    }
    other_edges(&mut out, d, &listed_edges);
    firewall_section(&mut out, d);
    findings_section(&mut out, d);
    out
}

/// The title, both sides, and the hosts that could not be compared.
fn preamble(out: &mut String, d: &Diff) {
    let _ = writeln!(out, "dockmap diff");
    side(out, "A", &d.a);
    side(out, "B", &d.b);
    for u in &d.unseen {
        let _ = writeln!(
            out,
            "  not compared: {} (no snapshot in {}: {})",
            clean(&u.node),
            u.side.to_uppercase(),
            clean(&u.why)
        );
    }
    out.push('\n');
}

/// The elements of one change as trees, each with the edges that came or went with it (noted
/// in `listed_edges`, so they are not listed again).
fn element_group<'a>(
    out: &mut String,
    d: &'a Diff,
    (change, title, mark): (Change, &str, char),
    listed_edges: &mut BTreeSet<&'a str>,
) {
    let group: Vec<&ElementChange> = d.elements.iter().filter(|e| e.change == change).collect();
    if group.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{title}");
    let ids: BTreeSet<&str> = group.iter().map(|e| e.id.as_str()).collect();
    let mut kids: BTreeMap<&str, Vec<&ElementChange>> = BTreeMap::new();
    let mut roots = Vec::new();
    for e in &group {
        match e.under.as_deref().filter(|u| ids.contains(u) && *u != e.id) {
            Some(u) => kids.entry(u).or_default().push(e),
            None => roots.push(*e),
        }
    }
    // Edges of this change attached to one of the group's elements (source first).
    let mut edges_of: BTreeMap<&str, Vec<&EdgeChange>> = BTreeMap::new();
    if change != Change::Changed {
        for x in d.edges.iter().filter(|x| x.change == change) {
            let at = [x.source.as_str(), x.target.as_str()]
                .into_iter()
                .find(|end| ids.contains(end));
            if let Some(at) = at {
                edges_of.entry(at).or_default().push(x);
                listed_edges.insert(x.id.as_str());
            }
        }
    }
    let mut seen = BTreeSet::new();
    for r in roots {
        tree(out, r, 1, mark, &kids, &edges_of, &mut seen);
    }
}

/// The edge changes not listed under an element.
fn other_edges(out: &mut String, d: &Diff, listed_edges: &BTreeSet<&str>) {
    let rest: Vec<&EdgeChange> = d
        .edges
        .iter()
        .filter(|x| !listed_edges.contains(x.id.as_str()))
        .collect();
    if !rest.is_empty() {
        let _ = writeln!(out, "\nEdges");
        for x in rest {
            edge(out, x, 1);
        }
    }
}

/// The firewall chains that changed.
fn firewall_section(out: &mut String, d: &Diff) {
    if !d.firewall.is_empty() {
        let _ = writeln!(out, "\nFirewall");
        for c in &d.firewall {
            chain(out, c);
        }
    }
}

/// The findings that came, went or changed severity.
fn findings_section(out: &mut String, d: &Diff) {
    if !d.findings.is_empty() {
        let _ = writeln!(out, "\nFindings");
        for f in &d.findings {
            let sev = match f.old_severity {
                Some(old) => format!("{} → {}", old.as_str(), f.severity.as_str()),
                None => f.severity.as_str().to_owned(),
            };
            let _ = writeln!(
                out,
                "  {} {sev} {}: {}",
                mark_of(f.change),
                clean(&f.code),
                clean(&f.message)
            );
        }
    }
}

/// One line of counts, e.g. `3 elements added, 1 removed, 2 changed · 5 edges added · …`.
pub fn headline(c: &Counts) -> String {
    let mut parts = Vec::new();
    let trio = |what: &str, a: usize, r: usize, ch: usize| -> Option<String> {
        if a + r + ch == 0 {
            return None;
        }
        Some(format!("{what}: {a} added, {r} removed, {ch} changed"))
    };
    parts.extend(trio(
        "elements",
        c.elements_added,
        c.elements_removed,
        c.elements_changed,
    ));
    parts.extend(trio(
        "edges",
        c.edges_added,
        c.edges_removed,
        c.edges_changed,
    ));
    if c.chains_changed > 0 {
        parts.push(format!(
            "firewall: {} chains differ ({} rules added, {} removed)",
            c.chains_changed, c.rules_added, c.rules_removed
        ));
    }
    parts.extend(trio(
        "findings",
        c.findings_added,
        c.findings_removed,
        c.findings_changed,
    ));
    parts.join(" · ")
}

fn side(out: &mut String, name: &str, s: &SideSummary) {
    let nodes = clean(&s.nodes.join(", "));
    let _ = writeln!(
        out,
        "  {name}: {}  {nodes}  ({} elements, {} edges)",
        clean(&s.taken_at),
        s.elements,
        s.edges
    );
}

fn mark_of(c: Change) -> char {
    match c {
        Change::Added => '+',
        Change::Removed => '-',
        Change::Changed => '~',
    }
}

fn tree<'a>(
    out: &mut String,
    e: &'a ElementChange,
    depth: usize,
    mark: char,
    kids: &BTreeMap<&str, Vec<&'a ElementChange>>,
    edges_of: &BTreeMap<&str, Vec<&EdgeChange>>,
    seen: &mut BTreeSet<&'a str>,
) {
    // Bad data could nest an element under itself through a cycle: print each once.
    if !seen.insert(e.id.as_str()) {
        return;
    }
    let pad = "  ".repeat(depth);
    let _ = writeln!(
        out,
        "{pad}{mark} {} {}  {}{}",
        e.kind.as_str(),
        clean(&e.label),
        clean(&e.id),
        brief(e)
    );
    if e.change == Change::Changed {
        for a in &e.attrs {
            attr(out, a, depth + 2);
        }
    }
    for x in edges_of.get(e.id.as_str()).into_iter().flatten() {
        edge(out, x, depth + 1);
    }
    for k in kids.get(e.id.as_str()).into_iter().flatten() {
        tree(out, k, depth + 1, mark, kids, edges_of, seen);
    }
}

/// The facts that say which one it is, for an element added or removed: its addresses.
fn brief(e: &ElementChange) -> String {
    if e.change == Change::Changed {
        return String::new();
    }
    let items: Vec<String> = e
        .attrs
        .iter()
        .filter(|a| matches!(a.name.as_str(), "ips" | "addresses" | "subnets"))
        .flat_map(|a| a.added.iter().chain(&a.removed))
        .map(show)
        .collect();
    if items.is_empty() {
        String::new()
    } else {
        format!("  ({})", items.join(", "))
    }
}

fn edge(out: &mut String, x: &EdgeChange, depth: usize) {
    let pad = "  ".repeat(depth);
    let _ = writeln!(
        out,
        "{pad}{} {} {} → {}",
        mark_of(x.change),
        x.kind.as_str(),
        clean(&x.source),
        clean(&x.target)
    );
    if x.change == Change::Changed {
        for a in &x.attrs {
            attr(out, a, depth + 2);
        }
    }
}

fn attr(out: &mut String, a: &AttrChange, depth: usize) {
    let pad = "  ".repeat(depth);
    let name = clean(&a.name);
    if a.old.is_some() || a.new.is_some() {
        let old = a.old.as_ref().map(show).unwrap_or_else(|| "(none)".into());
        let new = a.new.as_ref().map(show).unwrap_or_else(|| "(none)".into());
        let _ = writeln!(out, "{pad}{name}: {old} → {new}");
    }
    for v in &a.added {
        let _ = writeln!(out, "{pad}{name}: + {}", show(v));
    }
    for v in &a.removed {
        let _ = writeln!(out, "{pad}{name}: - {}", show(v));
    }
}

fn chain(out: &mut String, c: &ChainChange) {
    let what = match c.change {
        Change::Added => " (new chain)",
        Change::Removed => " (chain gone)",
        Change::Changed => "",
    };
    let _ = writeln!(
        out,
        "  {} {} {} {} {}{what}",
        clean(&c.node),
        clean(&c.namespace),
        c.family,
        clean(&c.table),
        clean(&c.chain)
    );
    if c.old_policy != c.new_policy {
        let _ = writeln!(
            out,
            "      policy: {} → {}",
            clean(c.old_policy.as_deref().unwrap_or("(none)")),
            clean(c.new_policy.as_deref().unwrap_or("(none)"))
        );
    }
    for r in &c.added {
        let _ = writeln!(out, "      + {}", clean(r));
    }
    for r in &c.removed {
        let _ = writeln!(out, "      - {}", clean(r));
    }
    if c.reordered {
        let _ = writeln!(out, "      the same rules in another order");
    }
}

/// A value on one line: strings as they are (escaped), anything else as compact JSON.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => clean(s),
        other => clean(&other.to_string()),
    }
}

/// Control characters escaped, so a hostile name cannot drive the terminal.
fn clean(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_owned();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
