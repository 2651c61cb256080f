//! The front end's files under web/ (scripts, styles, the icon): embedded in release builds,
//! read from disk in debug builds (rust-embed). The web server serves them; the exporter
//! inlines them into a self-contained file.

use rust_embed::RustEmbed;

/// The files under web/.
#[derive(RustEmbed)]
#[folder = "web/"]
pub struct Assets;

/// A short content hash of an asset, for cache-busting URLs (`?v=`); empty if absent.
pub fn version(file: &str) -> String {
    Assets::get(file)
        .map(|f| {
            f.metadata.sha256_hash()[..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .unwrap_or_default()
}

/// The address a page names an asset by: `/static/FILE?v=VERSION`, so a new build is fetched
/// anew while an unchanged file stays cached. Templates call it for every asset they load.
pub fn url(file: &str) -> String {
    format!("/static/{file}?v={}", version(file))
}

/// The text of an asset (for tests and the exporter).
pub fn text(file: &str) -> Option<String> {
    Assets::get(file).map(|f| String::from_utf8_lossy(&f.data).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_loads_its_assets_through_the_versioned_url() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            // A literal `/static/` address would skip the version and stay cached after an upgrade.
            assert!(
                !text.contains("/static/"),
                "{} names an asset without url()",
                path.display()
            );
            for name in text.split("assets::url(\"").skip(1) {
                let file = name.split('"').next().unwrap();
                assert!(
                    Assets::get(file).is_some(),
                    "{}: no asset {file}",
                    path.display()
                );
                seen += 1;
            }
        }
        assert!(seen >= 20, "only {seen} asset references found");
        let u = url("store.js");
        assert!(u.starts_with("/static/store.js?v=") && u.len() > "/static/store.js?v=".len());
    }
}
