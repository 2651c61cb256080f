//! The layering ARCHITECTURE.md promises, checked on the source (rust-analyzer's tidy style):
//! every `crate::<module>` a file names must be allowed by the dependency matrix there, and the
//! files of one module must not use each other in a circle.
//!
//! Test code (`tests.rs`, `*_tests.rs`, what follows `#[cfg(test)]`) is not checked: tests may
//! build their inputs with anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The matrix: module → the modules it may use, read from ARCHITECTURE.md's "Dependencies" table.
fn matrix() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let table = text
        .split("## Dependencies")
        .nth(1)
        .expect("ARCHITECTURE.md has a \"## Dependencies\" section");
    let mut m = BTreeMap::new();
    for line in table.lines().skip_while(|l| !l.starts_with('|')) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let [module, uses] = cells[..] else { continue };
        let module = module.trim_matches('`');
        if module == "module" || module.starts_with("--") {
            continue;
        }
        let uses = uses
            .split(',')
            .map(|u| u.trim().trim_matches('`').to_owned())
            .filter(|u| !u.is_empty() && u != "—")
            .collect();
        m.insert(module.to_owned(), uses);
    }
    m
}

/// Every library source file under server/, but main.rs (the binary may use anything).
fn sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(&Path::new(ROOT).join("server"), &mut v);
    v.retain(|p| {
        let name = p.file_name().unwrap().to_string_lossy();
        name != "main.rs" && name != "tests.rs" && !name.ends_with("_tests.rs")
    });
    v.sort();
    v
}

/// The file's code without comments and without its test module.
fn code(p: &Path) -> String {
    let text = std::fs::read_to_string(p).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The path of `p` below server/, as module names: `graph/build.rs` → ["graph", "build"].
fn module_path(p: &Path) -> Vec<String> {
    let rel = p.strip_prefix(Path::new(ROOT).join("server")).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The paths a file names, each as module names from the crate root: `use crate::a::{b, c::d}`
/// gives a::b and a::c::d; `super::x` is resolved against the file's own module.
fn named_paths(p: &Path, code: &str) -> Vec<Vec<String>> {
    let me = module_path(p);
    let mut out = Vec::new();
    let text = code;
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(start) {
            let at = from + i;
            from = at + start.len();
            // Part of a longer identifier (e.g. `my_crate::`)?
            if text[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                continue;
            }
            let base: Vec<String> = if start == "crate::" {
                Vec::new()
            } else {
                // `super` of graph/build.rs and of graph/x/mod.rs alike is one level up.
                me[..me.len().saturating_sub(1)].to_vec()
            };
            for tail in expand(&text[from..]) {
                let mut full = base.clone();
                full.extend(tail);
                out.push(full);
            }
        }
    }
    out
}

/// `a::b::{c, d::e}` (what follows `crate::`) → [a,b,c], [a,b,d,e]; stops at the first
/// character that cannot continue a path.
fn expand(s: &str) -> Vec<Vec<String>> {
    let mut prefix = Vec::new();
    let mut rest = s;
    loop {
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !ident.is_empty() {
            rest = &rest[ident.len()..];
            prefix.push(ident);
            if let Some(r) = rest.strip_prefix("::") {
                rest = r;
                continue;
            }
            return vec![prefix];
        }
        if let Some(r) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut end = 0;
            for (i, c) in r.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            let inner = &r[..end];
            let mut items = Vec::new();
            let (mut depth, mut last) = (0, 0);
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(&inner[last..i]);
                        last = i + 1;
                    }
                    _ => {}
                }
            }
            items.push(&inner[last..]);
            let mut out = Vec::new();
            for item in items {
                for tail in expand(item.trim()) {
                    let mut p = prefix.clone();
                    p.extend(tail.into_iter().filter(|t| t != "self"));
                    out.push(p);
                }
            }
            return out;
        }
        return vec![prefix];
    }
}

#[test]
fn every_edge_between_modules_is_in_the_matrix() {
    let allowed = matrix();
    assert!(
        allowed.contains_key("snapshot"),
        "the matrix was read: {allowed:?}"
    );
    let mut wrong = BTreeSet::new();
    let mut unlisted = BTreeSet::new();
    for p in sources() {
        let me = module_path(&p);
        let Some(top) = me.first() else { continue };
        let Some(may) = allowed.get(top) else {
            unlisted.insert(top.clone());
            continue;
        };
        for path in named_paths(&p, &code(&p)) {
            let Some(to) = path.first() else { continue };
            if to != top && !may.contains(to) && allowed.contains_key(to) {
                let rel = p.strip_prefix(ROOT).unwrap().display().to_string();
                wrong.insert(format!("{rel}: {top} → {to} ({})", path.join("::")));
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "modules missing from ARCHITECTURE.md's matrix: {unlisted:?}"
    );
    assert!(
        wrong.is_empty(),
        "edges ARCHITECTURE.md's matrix does not allow:\n{}",
        wrong.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_files_of_a_module_use_each_other_in_no_circle() {
    // Edges between sibling files (not their mod.rs, which declares them all).
    let files: Vec<PathBuf> = sources();
    let names: BTreeSet<Vec<String>> = files.iter().map(|p| module_path(p)).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for p in &files {
        if p.file_name()
            .is_some_and(|n| n == "mod.rs" || n == "lib.rs")
        {
            continue;
        }
        let me = module_path(p);
        for path in named_paths(p, &code(p)) {
            // The longest prefix that is a file of the crate is what this path uses.
            let Some(to) = (1..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|c| names.contains(c))
            else {
                continue;
            };
            let siblings = to.len() == me.len() && to[..to.len() - 1] == me[..me.len() - 1];
            if siblings && to != me {
                edges.entry(me.clone()).or_default().insert(to);
            }
        }
    }
    let mut circles = BTreeSet::new();
    for (a, outs) in &edges {
        for b in outs {
            if reaches(&edges, b, a, &mut BTreeSet::new()) {
                let mut pair = [a.join("::"), b.join("::")];
                pair.sort();
                circles.insert(pair.join(" ↔ "));
            }
        }
    }
    assert!(
        circles.is_empty(),
        "files that use each other: {circles:#?}"
    );
}

/// Whether `to` is reachable from `from` over `edges`.
fn reaches(
    edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    from: &Vec<String>,
    to: &Vec<String>,
    seen: &mut BTreeSet<Vec<String>>,
) -> bool {
    if from == to {
        return true;
    }
    if !seen.insert(from.clone()) {
        return false;
    }
    edges
        .get(from)
        .is_some_and(|outs| outs.iter().any(|n| reaches(edges, n, to, seen)))
}

#[test]
fn paths_are_read_as_rust_writes_them() {
    assert_eq!(
        expand("a::{b, c::{d, self}}::x;"),
        vec![
            vec!["a".to_owned(), "b".to_owned()],
            vec!["a".to_owned(), "c".to_owned(), "d".to_owned()],
            vec!["a".to_owned(), "c".to_owned()],
        ]
    );
    let p = Path::new(ROOT).join("server/graph/build.rs");
    assert_eq!(module_path(&p), ["graph", "build"]);
    assert_eq!(
        named_paths(&p, "use super::veth::pair; x(crate::path::trace())"),
        vec![
            vec!["path".to_owned(), "trace".to_owned()],
            vec!["graph".to_owned(), "veth".to_owned(), "pair".to_owned()],
        ]
    );
}
