//! One self-contained HTML file: the view's SVG, the details of every element drawn, the
//! style and a small viewer script, all inline. Opened from disk it needs no server and
//! fetches nothing; its own Content-Security-Policy allows only its inline script and styles
//! (by hash) and no connection at all.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::assets;
use crate::graph::{self, Graph};
use crate::layout::{self, GraphIndex, Scene, View};
use crate::query::details;
use crate::render::{self, escape};
use crate::snapshot::{ClusterSnapshot, NodeSnapshot};

use super::key::PseudonymKey;
use super::pseudonym::{PseudonymError, Pseudonymizer};

/// Why an export could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Pseudonymizing failed.
    #[error(transparent)]
    Pseudonym(#[from] PseudonymError),
    /// The embedded data could not be written.
    #[error("cannot encode the export: {0}")]
    Encode(#[from] serde_json::Error),
    /// An asset is missing from this build.
    #[error("asset {0} is missing from this build")]
    Asset(&'static str),
    /// A snapshot file could not be read.
    #[error(transparent)]
    Read(#[from] crate::snapshot::file::ReadError),
}

/// The viewer scripts inlined into every export, in order: the pan/zoom and details panel the
/// page shares, then the offline viewer.
pub const VIEWER_JS: [&str; 3] = ["panzoom.js", "details.js", "offline.js"];

/// The one inline script of an export: the viewer scripts joined.
pub fn viewer_script() -> Result<String, ExportError> {
    VIEWER_JS
        .iter()
        .map(|name| assets::text(name).ok_or(ExportError::Asset(name)))
        .collect::<Result<Vec<_>, _>>()
        .map(|parts| parts.join("\n"))
}
/// The styles inlined, in order.
pub const STYLES: &[&str] = &["app.css", "map.css", "offline.css"];

/// What an export holds, besides its HTML.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The HTML file.
    pub html: String,
    /// How many elements are drawn (and have their details inside).
    pub drawn: usize,
    /// When the snapshot was taken.
    pub taken_at: String,
}

#[derive(Serialize)]
struct Embedded<'a> {
    schema: &'static str,
    taken_at: &'a str,
    pseudonymized: bool,
    view: String,
    /// Element ID → what `/api/element` answers for it.
    details: serde_json::Map<String, Value>,
}

/// A cluster snapshot of node snapshots read or collected on one machine (every node fresh).
pub fn cluster_of(snaps: Vec<NodeSnapshot>, source: &str) -> ClusterSnapshot {
    let mut c = ClusterSnapshot::of_nodes(snaps, source);
    c.normalize();
    c
}

/// Read a snapshot file: a node snapshot, a JSON array of them, or a cluster snapshot.
pub fn read_snapshot_file(path: &Path) -> Result<ClusterSnapshot, ExportError> {
    Ok(crate::snapshot::file::read_cluster(path)?)
}

/// Pseudonymize a cluster snapshot, and the element IDs a view names, with one key.
pub fn pseudonymized(
    c: &ClusterSnapshot,
    view: &View,
    key: &PseudonymKey,
) -> Result<(ClusterSnapshot, View), ExportError> {
    let mut p = Pseudonymizer::new(key);
    let out = p.cluster(c)?;
    let mut v = view.clone();
    v.open = view.open.iter().map(|id| p.text(id)).collect();
    v.shut = view.shut.iter().map(|id| p.text(id)).collect();
    v.select = view.select.as_deref().map(|id| p.text(id));
    Ok((out, v))
}

/// Export a view of a cluster snapshot as one HTML file (pseudonymized with `key`, if given).
pub fn export_html(
    c: &ClusterSnapshot,
    view: &View,
    key: Option<&PseudonymKey>,
) -> Result<Exported, ExportError> {
    let (c, view) = match key {
        Some(k) => pseudonymized(c, view, k)?,
        None => (c.clone(), view.clone()),
    };
    let mut c = c;
    c.normalize();
    let g = graph::build_cluster(&c);
    let snaps: Vec<NodeSnapshot> = c.snapshots().into_iter().cloned().collect();
    render_html(&g, &snaps, &view, &c.taken_at, key.is_some())
}

/// The HTML of a view of a graph (with the snapshots the panel's rules come from).
pub fn render_html(
    g: &Graph,
    snaps: &[NodeSnapshot],
    view: &View,
    taken_at: &str,
    pseudonymized: bool,
) -> Result<Exported, ExportError> {
    let ix = GraphIndex::new(g);
    let lay = layout::layout_indexed(g, &ix, view);
    let svg = render::svg(&lay.scene);
    let map = drawn_details(g, &ix, snaps, &lay.scene)?;
    let drawn = map.len();
    let data = Embedded {
        schema: "dockmap.export/1",
        taken_at,
        pseudonymized,
        view: lay.view.to_query(),
        details: map,
    };
    let json = script_safe(&serde_json::to_string(&data)?);
    let js = viewer_script()?;
    let styles = styles()?;
    let page = Page {
        taken_at,
        styles: &styles,
        svg: &svg,
        note: &note(taken_at, drawn, pseudonymized),
        json: &json,
        js: &js,
    };
    Ok(Exported {
        html: page.html(),
        drawn,
        taken_at: taken_at.to_owned(),
    })
}

/// What `/api/element` answers for every element drawn, by ID (the panel has no server to ask).
fn drawn_details(
    g: &Graph,
    ix: &GraphIndex,
    snaps: &[NodeSnapshot],
    scene: &Scene,
) -> Result<serde_json::Map<String, Value>, ExportError> {
    let mut map = serde_json::Map::new();
    for n in &scene.nodes {
        if let Some(d) = details(g, ix, snaps, &n.id) {
            map.insert(n.id.clone(), serde_json::to_value(&d)?);
        }
    }
    Ok(map)
}

/// The [`STYLES`]' texts, in order.
fn styles() -> Result<Vec<String>, ExportError> {
    let mut styles = Vec::new();
    for s in STYLES {
        styles.push(assets::text(s).ok_or(ExportError::Asset(s))?);
    }
    Ok(styles)
}

/// The status bar's words: what the file is, and that it cannot fold.
fn note(taken_at: &str, drawn: usize, pseudonymized: bool) -> String {
    format!(
        "Snapshot {taken_at} · {drawn} elements drawn{} · a file exported from dockmap: \
         what was drawn, with every drawn element's details. Folding and unfolding need the dockmap server.",
        if pseudonymized {
            " · names, addresses and MACs pseudonymized"
        } else {
            ""
        }
    )
}

/// A policy that lets the file run exactly its own inline script and styles (by hash) and
/// load or send nothing.
fn content_security_policy(js: &str, styles: &[String]) -> String {
    format!(
        "default-src 'none'; script-src '{}'; style-src {}; img-src data:; base-uri 'none'; form-action 'none'",
        hash_source(js),
        styles
            .iter()
            .map(|s| format!("'{}'", hash_source(s)))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// The parts of the exported page, each ready to inline (the JSON script-safe, the SVG escaped
/// by its writer).
struct Page<'a> {
    /// When the snapshot was taken (the title).
    taken_at: &'a str,
    /// The style sheets.
    styles: &'a [String],
    /// The drawing.
    svg: &'a str,
    /// The status bar's words.
    note: &'a str,
    /// The embedded data.
    json: &'a str,
    /// The viewer script.
    js: &'a str,
}

impl Page<'_> {
    /// The whole file.
    fn html(&self) -> String {
        let mut html =
            String::with_capacity(self.svg.len() + self.json.len() + self.js.len() + 32_768);
        self.head(&mut html);
        self.body(&mut html);
        html
    }

    /// From the doctype to `</head>`: the policy, the title and the styles.
    fn head(&self, html: &mut String) {
        let csp = content_security_policy(self.js, self.styles);
        html.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        html.push_str(&format!(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n",
            escape(&csp)
        ));
        html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        html.push_str(&format!(
            "<title>dockmap · {}</title>\n",
            escape(self.taken_at)
        ));
        for s in self.styles {
            html.push_str("<style>");
            html.push_str(s);
            html.push_str("</style>\n");
        }
        html.push_str("</head>\n");
    }

    /// From `<body>` to the end: the bar, the drawing, the panel, the status, data and script.
    fn body(&self, html: &mut String) {
        html.push_str("<body class=\"export\">\n<header class=\"bar\">\n<span class=\"brand\">dockmap</span>\n");
        html.push_str(
            "<div class=\"search\"><input id=\"q\" type=\"search\" placeholder=\"Search the drawn elements: name, IP, MAC  ( / )\" autocomplete=\"off\" spellcheck=\"false\" aria-label=\"Search\"><ul id=\"hits\" hidden></ul></div>\n",
        );
        html.push_str("<div class=\"tools\"><button id=\"fit\" type=\"button\" title=\"Fit to screen (f)\">Fit</button><button id=\"zoom-in\" type=\"button\" title=\"Zoom in (+)\">+</button><button id=\"zoom-out\" type=\"button\" title=\"Zoom out (−)\">−</button><button id=\"theme\" type=\"button\" title=\"Light / dark theme\">◐</button></div>\n</header>\n");
        html.push_str(
            "<main>\n<div id=\"stage\" tabindex=\"0\" aria-label=\"Network map\"><div id=\"world\">",
        );
        html.push_str(self.svg);
        html.push_str("</div></div>\n<aside id=\"panel\" hidden><button id=\"panel-close\" type=\"button\" title=\"Close (Esc)\">×</button><div id=\"panel-body\"></div></aside>\n</main>\n");
        html.push_str(&format!(
            "<footer id=\"status\"><span id=\"status-text\" class=\"export-note\">{}</span></footer>\n",
            escape(self.note)
        ));
        html.push_str("<script type=\"application/json\" id=\"dm-data\">");
        html.push_str(self.json);
        html.push_str("</script>\n<script>");
        html.push_str(self.js);
        html.push_str("</script>\n</body>\n</html>\n");
    }
}

/// JSON that can sit inside a `<script>` element: no `<` (so no `</script>`), no `&`.
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// A CSP hash source (`sha256-<base64>`) for inline content.
pub fn hash_source(content: &str) -> String {
    format!("sha256-{}", base64(&Sha256::digest(content.as_bytes())))
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{snapshots, SyntheticOptions, HOSTILE_NETWORK};

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        // The CSP hash of "" is well known.
        assert_eq!(
            hash_source(""),
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn an_export_holds_everything_and_loads_nothing() {
        let c = cluster_of(
            snapshots(&SyntheticOptions {
                hosts: 1,
                containers: 6,
                hostile_names: true,
            }),
            "test",
        );
        let e = export_html(&c, &View::default(), None).unwrap();
        let h = &e.html;
        assert!(e.drawn > 20);
        for bad in [
            "<link",
            "<img",
            "<iframe",
            " src=\"",
            " href=\"",
            "url(",
            "fetch(",
            "XMLHttpRequest",
            "import(",
        ] {
            assert!(!h.contains(bad), "the export holds {bad:?}");
        }
        // The engine's markup is text everywhere: drawn escaped, embedded without `<`.
        assert!(!h.contains(HOSTILE_NETWORK));
        let data_start = h.find("id=\"dm-data\">").unwrap();
        let data_end = data_start + h[data_start..].find("</script>").unwrap();
        assert!(!h[data_start + 13..data_end].contains('<'));
        // Its CSP allows exactly the inline script and styles it holds.
        let js = viewer_script().unwrap();
        assert!(h.contains(&hash_source(&js)));
        assert!(h.contains("default-src &#39;none&#39;; script-src &#39;sha256-"));
        assert!(h.contains("Folding and unfolding need the dockmap server"));
    }

    #[test]
    fn a_pseudonymized_export_names_no_original_host_or_container() {
        let snaps = snapshots(&SyntheticOptions {
            hosts: 2,
            containers: 10,
            hostile_names: false,
        });
        let names: Vec<String> = snaps
            .iter()
            .flat_map(|s| {
                let mut v = vec![s.node.hostname.clone()];
                v.extend(
                    s.engine
                        .iter()
                        .flat_map(|e| e.containers.iter().map(|c| c.name.clone())),
                );
                v
            })
            .collect();
        let c = cluster_of(snaps, "test");
        let key = PseudonymKey::from_bytes([1; 32]);
        let view = View::from_query("open=host%3Anode-00");
        let e = export_html(&c, &view, Some(&key)).unwrap();
        for n in &names {
            assert!(!e.html.contains(n.as_str()), "{n} in the export");
        }
        // The opened host stays open under its pseudonym.
        let again = export_html(&c, &view, Some(&key)).unwrap();
        assert_eq!(again.html, e.html, "the same key gives the same file");
    }
}
