//! What the user asked to see: fold overrides and filters, as a query string.
//!
//! The same query string is used by the page URL (so a link reopens the same
//! view), by `/scene.svg` and by `/api/graph`. Parameters (all optional,
//! repeatable where a list):
//!
//! - `open=<id>`: unfold this element (a host, a container's namespace, a
//!   namespace, a service). `open=*` unfolds everything.
//! - `shut=<id>`: fold this element.
//! - `hide=<token>`: hide a kind of element or edge, `loopback` or `down`.
//!   Without any `hide`, the defaults apply (see [`super::Policy`]); `hide=`
//!   (empty) shows everything.
//! - `sel=<id>`: the selected element (unfolded into view by the server).
//! - `aspect=<width/height>`: the shape of the screen the picture is for (the page's stage),
//!   0.3 to 4, in tenths; the hosts are wrapped into rows to match it. Without it, a
//!   1600×1000 window's stage ([`DEFAULT_ASPECT`]).

use std::collections::BTreeSet;

/// The stage's shape (width / height) the layout aims at when the view names none: the page's
/// stage in a 1600×1000 window (1600×790 under its toolbar and status bar).
pub const DEFAULT_ASPECT: f64 = 2.0;

/// Every token `hide=` understands, in the order the filter menu lists them.
pub const HIDE_TOKENS: &[&str] = &[
    "loopback",
    "down",
    "container",
    "network",
    "service",
    "task",
    "remote",
    "veth-pair",
    "bridge-port",
    "sandbox",
    "endpoint",
    "fdb",
    "carries",
    "runs",
    "has-task",
];

/// Fold overrides, filters and selection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// Elements explicitly unfolded.
    pub open: BTreeSet<String>,
    /// Elements explicitly folded.
    pub shut: BTreeSet<String>,
    /// Unfold everything (`open=*`).
    pub open_all: bool,
    /// Hidden tokens; `None` means "the defaults".
    pub hide: Option<BTreeSet<String>>,
    /// The selected element.
    pub select: Option<String>,
    /// The stage's shape asked for, in tenths of width / height (`aspect=1.7`: 17).
    pub aspect: Option<u32>,
}

impl View {
    /// Parse a query string (without the `?`); unknown parameters are ignored.
    pub fn from_query(query: &str) -> Self {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        let mut v = View::default();
        for (k, val) in pairs {
            match k.as_str() {
                "open" if val == "*" => v.open_all = true,
                "open" if !val.is_empty() => {
                    v.open.insert(val);
                }
                "shut" if !val.is_empty() => {
                    v.shut.insert(val);
                }
                "hide" => {
                    let set = v.hide.get_or_insert_with(BTreeSet::new);
                    for t in val.split(',').filter(|t| !t.is_empty()) {
                        if HIDE_TOKENS.contains(&t) {
                            set.insert(t.to_owned());
                        }
                    }
                }
                "sel" if !val.is_empty() => v.select = Some(val),
                "aspect" => {
                    v.aspect = val
                        .parse::<f64>()
                        .ok()
                        .filter(|a| a.is_finite())
                        .map(|a| (a * 10.0).round().clamp(3.0, 40.0) as u32);
                }
                _ => {}
            }
        }
        // An element both opened and shut: the later intent cannot be known, so shut wins (cheaper to draw).
        let both: Vec<String> = v.open.intersection(&v.shut).cloned().collect();
        for id in both {
            v.open.remove(&id);
        }
        v
    }

    /// The stage's shape (width / height) to lay out for.
    pub fn aspect(&self) -> f64 {
        self.aspect.map_or(DEFAULT_ASPECT, |a| f64::from(a) / 10.0)
    }

    /// The query string for this view, in a canonical order.
    pub fn to_query(&self) -> String {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if self.open_all {
            pairs.push(("open", "*"));
        }
        for id in &self.open {
            pairs.push(("open", id));
        }
        for id in &self.shut {
            pairs.push(("shut", id));
        }
        let hide_joined;
        if let Some(h) = &self.hide {
            hide_joined = h.iter().map(String::as_str).collect::<Vec<_>>().join(",");
            pairs.push(("hide", &hide_joined));
        }
        if let Some(s) = &self.select {
            pairs.push(("sel", s));
        }
        let aspect;
        if let Some(a) = self.aspect {
            aspect = format!("{}.{}", a / 10, a % 10);
            pairs.push(("aspect", &aspect));
        }
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_ignores_unknown_tokens() {
        let v = View::from_query(
            "open=host%3Aa&open=netns%3Aa%2Fx&shut=host%3Ab&hide=loopback,bogus&hide=fdb&sel=ctr%3Aa%2Fweb&zzz=1",
        );
        assert!(v.open.contains("host:a") && v.open.contains("netns:a/x"));
        assert!(v.shut.contains("host:b"));
        assert_eq!(
            v.hide,
            Some(["fdb", "loopback"].iter().map(|s| s.to_string()).collect())
        );
        assert_eq!(v.select.as_deref(), Some("ctr:a/web"));
    }

    #[test]
    fn empty_hide_means_show_everything_not_defaults() {
        assert_eq!(View::from_query("hide=").hide, Some(BTreeSet::new()));
        assert_eq!(View::from_query("").hide, None);
    }

    #[test]
    fn round_trips_through_the_query_string() {
        let v = View::from_query("open=*&open=a%26b&shut=c&hide=down&sel=x%3Cy&aspect=1.33");
        assert_eq!(View::from_query(&v.to_query()), v);
        assert!(v.open_all);
        assert_eq!(v.aspect, Some(13));
    }

    #[test]
    fn an_aspect_is_kept_within_bounds_and_nonsense_is_the_default() {
        assert_eq!(View::from_query("aspect=100").aspect(), 4.0);
        assert_eq!(View::from_query("aspect=0.01").aspect(), 0.3);
        assert_eq!(View::from_query("aspect=NaN").aspect, None);
        assert_eq!(View::from_query("aspect=wide").aspect(), DEFAULT_ASPECT);
        assert_eq!(View::from_query("aspect=2.04").to_query(), "aspect=2.0");
    }
}
