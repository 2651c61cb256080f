//! What one live round reads again, from what woke it: the decision that lets an update cost a
//! fraction of a full collection, and falls back to a full one whenever in doubt.

use std::collections::BTreeSet;

use super::watch::Wake;

/// What a round reads again. The kernel is always read whole (every namespace: links and nsids
/// are resolved across all of them at once, and sysctls, listeners and IPVS send no notification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reread {
    /// Everything: the first round, the periodic resync, lost notifications, the engine's event
    /// stream lost or back, a user's refresh.
    Everything,
    /// The kernel only: no engine event arrived, so the engine's facts are those of the last
    /// collection.
    Kernel,
    /// The kernel and the engine, inspecting again only the containers these events named (and
    /// any the container list shows new or different); the lists, networks and swarm are read
    /// again.
    Engine(BTreeSet<String>),
}

impl Reread {
    /// The round for these wake-ups; none at all is the idle timer, a resync.
    pub fn of(wakes: &[Wake]) -> Reread {
        if wakes.is_empty() || wakes.contains(&Wake::Overflow) {
            return Reread::Everything;
        }
        let mut named = BTreeSet::new();
        let mut engine = false;
        for w in wakes {
            if let Wake::Engine(container) = w {
                engine = true;
                named.extend(container.iter().cloned());
            }
        }
        if engine {
            Reread::Engine(named)
        } else {
            Reread::Kernel
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(ids: &[&str]) -> Reread {
        Reread::Engine(ids.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn each_set_of_wakes_rereads_what_it_concerns_and_everything_when_in_doubt() {
        let c = |id: &str| Wake::Engine(Some(id.into()));
        // The idle timer, lost notifications, a refresh or a reconnection: everything.
        assert_eq!(Reread::of(&[]), Reread::Everything);
        assert_eq!(Reread::of(&[Wake::Overflow]), Reread::Everything);
        assert_eq!(
            Reread::of(&[Wake::Kernel, c("a"), Wake::Overflow, Wake::Kernel]),
            Reread::Everything
        );
        // Only the kernel spoke: the engine's facts are kept.
        assert_eq!(Reread::of(&[Wake::Kernel]), Reread::Kernel);
        assert_eq!(Reread::of(&[Wake::Kernel, Wake::Kernel]), Reread::Kernel);
        // Engine events: the containers they name, once each, whatever the kernel said too.
        assert_eq!(
            Reread::of(&[Wake::Kernel, c("b"), c("a"), c("b")]),
            named(&["a", "b"])
        );
        // An event naming no container (a network created, a service, a task moved) still
        // makes it an engine round: lists, networks and swarm are read again.
        assert_eq!(Reread::of(&[Wake::Engine(None)]), named(&[]));
        assert_eq!(
            Reread::of(&[Wake::Engine(None), Wake::Kernel, c("a")]),
            named(&["a"])
        );
    }
}
