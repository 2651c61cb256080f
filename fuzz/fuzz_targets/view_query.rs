//! The view's query string (fold, hide, select, ...): read, written back, and laid out.
#![no_main]

use std::sync::OnceLock;

use dockmap::graph::Graph;
use dockmap::layout::{layout, View};
use libfuzzer_sys::fuzz_target;

fn graph() -> &'static Graph {
    static G: OnceLock<Graph> = OnceLock::new();
    G.get_or_init(|| dockmap::web::state::derive(&mut dockmap_fuzz::small().to_vec()))
}

fuzz_target!(|data: &[u8]| {
    let Ok(q) = std::str::from_utf8(data) else {
        return;
    };
    let v = View::from_query(q);
    let again = View::from_query(&v.to_query());
    assert_eq!(
        again.to_query(),
        v.to_query(),
        "a view written back reads the same"
    );
    let l = layout(graph(), &v);
    let _ = dockmap::render::svg(&l.scene);
});
