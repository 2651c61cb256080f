//! Containers: list all, inspect each (concurrently, bounded), keep only networking facts.

use bollard::Docker;
use serde_json::Value;

use crate::snapshot::{Container, ContainerEndpoint, PortBinding};

use super::fetch::list_and_inspect;
use super::json::{array, entries, int, string_map, strings, text};

/// Every container the engine knows, running or not, and what could not be read.
pub(super) async fn collect(docker: &Docker) -> (Vec<Container>, Vec<String>) {
    list_and_inspect(
        docker,
        "container",
        "/containers/json?all=1",
        |id| format!("/containers/{id}/json"),
        decode,
    )
    .await
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
    fn a_stopped_container_has_no_sandbox() {
        let c = decode(
            &json!({"Id": "x", "Name": "/x", "State": {"Status": "exited", "Pid": 0},
            "NetworkSettings": {"SandboxKey": "", "Ports": {}, "Networks": {}}}),
        );
        assert_eq!(c.sandbox_key, "");
        assert!(c.endpoints.is_empty() && c.ports.is_empty());
    }
}
