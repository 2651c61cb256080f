//! Drawing patches: what changed between two drawings of one view, as `/scene.patch` sends it.
//!
//! A live page holds the drawing of an older generation; one container more should not cost it
//! the whole new drawing. Both SVGs are split as `render::svg` writes them: the root `<svg>` tag,
//! then layers (boxes, edges, leaves) of top-level items (a node's `<g data-id>`, an edge's
//! `<path>`). Items are matched by key (a node's id; an edge's ends and kind, numbered when
//! repeated); each layer's change is a list of [`Edit`]s applied to the page's children in order:
//! an item that only moved is sent as its move, an edge whose ends moved as its new attributes,
//! anything else changed as its new markup.
//! [`apply`] is the page's algorithm (`web/app.js`) on markup, so tests can check that a patch
//! gives back the new drawing byte for byte. Drawings of another shape get no patch (`None`):
//! the page is sent the whole drawing.

use std::collections::HashMap;

use serde::ser::{Serialize, Serializer};

use crate::render::escape;

/// One step through a layer's children, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// The next `n` children stay as they are (`["k", n]`).
    Keep(usize),
    /// The next `n` children go (`["r", n]`).
    Remove(usize),
    /// The next `n` items of [`Patch::markup`] are put here (`["i", n]`).
    Insert(usize),
    /// The next child moves by (dx, dy): every `x`, `y`, `points` and absolute path coordinate
    /// of it and its descendants (`["m", dx, dy]`).
    Shift(i64, i64),
    /// The next child (one element without children) takes these attribute values, unescaped
    /// (`["a", [[name, value], …]]`): an edge whose ends moved apart.
    Set(Vec<(String, String)>),
}

impl Serialize for Edit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Edit::Keep(n) => ("k", n).serialize(s),
            Edit::Remove(n) => ("r", n).serialize(s),
            Edit::Insert(n) => ("i", n).serialize(s),
            Edit::Shift(dx, dy) => ("m", dx, dy).serialize(s),
            Edit::Set(set) => ("a", set).serialize(s),
        }
    }
}

/// The change from one drawing to another.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Patch {
    /// The root `<svg>` attributes whose values changed, with their new (unescaped) values.
    pub root: Vec<(String, String)>,
    /// Each layer's edits, in drawing order; a layer's children after the last edit stay.
    pub layers: Vec<Vec<Edit>>,
    /// The inserted items, concatenated, in the order the `Insert` edits take them.
    pub markup: String,
    /// How many children each layer has before (the page checks it holds that drawing)...
    pub had: Vec<usize>,
    /// ... and after.
    pub has: Vec<usize>,
}

impl Patch {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.root.is_empty() && self.layers.iter().all(Vec::is_empty)
    }
}

/// A drawing split into its parts: the root tag, the fixed markup around the layers
/// (`frame[i]` comes before layer `i`, the last one after the last layer), the layers' items.
struct Split<'a> {
    root: &'a str,
    frame: Vec<&'a str>,
    layers: Vec<Vec<&'a str>>,
}

/// The end (exclusive) of the tag starting at `at` (a `<`).
fn tag_end(s: &str, at: usize) -> Option<usize> {
    s[at..].find('>').map(|i| at + i + 1)
}

/// The end of the element starting at `at`, with its descendants; text between tags is skipped
/// (it is escaped, so it holds no `<`).
fn item_end(s: &str, at: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut p = at;
    loop {
        let open = p + s[p..].find('<')?;
        let end = tag_end(s, open)?;
        let tag = &s[open..end];
        if tag.starts_with("</") {
            depth = depth.checked_sub(1)?;
        } else if !tag.ends_with("/>") {
            depth += 1;
        }
        if depth == 0 {
            return Some(end);
        }
        p = end;
    }
}

/// The top-level elements of `s` from `at` until a closing tag (or the end); returns them and
/// where they stopped.
fn items(s: &str, mut at: usize) -> Option<(Vec<&str>, usize)> {
    let mut out = Vec::new();
    while at < s.len() && !s[at..].starts_with("</") {
        if !s[at..].starts_with('<') {
            return None;
        }
        let end = item_end(s, at)?;
        out.push(&s[at..end]);
        at = end;
    }
    Some((out, at))
}

/// Split a drawing: `<svg …>` `<g id="vp">` then `<g …>` layers of items, then the closing tags.
fn split(svg: &str) -> Option<Split<'_>> {
    if !svg.starts_with("<svg") {
        return None;
    }
    let root_end = tag_end(svg, 0)?;
    let vp_end = tag_end(svg, root_end)?;
    let mut frame_start = root_end;
    let mut at = vp_end;
    let (mut frame, mut layers) = (Vec::new(), Vec::new());
    while svg[at..].starts_with("<g") {
        let open_end = tag_end(svg, at)?;
        frame.push(&svg[frame_start..open_end]);
        let (layer, stop) = items(svg, open_end)?;
        layers.push(layer);
        frame_start = stop;
        at = tag_end(svg, stop)?;
    }
    frame.push(&svg[frame_start..]);
    Some(Split {
        root: &svg[..root_end],
        frame,
        layers,
    })
}

/// The attributes of one tag, as written (values still escaped).
fn attrs(tag: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let body = tag.trim_start_matches('<').trim_end_matches('>');
    let body = body.trim_end_matches('/');
    let mut rest = body.find(' ').map_or("", |i| &body[i..]);
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq].trim();
        let after = &rest[eq + 2..];
        let Some(close) = after.find('"') else { break };
        out.push((name, &after[..close]));
        rest = &after[close + 1..];
    }
    out
}

/// What an item is matched by across two drawings (before numbering repeats).
fn key_of(item: &str) -> String {
    let first = &item[..tag_end(item, 0).unwrap_or(item.len())];
    let a = attrs(first);
    let get = |n: &str| a.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
    if let Some(id) = get("data-id") {
        return format!("n\u{0}{id}");
    }
    if let (Some(s), Some(t)) = (get("data-s"), get("data-t")) {
        let kind = get("class")
            .and_then(|c| c.split(' ').find(|c| c.starts_with("k-")))
            .unwrap_or("");
        return format!("e\u{0}{s}\u{0}{t}\u{0}{kind}");
    }
    format!("t\u{0}{first}")
}

/// Every item's key, repeats numbered in order, so keys are unique within a layer.
fn keys(layer: &[&str]) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    layer
        .iter()
        .map(|item| {
            let k = key_of(item);
            let n = seen.entry(k.clone()).or_default();
            *n += 1;
            format!("{k}\u{0}{n}")
        })
        .collect()
}

/// Which axis a coordinate is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Axis {
    X,
    Y,
}

/// Rewrite the numbers of one coordinate attribute with `f`; `None` when a number is not an
/// integer (the page's shift handles integers only) or an absolute command is one it does not
/// shift. `x`/`y`: one number; `points`: x,y pairs; `d`: M, L, C pairs, H (x), V (y) moved,
/// lowercase (relative) commands left as they are.
fn map_numbers(name: &str, value: &str, f: &mut impl FnMut(Axis, i64) -> i64) -> Option<String> {
    let mut out = String::with_capacity(value.len() + 4);
    let mut cmd = 'M';
    let mut count = 0usize;
    let b = value.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c == '-' || c.is_ascii_digit() {
            let start = i;
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i < b.len() && matches!(b[i], b'.' | b'e' | b'E') {
                return None;
            }
            let n: i64 = value[start..i].parse().ok()?;
            // Pairs: x first.
            let pair = if count.is_multiple_of(2) {
                Axis::X
            } else {
                Axis::Y
            };
            let axis = match name {
                "x" => Some(Axis::X),
                "y" => Some(Axis::Y),
                "points" => Some(pair),
                _ => match cmd {
                    'M' | 'L' | 'C' => Some(pair),
                    'H' => Some(Axis::X),
                    'V' => Some(Axis::Y),
                    c if c.is_ascii_lowercase() => None,
                    _ => return None,
                },
            };
            count += 1;
            match axis {
                Some(a) => out.push_str(&f(a, n).to_string()),
                None => out.push_str(&value[start..i]),
            }
            continue;
        }
        if name == "d" && c.is_ascii_alphabetic() {
            cmd = c;
            count = 0;
        } else if c == '.' || (name != "d" && c.is_ascii_alphabetic()) {
            return None;
        }
        out.push(c);
        i += 1;
    }
    Some(out)
}

/// The item with every coordinate rewritten by `f` (see [`map_numbers`]); `None` when one
/// cannot be.
fn map_coords(item: &str, f: &mut impl FnMut(Axis, i64) -> i64) -> Option<String> {
    rewrite(item, &mut |name, value| {
        if matches!(name, "x" | "y" | "points" | "d") {
            map_numbers(name, value, f).map(Some)
        } else {
            Some(None)
        }
    })
}

/// The item with attribute values rewritten, tag by tag: `f(name, value)` (value as written)
/// says `Some(None)` to keep it, `Some(Some(new))` to write `new` instead, `None` to give up.
fn rewrite(item: &str, f: &mut impl FnMut(&str, &str) -> Option<Option<String>>) -> Option<String> {
    let mut out = String::with_capacity(item.len() + 16);
    let mut p = 0;
    while let Some(open) = item[p..].find('<').map(|i| p + i) {
        out.push_str(&item[p..open]);
        let end = tag_end(item, open)?;
        let tag = &item[open..end];
        let mut q = 0;
        for (name, value) in attrs(tag) {
            let Some(new) = f(name, value)? else {
                continue;
            };
            // `attrs` hands out slices of `tag`: where this value sits in it.
            let at = value.as_ptr() as usize - tag.as_ptr() as usize;
            out.push_str(&tag[q..at]);
            out.push_str(&new);
            q = at + value.len();
        }
        out.push_str(&tag[q..]);
        p = end;
    }
    out.push_str(&item[p..]);
    Some(out)
}

/// `item` (one element without children) with the attributes of `set` given their values, as
/// the page's `setAttribute` gives them.
fn with_attrs(item: &str, set: &[(String, String)]) -> Option<String> {
    rewrite(item, &mut |name, _| {
        Some(
            set.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| escape(v).into_owned()),
        )
    })
}

/// The attributes to set on `old` to make it `new`, if both are one element without children,
/// of one name and attribute names, and only values differ (an edge whose ends moved apart).
fn attrs_between(old: &str, new: &str) -> Option<Vec<(String, String)>> {
    let single = |s: &str| s.ends_with("/>") && tag_end(s, 0) == Some(s.len());
    let name = |s: &str| s.split([' ', '/', '>']).next().map(str::to_owned);
    if !single(old) || !single(new) || name(old) != name(new) {
        return None;
    }
    let (a, b) = (attrs(old), attrs(new));
    if a.len() != b.len() || a.iter().zip(&b).any(|(x, y)| x.0 != y.0) {
        return None;
    }
    let set: Vec<(String, String)> = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| x.1 != y.1)
        .map(|(_, (n, v))| ((*n).to_owned(), unescape(v)))
        .collect();
    (!set.is_empty() && with_attrs(old, &set).as_deref() == Some(new)).then_some(set)
}

/// `item` moved by (dx, dy), as the page moves it.
pub fn shifted(item: &str, dx: i64, dy: i64) -> Option<String> {
    map_coords(item, &mut |a, n| match a {
        Axis::X => n + dx,
        Axis::Y => n + dy,
    })
}

/// The item's first x and first y coordinate (0 where it has none).
fn first_point(item: &str) -> Option<(i64, i64)> {
    let (mut x, mut y) = (None, None);
    map_coords(item, &mut |a, n| {
        match a {
            Axis::X => x = x.or(Some(n)),
            Axis::Y => y = y.or(Some(n)),
        }
        n
    })?;
    Some((x.unwrap_or(0), y.unwrap_or(0)))
}

/// The move that turns `old` into `new`, if moving is all that changed.
fn shift_between(old: &str, new: &str) -> Option<(i64, i64)> {
    let (ox, oy) = first_point(old)?;
    let (nx, ny) = first_point(new)?;
    let (dx, dy) = (nx - ox, ny - oy);
    ((dx, dy) != (0, 0) && shifted(old, dx, dy).as_deref() == Some(new)).then_some((dx, dy))
}

/// Appends edits, merging runs of one kind.
#[derive(Default)]
struct Edits(Vec<Edit>);

impl Edits {
    fn push(&mut self, e: Edit) {
        match (self.0.last_mut(), &e) {
            (Some(Edit::Keep(n)), Edit::Keep(m))
            | (Some(Edit::Remove(n)), Edit::Remove(m))
            | (Some(Edit::Insert(n)), Edit::Insert(m)) => *n += m,
            _ => self.0.push(e),
        }
    }

    fn done(mut self) -> Vec<Edit> {
        if matches!(self.0.last(), Some(Edit::Keep(_))) {
            self.0.pop();
        }
        self.0
    }
}

/// The longest run of `seq`'s entries (indexes into `seq`) whose values increase: the items
/// that keep their order, so everything else is removed and inserted.
fn increasing(seq: &[(usize, usize)]) -> Vec<usize> {
    // tails[k]: the index in `seq` ending the best run of length k + 1 found so far.
    let mut tails: Vec<usize> = Vec::new();
    let mut before: Vec<Option<usize>> = vec![None; seq.len()];
    for (i, &(_, v)) in seq.iter().enumerate() {
        let at = tails.partition_point(|&t| seq[t].1 < v);
        before[i] = at.checked_sub(1).map(|a| tails[a]);
        if at == tails.len() {
            tails.push(i);
        } else {
            tails[at] = i;
        }
    }
    let mut out = Vec::with_capacity(tails.len());
    let mut cur = tails.last().copied();
    while let Some(i) = cur {
        out.push(i);
        cur = before[i];
    }
    out.reverse();
    out
}

/// One layer's edits from `old` to `new`; inserted items are appended to `markup`.
fn diff_layer(old: &[&str], new: &[&str], markup: &mut String) -> Vec<Edit> {
    let old_keys = keys(old);
    let new_keys = keys(new);
    let at_old: HashMap<&str, usize> = old_keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    // (new index, old index) of the items in both, in new order.
    let both: Vec<(usize, usize)> = new_keys
        .iter()
        .enumerate()
        .filter_map(|(j, k)| at_old.get(k.as_str()).map(|&i| (j, i)))
        .collect();
    // stays[new index]: the old item it keeps in place.
    let mut stays: Vec<Option<usize>> = vec![None; new.len()];
    for i in increasing(&both) {
        stays[both[i].0] = Some(both[i].1);
    }
    let mut edits = Edits::default();
    let mut o = 0;
    for (j, item) in new.iter().enumerate() {
        let Some(i) = stays[j] else {
            markup.push_str(item);
            edits.push(Edit::Insert(1));
            continue;
        };
        if i > o {
            edits.push(Edit::Remove(i - o));
        }
        o = i + 1;
        if old[i] == *item {
            edits.push(Edit::Keep(1));
        } else if let Some((dx, dy)) = shift_between(old[i], item) {
            edits.push(Edit::Shift(dx, dy));
        } else if let Some(set) = attrs_between(old[i], item) {
            edits.push(Edit::Set(set));
        } else {
            edits.push(Edit::Remove(1));
            markup.push_str(item);
            edits.push(Edit::Insert(1));
        }
    }
    if old.len() > o {
        edits.push(Edit::Remove(old.len() - o));
    }
    edits.done()
}

/// Undo [`escape`] (attribute values go to the page's `setAttribute` as text).
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The patch from drawing `old` to drawing `new`; `None` when they are not two drawings of
/// the shape `render::svg` writes (other layers, other root attributes): send the whole one.
pub fn diff(old: &str, new: &str) -> Option<Patch> {
    let (a, b) = (split(old)?, split(new)?);
    if a.frame != b.frame {
        return None;
    }
    let (ra, rb) = (attrs(a.root), attrs(b.root));
    if ra.len() != rb.len() || ra.iter().zip(&rb).any(|(x, y)| x.0 != y.0) {
        return None;
    }
    let root = ra
        .iter()
        .zip(&rb)
        .filter(|(x, y)| x.1 != y.1)
        .map(|(_, (n, v))| ((*n).to_owned(), unescape(v)))
        .collect();
    let mut markup = String::new();
    let layers = a
        .layers
        .iter()
        .zip(&b.layers)
        .map(|(o, n)| diff_layer(o, n, &mut markup))
        .collect();
    Some(Patch {
        root,
        layers,
        markup,
        had: a.layers.iter().map(Vec::len).collect(),
        has: b.layers.iter().map(Vec::len).collect(),
    })
}

/// Why a patch does not fit the drawing it is applied to.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the patch does not fit this drawing: {0}")]
pub struct Misfit(&'static str);

/// `patch` applied to drawing `old`, as the page applies it to its DOM.
pub fn apply(old: &str, patch: &Patch) -> Result<String, Misfit> {
    let s = split(old).ok_or(Misfit("not a drawing"))?;
    if s.layers.iter().map(Vec::len).ne(patch.had.iter().copied())
        || s.layers.len() != patch.layers.len()
    {
        return Err(Misfit("other layers"));
    }
    let (pool, _) = items(&patch.markup, 0).ok_or(Misfit("the markup is not elements"))?;
    let mut pool = pool.into_iter();
    let mut out = String::with_capacity(old.len() + patch.markup.len());
    let mut root = s.root.to_owned();
    for (name, value) in &patch.root {
        let old_value = attrs(&root)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| format!(" {name}=\"{v}\""))
            .ok_or(Misfit("a root attribute it does not have"))?;
        root = root.replacen(&old_value, &format!(" {name}=\"{}\"", escape(value)), 1);
    }
    out.push_str(&root);
    for (k, (layer, edits)) in s.layers.iter().zip(&patch.layers).enumerate() {
        out.push_str(s.frame[k]);
        let mut children = layer.iter();
        for e in edits {
            match e {
                &Edit::Keep(n) => {
                    for _ in 0..n {
                        out.push_str(children.next().ok_or(Misfit("keeps past the end"))?);
                    }
                }
                &Edit::Remove(n) => {
                    for _ in 0..n {
                        children.next().ok_or(Misfit("removes past the end"))?;
                    }
                }
                &Edit::Insert(n) => {
                    for _ in 0..n {
                        out.push_str(pool.next().ok_or(Misfit("inserts more than it holds"))?);
                    }
                }
                &Edit::Shift(dx, dy) => {
                    let c = children.next().ok_or(Misfit("moves past the end"))?;
                    out.push_str(&shifted(c, dx, dy).ok_or(Misfit("moves what cannot move"))?);
                }
                Edit::Set(set) => {
                    let c = children.next().ok_or(Misfit("sets past the end"))?;
                    out.push_str(&with_attrs(c, set).ok_or(Misfit("sets on what it cannot"))?);
                }
            }
        }
        for c in children {
            out.push_str(c);
        }
    }
    out.push_str(s.frame.last().copied().unwrap_or(""));
    Ok(out)
}

#[cfg(test)]
mod tests;
