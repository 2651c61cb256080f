//! Networks: list all, inspect each (concurrently, bounded) for endpoints and peers.

use bollard::Docker;
use serde_json::Value;

use crate::snapshot::{IpamConfig, Network, NetworkEndpoint, NetworkPeer};

use super::fetch::list_and_inspect;
use super::json::{array, entries, flag, string_map, text};

/// Every network with its endpoints, and what could not be read.
pub(super) async fn collect(docker: &Docker) -> (Vec<Network>, Vec<String>) {
    // The list leaves `Containers` empty: only an inspect names the endpoints.
    let listed = list_and_inspect(
        docker,
        "network",
        "/networks",
        |id| format!("/networks/{id}"),
        decode,
        |_| None,
    )
    .await;
    (listed.items, listed.problems)
}

/// One `docker network inspect` answer.
pub(super) fn decode(v: &Value) -> Network {
    Network {
        id: text(v, "/Id"),
        name: text(v, "/Name"),
        driver: text(v, "/Driver"),
        scope: text(v, "/Scope"),
        internal: flag(v, "/Internal"),
        attachable: flag(v, "/Attachable"),
        ingress: flag(v, "/Ingress"),
        // Absent before API 1.48, when IPv4 could not be turned off.
        ipv4_disabled: matches!(v.pointer("/EnableIPv4"), Some(Value::Bool(false))),
        enable_ipv6: flag(v, "/EnableIPv6"),
        ipam: array(v, "/IPAM/Config")
            .iter()
            .map(|c| IpamConfig {
                subnet: text(c, "/Subnet"),
                gateway: text(c, "/Gateway"),
                ip_range: text(c, "/IPRange"),
            })
            .collect(),
        options: string_map(v, "/Options", |_| true),
        endpoints: entries(v, "/Containers")
            .into_iter()
            .map(|(key, e)| NetworkEndpoint {
                key: key.to_owned(),
                name: text(e, "/Name"),
                endpoint_id: text(e, "/EndpointID"),
                mac: text(e, "/MacAddress"),
                ipv4: text(e, "/IPv4Address"),
                ipv6: text(e, "/IPv6Address"),
            })
            .collect(),
        peers: array(v, "/Peers")
            .iter()
            .map(|p| NetworkPeer {
                name: text(p, "/Name"),
                ip: text(p, "/IP"),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn overlay_inspect_keeps_special_endpoints_and_peers() {
        let n = decode(&json!({
            "Name": "x<img src=x onerror=alert(1)>", "Id": "n1", "Scope": "swarm", "Driver": "overlay",
            "EnableIPv6": false, "Internal": false, "Attachable": true, "Ingress": false,
            "IPAM": {"Driver": "default", "Config": [{"Subnet": "198.18.129.0/24", "Gateway": "198.18.129.1"}]},
            "Containers": {
                "c1": {"Name": "web.1", "EndpointID": "e1", "MacAddress": "02:42:c6:12:81:05", "IPv4Address": "198.18.129.5/24", "IPv6Address": ""},
                "lb-front": {"Name": "front-endpoint", "EndpointID": "e2", "MacAddress": "02:42:c6:12:81:03", "IPv4Address": "198.18.129.3/24", "IPv6Address": ""}
            },
            "Options": {"com.docker.network.driver.overlay.vxlanid_list": "4097"},
            "Labels": {"secret": "hunter2"},
            "Peers": [{"Name": "node-a", "IP": "198.18.192.1"}]
        }));
        assert_eq!(n.name, "x<img src=x onerror=alert(1)>");
        assert_eq!(n.driver, "overlay");
        assert_eq!(n.scope, "swarm");
        assert!(n.attachable && !n.ingress && !n.internal);
        assert_eq!(n.ipam[0].subnet, "198.18.129.0/24");
        assert_eq!(n.ipam[0].gateway, "198.18.129.1");
        assert_eq!(
            n.options["com.docker.network.driver.overlay.vxlanid_list"],
            "4097"
        );
        let keys: Vec<&str> = n.endpoints.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, vec!["c1", "lb-front"]);
        assert_eq!(n.endpoints[1].ipv4, "198.18.129.3/24");
        assert_eq!(n.peers[0].ip, "198.18.192.1");
        assert!(!n.ipv4_disabled, "no EnableIPv4 (API < 1.48) means IPv4 on");
        let v6_only = decode(&json!({"Id": "n2", "EnableIPv4": false, "EnableIPv6": true}));
        assert!(v6_only.ipv4_disabled && v6_only.enable_ipv6);
        assert!(!serde_json::to_string(&n).unwrap().contains("hunter2"));
    }
}
