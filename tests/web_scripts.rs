//! The page scripts' globals (no browser, no root): each script's `// Globals:` header says
//! which `window.dockmap*` names it defines and uses, the code agrees, and every page (each
//! template, and the exported file's inlined viewer) loads a global's definer before its users
//! and defines no global twice.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A script's globals: (defined, used), from its header.
type Globals = (BTreeSet<String>, BTreeSet<String>);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `defines window.a, window.b; uses none.` → ({a, b}, {}).
fn header(file: &str, text: &str) -> Globals {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("// Globals: "))
        .unwrap_or_else(|| panic!("{file} has no `// Globals:` header"));
    let (defines, uses) = line
        .trim_end_matches('.')
        .split_once("; ")
        .unwrap_or_else(|| panic!("{file}: `defines …; uses …` expected: {line}"));
    let names = |part: &str, word: &str| -> BTreeSet<String> {
        let list = part
            .strip_prefix(word)
            .unwrap_or_else(|| panic!("{file}: `{word}` expected: {line}"));
        if list == "none" {
            return BTreeSet::new();
        }
        list.split(", ")
            .map(|n| {
                n.strip_prefix("window.")
                    .unwrap_or_else(|| panic!("{file}: window.NAME expected: {n}"))
                    .to_owned()
            })
            .collect()
    };
    (names(defines, "defines "), names(uses, "uses "))
}

/// What the code does with `window.dockmap*` names: (assigned, read), comments left out.
fn code(text: &str) -> Globals {
    let mut defined = BTreeSet::new();
    let mut used = BTreeSet::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (i, _) in line.match_indices("window.dockmap") {
            let rest = &line[i + "window.".len()..];
            let end = rest
                .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .unwrap_or(rest.len());
            let (name, after) = rest.split_at(end);
            let after = after.trim_start();
            let assigned =
                after.starts_with('=') && !after.starts_with("==") && !after.starts_with("=>");
            if assigned {
                defined.insert(name.to_owned());
            } else {
                used.insert(name.to_owned());
            }
        }
    }
    let used = used.difference(&defined).cloned().collect();
    (defined, used)
}

fn scripts() -> BTreeMap<String, Globals> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(root().join("web")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("js") {
            continue;
        }
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let declared = header(&file, &text);
        assert_eq!(
            code(&text),
            declared,
            "{file}: the header's (defines, uses) differ from the code's"
        );
        out.insert(file, declared);
    }
    out
}

/// Every page: its name and the scripts it loads, in order.
fn pages() -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root().join("templates")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let loaded: Vec<String> = text
            .split("<script src=\"{{ crate::web::assets::url(\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap().to_owned())
            .collect();
        out.push((path.display().to_string(), loaded));
    }
    out.push((
        "the exported file".to_owned(),
        dockmap::share::export::VIEWER_JS
            .iter()
            .map(|s| s.to_string())
            .collect(),
    ));
    out
}

#[test]
fn every_script_declares_its_globals_and_every_page_loads_a_definer_first() {
    let scripts = scripts();
    assert!(scripts.len() >= 10, "{scripts:?}");
    let pages = pages();
    let mut checked = 0;
    for (page, loaded) in &pages {
        let mut defined: BTreeMap<&str, &str> = BTreeMap::new();
        for file in loaded {
            let (defines, uses) = scripts
                .get(file)
                .unwrap_or_else(|| panic!("{page} loads {file}, which is not in web/"));
            for u in uses {
                assert!(
                    defined.contains_key(u.as_str()),
                    "{page}: {file} uses window.{u} before any script defines it ({loaded:?})"
                );
            }
            for d in defines {
                if let Some(other) = defined.insert(d, file) {
                    panic!("{page}: window.{d} is defined by both {other} and {file}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} script loads checked");
}

#[test]
fn the_header_check_sees_a_global_used_but_not_declared() {
    let text = "// Globals: defines window.dockmapA; uses none.\n\
                window.dockmapA = 1;\n\
                window.dockmapB.x();\n";
    let declared = header("t.js", text);
    assert_ne!(code(text), declared);
    assert_eq!(
        code(text).1,
        BTreeSet::from(["dockmapB".to_owned()]),
        "the read of dockmapB is seen"
    );
}
