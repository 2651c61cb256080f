//! Docker engine facts through bollard: containers, networks, swarm membership and,
//! on managers, services, tasks and nodes.
//!
//! Only networking facts are kept: never env, command lines, secrets, or labels
//! other than `com.docker.swarm.*` / `com.docker.compose.*`. Objects that vanish
//! while being read are skipped (a race, not an error); anything else that
//! cannot be read is named in [`EngineFacts::problems`] and the rest is kept.

mod connect;
mod containers;
mod fetch;
mod json;
mod networks;
mod swarm;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use bollard::Docker;

use crate::snapshot::{Container, EngineFacts};

use super::CollectError;
use fetch::get;
use json::text;

pub use connect::{connect, DEFAULT_URL, REQUEST_TIMEOUT};

/// How many inspect requests are in flight at once: enough to hide latency, few enough not to load the engine.
const CONCURRENCY: usize = 16;

/// Everything the engine reports about networking. Never env, command lines, or labels other than com.docker.swarm.* / com.docker.compose.*.
///
/// Fails only when the engine does not answer at all; parts it cannot read are listed in `problems`.
pub async fn collect(docker: &Docker) -> Result<EngineFacts, CollectError> {
    collect_reusing(docker, None).await.map(|(facts, _)| facts)
}

/// [`collect`], but with `earlier` (facts read before, and the containers events named since)
/// a container no event named whose list entry still agrees is taken over instead of inspected;
/// everything else (version, info, the lists, networks, swarm) is read again. Also says how
/// many containers were inspected.
pub async fn collect_reusing(
    docker: &Docker,
    earlier: Option<(&EngineFacts, &BTreeSet<String>)>,
) -> Result<(EngineFacts, usize), CollectError> {
    let unreachable = |why| CollectError::Engine(format!("the engine did not answer: {why}"));
    let (version, info) = futures::join!(get(docker, "/version"), get(docker, "/info"));
    let version = version.map_err(unreachable)?;
    let info = info.map_err(unreachable)?;

    let swarm = swarm::facts(&info);
    let earlier = earlier.map(|(facts, changed)| containers::Earlier {
        containers: &facts.containers,
        changed,
    });
    let (listed, (networks, p2), (control, p3)) = futures::join!(
        containers::collect(docker, earlier),
        networks::collect(docker),
        swarm::control(docker, swarm.is_manager),
    );
    let (containers, mut problems, inspected) = (listed.items, listed.problems, listed.inspected);
    problems.extend(p2);
    problems.extend(p3);

    let mut facts = EngineFacts {
        id: text(&info, "/ID"),
        name: text(&info, "/Name"),
        version: text(&version, "/Version"),
        api_version: text(&version, "/ApiVersion"),
        root_dir: text(&info, "/DockerRootDir"),
        // API 1.49+; older engines leave it out.
        firewall_backend: text(&info, "/FirewallBackend/Driver"),
        netns_dir: netns_dir(&containers),
        swarm,
        containers,
        networks,
        services: control.services,
        tasks: control.tasks,
        nodes: control.nodes,
        problems,
    };
    facts.normalize();
    Ok((facts, inspected))
}

/// The directory holding the sandboxes' namespace files: the parent most `SandboxKey`s share.
///
/// Read from the engine rather than assumed, since `--exec-root` moves it.
fn netns_dir(containers: &[Container]) -> Option<String> {
    let mut counts: BTreeMap<&Path, usize> = BTreeMap::new();
    for c in containers {
        if c.sandbox_key.is_empty() {
            continue;
        }
        if let Some(parent) = Path::new(&c.sandbox_key).parent() {
            *counts.entry(parent).or_default() += 1;
        }
    }
    // Most keys first; among equals the first in path order, so the answer is stable.
    let best = counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))?;
    Some(best.0.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_key(key: &str) -> Container {
        Container {
            sandbox_key: key.to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn netns_dir_is_the_common_parent() {
        let cs = [
            with_key("/run/docker-node1/netns/aaa"),
            with_key(""),
            with_key("/run/docker-node1/netns/bbb"),
            with_key("/run/docker-node1/netns/default"),
        ];
        assert_eq!(netns_dir(&cs).as_deref(), Some("/run/docker-node1/netns"));
        assert_eq!(netns_dir(&[with_key("")]), None);
        assert_eq!(netns_dir(&[]), None);
        let tie = [with_key("/b/netns/x"), with_key("/a/netns/y")];
        assert_eq!(netns_dir(&tie).as_deref(), Some("/a/netns"));
    }
}
