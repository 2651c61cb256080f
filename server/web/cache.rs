//! Recently drawn views, so reloading, exporting or linking the same view costs nothing.

use std::sync::{Arc, Mutex};

use crate::layout::{self, Layout, View};
use crate::render;

use super::worker::{Worker, WorkerGone};

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

/// (snapshot key, generation, canonical view, the drawing).
type Entry = (String, u64, String, Arc<Rendered>);

/// A small most-recently-used cache keyed by (snapshot key, generation, canonical view).
#[derive(Default)]
pub struct RenderCache {
    entries: Mutex<Vec<Entry>>,
}

impl RenderCache {
    /// Forget everything (a new snapshot arrived).
    pub fn clear(&self) {
        if let Ok(mut e) = self.entries.lock() {
            e.clear();
        }
    }

    /// The rendered view of generation `generation` of the snapshot keyed `snap`, from the cache
    /// or laid out now by that generation's layout worker.
    pub async fn get_or_render(
        &self,
        snap: &str,
        generation: u64,
        layouts: &Worker,
        view: &View,
    ) -> Result<Arc<Rendered>, WorkerGone> {
        let view_key = view.to_query();
        if let Ok(mut e) = self.entries.lock() {
            if let Some(pos) = e
                .iter()
                .position(|(s, g, k, _)| s == snap && *g == generation && *k == view_key)
            {
                let hit = e.remove(pos);
                let r = hit.3.clone();
                e.push(hit);
                return Ok(r);
            }
        }
        let v = view.clone();
        let r = layouts
            .run("layout", move |d, ix| {
                let layout = layout::layout_indexed(&d.graph, ix, &v);
                let svg = render::svg(&layout.scene);
                Arc::new(Rendered { layout, svg })
            })
            .await?;
        if let Ok(mut e) = self.entries.lock() {
            // A live view of an older generation is never asked for again.
            e.retain(|(s, g, _, _)| s != snap || *g == generation);
            if e.len() >= KEEP {
                e.remove(0);
            }
            e.push((snap.to_owned(), generation, view_key, r.clone()));
        }
        Ok(r)
    }
}
