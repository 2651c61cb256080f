//! Containers: list all, inspect each (concurrently, bounded), keep only networking facts.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bollard::Docker;
use serde_json::Value;

use crate::snapshot::{Container, ContainerEndpoint, PortBinding};

use super::fetch::{list_and_inspect, Listed};
use super::json::{array, entries, int, string_map, strings, text};

/// Containers read by an earlier collection, and the IDs of those events named since.
pub(super) struct Earlier<'a> {
    /// The earlier collection's containers.
    pub containers: &'a [Container],
    /// Containers an event named since: inspected again whatever their list entry says.
    pub changed: &'a BTreeSet<String>,
}

/// Every container the engine knows, running or not, and what could not be read. With
/// `earlier`, a container no event named whose list entry agrees with its earlier inspect is
/// taken over instead of inspected again; the list itself is always read, so containers that
/// appeared or went away are always seen.
pub(super) async fn collect(docker: &Docker, earlier: Option<Earlier<'_>>) -> Listed<Container> {
    let by_id: HashMap<&str, &Container> = earlier
        .as_ref()
        .map(|e| e.containers.iter().map(|c| (c.id.as_str(), c)).collect())
        .unwrap_or_default();
    list_and_inspect(
        docker,
        "container",
        "/containers/json?all=1",
        |id| format!("/containers/{id}/json"),
        decode,
        |entry| {
            let e = earlier.as_ref()?;
            let before = by_id.get(text(entry, "/Id").as_str())?;
            unchanged(entry, before, e.changed).then(|| (*before).clone())
        },
    )
    .await
}

/// Whether a list entry agrees with the earlier inspect of its container: not named by an
/// event, and the same state, name and endpoints (a second line of defence against a missed
/// event; any doubt means inspecting again).
fn unchanged(entry: &Value, before: &Container, changed: &BTreeSet<String>) -> bool {
    if changed.contains(&before.id) {
        return false;
    }
    let named = strings(entry, "/Names")
        .iter()
        .any(|n| n.strip_prefix('/') == Some(before.name.as_str()));
    let endpoints: BTreeMap<&str, String> = entries(entry, "/NetworkSettings/Networks")
        .into_iter()
        .map(|(net, e)| (net, text(e, "/EndpointID")))
        .collect();
    let earlier: BTreeMap<&str, String> = before
        .endpoints
        .iter()
        .map(|e| (e.network_name.as_str(), e.endpoint_id.clone()))
        .collect();
    named && text(entry, "/State") == before.state && endpoints == earlier
}

/// Only orchestration labels: other labels may carry secrets.
pub(super) fn is_orchestration_label(key: &str) -> bool {
    key.starts_with("com.docker.swarm.") || key.starts_with("com.docker.compose.")
}

/// One `docker inspect` answer, reduced to networking facts.
pub(super) fn decode(v: &Value) -> Container {
    let id = text(v, "/Id");
    Container {
        endpoints: entries(v, "/NetworkSettings/Networks")
            .into_iter()
            .map(|(name, e)| endpoint(name, e, &id))
            .collect(),
        id,
        name: text(v, "/Name").trim_start_matches('/').to_owned(),
        image: text(v, "/Config/Image"),
        state: text(v, "/State/Status"),
        pid: int(v, "/State/Pid").unwrap_or(0),
        network_mode: text(v, "/HostConfig/NetworkMode"),
        sandbox_key: text(v, "/NetworkSettings/SandboxKey"),
        sandbox_id: text(v, "/NetworkSettings/SandboxID"),
        ports: ports(v),
        labels: string_map(v, "/Config/Labels", is_orchestration_label),
    }
}

/// `NetworkSettings.Ports`: `"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]`, or null when only exposed.
fn ports(v: &Value) -> Vec<PortBinding> {
    let mut out = Vec::new();
    for (key, bindings) in entries(v, "/NetworkSettings/Ports") {
        let (port, protocol) = key.split_once('/').unwrap_or((key, "tcp"));
        let Ok(private_port) = port.parse::<u16>() else {
            continue;
        };
        let published = array(bindings, "");
        if published.is_empty() {
            out.push(PortBinding {
                private_port,
                protocol: protocol.to_owned(),
                host_ip: None,
                host_port: None,
            });
        }
        for b in published {
            let host_ip = text(b, "/HostIp");
            out.push(PortBinding {
                private_port,
                protocol: protocol.to_owned(),
                host_ip: (!host_ip.is_empty()).then_some(host_ip),
                host_port: text(b, "/HostPort").parse().ok(),
            });
        }
    }
    out
}

/// One entry of `NetworkSettings.Networks`: the only place API 1.52+ gives addresses (the
/// top-level `IPAddress`, `Gateway`, `MacAddress`, `EndpointID` are gone), and the same in every
/// older version.
fn endpoint(network_name: &str, e: &Value, container_id: &str) -> ContainerEndpoint {
    // API < 1.45 adds the short container ID to `Aliases`; 1.45+ lists only the aliases given (the
    // ID moved to `DNSNames`). Dropping it makes one engine's facts the same under every version.
    let short_id = container_id.get(..12).unwrap_or(container_id);
    let aliases = strings(e, "/Aliases")
        .into_iter()
        .filter(|a| a != short_id)
        .collect();
    ContainerEndpoint {
        network_name: network_name.to_owned(),
        network_id: text(e, "/NetworkID"),
        endpoint_id: text(e, "/EndpointID"),
        ipv4: text(e, "/IPAddress"),
        ipv4_prefix_len: int(e, "/IPPrefixLen")
            .and_then(|p| u8::try_from(p).ok())
            .unwrap_or(0),
        ipv6: text(e, "/GlobalIPv6Address"),
        mac: text(e, "/MacAddress"),
        gateway: text(e, "/Gateway"),
        aliases,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inspect() -> Value {
        json!({
            "Id": "c0ffee0123456789",
            "Name": "/web",
            "Config": {
                "Image": "nginx:1",
                "Env": ["SECRET=hunter2"],
                "Cmd": ["nginx", "--password=hunter3"],
                "Labels": {"com.docker.compose.service": "web", "com.docker.swarm.task.id": "t1", "api_key": "hunter4"}
            },
            "State": {"Status": "some-future-state", "Pid": 4242},
            "HostConfig": {"NetworkMode": "front"},
            "NetworkSettings": {
                "SandboxKey": "/run/docker/netns/abc",
                "SandboxID": "abc",
                "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}], "53/udp": null, "bad/tcp": null},
                "Networks": {"front": {
                    "NetworkID": "n1", "EndpointID": "e1", "IPAddress": "198.18.64.2", "IPPrefixLen": 24,
                    "MacAddress": "02:42:c6:12:40:02", "Gateway": "198.18.64.1", "Aliases": ["web", "c0ffee012345"],
                    "GlobalIPv6Address": ""
                }}
            }
        })
    }

    #[test]
    fn inspect_reduces_to_networking_facts() {
        let c = decode(&inspect());
        assert_eq!(c.id, "c0ffee0123456789");
        assert_eq!(c.name, "web");
        assert_eq!(c.image, "nginx:1");
        assert_eq!(c.state, "some-future-state");
        assert_eq!(c.pid, 4242);
        assert_eq!(c.network_mode, "front");
        assert_eq!(c.sandbox_key, "/run/docker/netns/abc");
        assert_eq!(c.sandbox_id, "abc");
        assert_eq!(c.endpoints.len(), 1);
        let e = &c.endpoints[0];
        assert_eq!(e.network_name, "front");
        assert_eq!(e.network_id, "n1");
        assert_eq!(e.ipv4, "198.18.64.2");
        assert_eq!(e.ipv4_prefix_len, 24);
        assert_eq!(e.mac, "02:42:c6:12:40:02");
        assert_eq!(e.gateway, "198.18.64.1");
        assert_eq!(
            e.aliases,
            vec!["web"],
            "the short-ID alias of API < 1.45 is dropped"
        );
        assert_eq!(c.ports.len(), 3);
        assert!(c.ports.contains(&PortBinding {
            private_port: 53,
            protocol: "udp".into(),
            host_ip: None,
            host_port: None
        }));
        assert!(c.ports.contains(&PortBinding {
            private_port: 80,
            protocol: "tcp".into(),
            host_ip: Some("::".into()),
            host_port: Some(8080)
        }));
    }

    #[test]
    fn secrets_stay_behind() {
        let c = decode(&inspect());
        let keys: Vec<&str> = c.labels.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            vec!["com.docker.compose.service", "com.docker.swarm.task.id"]
        );
        let json = serde_json::to_string(&c).unwrap();
        for secret in ["hunter2", "hunter3", "hunter4", "SECRET", "nginx --"] {
            assert!(!json.contains(secret), "{secret} leaked: {json}");
        }
    }

    #[test]
    fn a_list_entry_is_taken_over_only_when_it_agrees_and_no_event_named_it() {
        let before = decode(&inspect());
        let entry = json!({"Id": "c0ffee0123456789", "Names": ["/web"], "State": "some-future-state",
            "NetworkSettings": {"Networks": {"front": {"EndpointID": "e1"}}}});
        let none = BTreeSet::new();
        assert!(unchanged(&entry, &before, &none));
        let named: BTreeSet<String> = ["c0ffee0123456789".to_owned()].into();
        assert!(!unchanged(&entry, &before, &named), "an event named it");
        let mut stopped = entry.clone();
        stopped["State"] = json!("exited");
        assert!(!unchanged(&stopped, &before, &none), "state changed");
        let mut renamed = entry.clone();
        renamed["Names"] = json!(["/web2"]);
        assert!(!unchanged(&renamed, &before, &none), "renamed");
        let mut reconnected = entry.clone();
        reconnected["NetworkSettings"]["Networks"]["front"]["EndpointID"] = json!("e2");
        assert!(!unchanged(&reconnected, &before, &none), "new endpoint");
        let mut more = entry.clone();
        more["NetworkSettings"]["Networks"]["back"] = json!({"EndpointID": "e3"});
        assert!(!unchanged(&more, &before, &none), "one more network");
        assert!(
            !unchanged(&json!({"Id": "c0ffee0123456789"}), &before, &none),
            "an odd entry"
        );
    }

    #[test]
    fn a_stopped_container_has_no_sandbox() {
        let c = decode(
            &json!({"Id": "x", "Name": "/x", "State": {"Status": "exited", "Pid": 0},
            "NetworkSettings": {"SandboxKey": "", "Ports": {}, "Networks": {}}}),
        );
        assert_eq!(c.sandbox_key, "");
        assert!(c.endpoints.is_empty() && c.ports.is_empty());
    }
}
