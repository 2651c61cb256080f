//! Recently drawn views, so reloading, exporting or linking the same view costs nothing.

use std::sync::{Arc, Mutex};

use crate::layout::{self, Layout, View};
use crate::render;

use super::state::Current;

/// How many views are kept.
const KEEP: usize = 8;

/// A laid-out, rendered view.
#[derive(Debug)]
pub struct Rendered {
    /// The layout (positions, and what the view resolved to).
    pub layout: Layout,
    /// The SVG markup.
    pub svg: String,
}

/// A small most-recently-used cache keyed by (generation, canonical view).
#[derive(Default)]
pub struct RenderCache {
    entries: Mutex<Vec<(u64, String, Arc<Rendered>)>>,
}

impl RenderCache {
    /// Forget everything (a new snapshot arrived).
    pub fn clear(&self) {
        if let Ok(mut e) = self.entries.lock() {
            e.clear();
        }
    }

    /// The rendered view, from the cache or computed now (on the calling thread: call from a blocking task).
    pub fn get_or_render(&self, cur: &Current, view: &View) -> Arc<Rendered> {
        let key = view.to_query();
        if let Ok(mut e) = self.entries.lock() {
            if let Some(pos) = e
                .iter()
                .position(|(g, k, _)| *g == cur.generation && *k == key)
            {
                let hit = e.remove(pos);
                let r = hit.2.clone();
                e.push(hit);
                return r;
            }
        }
        let layout = layout::layout(&cur.graph, view);
        let svg = render::svg(&layout.scene);
        let r = Arc::new(Rendered { layout, svg });
        if let Ok(mut e) = self.entries.lock() {
            e.retain(|(g, _, _)| *g == cur.generation);
            if e.len() >= KEEP {
                e.remove(0);
            }
            e.push((cur.generation, key, r.clone()));
        }
        r
    }
}
