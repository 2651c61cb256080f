//! Paths as text for a terminal: one line per hop, its verdict, the evidence indented verbatim.

use std::fmt::Write;

use super::model::{Outcome, PathAnswer, Question, Verdict};

/// The outcome in words.
pub fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Delivered => "delivered",
        Outcome::Blocked => "blocked",
        Outcome::Broken => "broken",
        Outcome::Unknown => "unknown",
    }
}

/// Render an answer.
pub fn render(a: &PathAnswer) -> String {
    let mut s = String::new();
    match &a.question {
        Question::Port {
            port,
            protocol,
            node,
        } => {
            let _ = write!(s, "port {port}/{protocol}");
            if let Some(n) = node {
                let _ = write!(s, " on {n}");
            }
            s.push('\n');
        }
        Question::Between { from, to } => {
            let _ = writeln!(s, "from {from} to {to}");
        }
    }
    for p in &a.paths {
        let _ = writeln!(
            s,
            "\npath {}: {} [{}]",
            p.id,
            p.title,
            outcome_word(p.outcome)
        );
        for (i, h) in p.hops.iter().enumerate() {
            let mark = match &h.verdict {
                Verdict::Pass => "ok",
                Verdict::Blocked(_) => "BLOCKED",
                Verdict::Broken(_) => "BROKEN",
                Verdict::Unknown(_) => "UNKNOWN",
            };
            let at = h.element.as_deref().unwrap_or("-");
            let _ = writeln!(s, "  {:>2}. [{mark}] {} ({at})", i + 1, h.text);
            for e in &h.evidence {
                let ns = if e.namespace.is_empty() {
                    String::new()
                } else {
                    format!(" {}", e.namespace)
                };
                let _ = writeln!(s, "        {}{ns}: {}", e.kind, e.text);
            }
        }
        let _ = writeln!(s, "  => {}", outcome_word(p.outcome));
    }
    if a.paths.is_empty() {
        s.push_str("\nno path\n");
    }
    for n in &a.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}

/// `198.18.0.2:80`, `[2001:2::2]:80`: an address and port as clients write them.
pub fn addr_port(ip: std::net::IpAddr, port: u16) -> String {
    std::net::SocketAddr::new(ip, port).to_string()
}
