//! Recently drawn views, so reloading, exporting or linking the same view costs nothing, and
//! the drawings live pages hold, which their patches (`/scene.patch`) are computed from.

use std::sync::{Arc, Mutex};

use crate::layout::{self, Layout, View};
use crate::render;

use super::worker::{Worker, WorkerGone};

/// How many views are kept.
const KEEP: usize = 8;

/// How many of a snapshot's newest generations keep their drawings: a page that fell this far
/// behind is still sent a patch; one further behind gets the whole drawing.
const GENERATIONS: u64 = 3;

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
    /// A new generation arrived: forget the drawings no page will draw or patch from again,
    /// keeping those of each snapshot's last [`GENERATIONS`] generations.
    pub fn new_generation(&self) {
        if let Ok(mut e) = self.entries.lock() {
            let newest: Vec<(String, u64)> = e.iter().map(|(s, g, _, _)| (s.clone(), *g)).collect();
            e.retain(|(s, g, _, _)| {
                let top = newest
                    .iter()
                    .filter(|(n, _)| n == s)
                    .map(|(_, g)| *g)
                    .max()
                    .unwrap_or(*g);
                g + GENERATIONS > top
            });
        }
    }

    /// The drawing of `view` (a canonical query, [`View::to_query`]) of generation
    /// `generation` of the snapshot keyed `snap`, if it is still held; never drawn anew.
    pub fn held(&self, snap: &str, generation: u64, view: &str) -> Option<Arc<Rendered>> {
        let e = self.entries.lock().ok()?;
        e.iter()
            .find(|(s, g, k, _)| s == snap && *g == generation && k == view)
            .map(|hit| hit.3.clone())
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
            // A live view of an older generation is never drawn again, but a page holding it
            // may ask for a patch from it.
            e.retain(|(s, g, _, _)| s != snap || g + GENERATIONS > generation);
            if e.len() >= KEEP {
                e.remove(0);
            }
            e.push((snap.to_owned(), generation, view_key, r.clone()));
        }
        Ok(r)
    }
}
