//! The names the outside world gives things: Docker's (namespace files, bridges, driver options,
//! iptables chains) and the kernel's (device types). One home for them, as netavark keeps its own
//! in `src/network/constants.rs`, so collect, graph, layout, paths and pseudonyms read the same
//! vocabulary. Imports nothing of the crate: everything may use it.

// --- Network namespaces (files under Docker's netns directory) ---

/// The name dockmap gives the namespace it runs in.
pub const HOST_NS: &str = "host";
/// The routing mesh's sandbox.
pub const INGRESS_SANDBOX: &str = "ingress_sbox";
/// A network's load-balancer sandbox: `lb_<start of the network ID>`.
pub const LB_SANDBOX_PREFIX: &str = "lb_";
/// An overlay network's namespace: `1-<start of the network ID>` (holds br0, the vxlan and vethN).
pub const OVERLAY_NS_PREFIX: &str = "1-";
/// Docker's default exec-root netns directory.
pub const DOCKER_NETNS_DIR: &str = "/run/docker/netns";
/// Where `ip netns` keeps named namespaces.
pub const IP_NETNS_DIR: &str = "/run/netns";

/// Whether a namespace file's name is that of the namespace Docker made for this network
/// (`1-…` or `lb_…` plus at least five characters of the start of its ID).
pub fn is_sandbox_of_network(ns_name: &str, prefix: &str, net_id: &str) -> bool {
    ns_name
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.len() >= 5 && net_id.starts_with(rest))
}

// --- Endpoint keys in a network's inspect answer ---

/// The routing mesh sandbox's endpoint in the ingress network.
pub const INGRESS_ENDPOINT: &str = "ingress-sbox";
/// A load-balancer sandbox's endpoint: `lb-<network name>`.
pub const LB_ENDPOINT_PREFIX: &str = "lb-";

// --- Networks and drivers ---

/// The default bridge network's name.
pub const DEFAULT_BRIDGE_NETWORK: &str = "bridge";
/// The swarm's gateway bridge network (and its bridge device).
pub const GWBRIDGE: &str = "docker_gwbridge";
/// The swarm's routing-mesh network.
pub const INGRESS_NETWORK: &str = "ingress";
/// Docker's own network names: not user data.
pub const BUILTIN_NETWORKS: &[&str] = &[
    DEFAULT_BRIDGE_NETWORK,
    "host",
    "none",
    INGRESS_NETWORK,
    GWBRIDGE,
];
/// The bridge driver.
pub const DRIVER_BRIDGE: &str = "bridge";
/// The overlay (VXLAN) driver.
pub const DRIVER_OVERLAY: &str = "overlay";
/// The host driver (no namespace of its own).
pub const DRIVER_HOST: &str = "host";
/// The null driver (network `none`).
pub const DRIVER_NULL: &str = "null";

// --- Driver options ---

/// A bridge network's bridge device name.
pub const OPTION_BRIDGE_NAME: &str = "com.docker.network.bridge.name";
/// A bridge network's gateway mode for a family: this plus `ipv4` or `ipv6` (Docker 28+).
pub const OPTION_GATEWAY_MODE_PREFIX: &str = "com.docker.network.bridge.gateway_mode_";
/// Whether a bridge network masquerades its egress.
pub const OPTION_IP_MASQUERADE: &str = "com.docker.network.bridge.enable_ip_masquerade";
/// Host interfaces allowed direct access to a bridge network.
pub const OPTION_TRUSTED_HOST_INTERFACES: &str =
    "com.docker.network.bridge.trusted_host_interfaces";
/// An overlay network's VNIs, comma-separated.
pub const OPTION_VXLANID_LIST: &str = "com.docker.network.driver.overlay.vxlanid_list";

/// The VNIs a network's driver options give it ([`OPTION_VXLANID_LIST`]), in order; what does
/// not parse is passed over.
pub fn vxlan_ids(options: &std::collections::BTreeMap<String, String>) -> Vec<u32> {
    options
        .get(OPTION_VXLANID_LIST)
        .map(|list| {
            list.split(',')
                .filter_map(|v| v.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}
/// An overlay network's encryption (IPsec) switch.
pub const OPTION_ENCRYPTED: &str = "encrypted";

// --- Interfaces ---

/// The default bridge network's bridge.
pub const DOCKER0: &str = "docker0";
/// A user bridge network's bridge: `br-<12 hex of the network ID>`.
pub const USER_BRIDGE_PREFIX: &str = "br-";
/// A veth Docker makes: `veth` and 7 hex characters (the host end of a container's pair).
pub const VETH_PREFIX: &str = "veth";
/// The bridge inside an overlay network's namespace.
pub const OVERLAY_BRIDGE: &str = "br0";
/// The name Docker gives a container's first interface.
pub const CONTAINER_ETH0: &str = "eth0";

/// The bridge device a bridge network uses on its host: the configured name, else `docker0`
/// for the default network, else `br-` and the network ID's first 12 characters.
pub fn network_bridge(net_name: &str, net_id: &str, configured: Option<&str>) -> String {
    match configured {
        Some(name) => name.to_owned(),
        None if net_name == DEFAULT_BRIDGE_NETWORK => DOCKER0.to_owned(),
        None => format!("{USER_BRIDGE_PREFIX}{}", net_id.get(..12).unwrap_or(net_id)),
    }
}

// --- iptables chains Docker programs ---

/// nat: published ports of bridge networks; filter: what they accept.
pub const CHAIN_DOCKER: &str = "DOCKER";
/// filter: the user's own rules, run before Docker's.
pub const CHAIN_DOCKER_USER: &str = "DOCKER-USER";
/// nat and filter: the routing mesh's published ports.
pub const CHAIN_DOCKER_INGRESS: &str = "DOCKER-INGRESS";
/// filter: isolation between bridge networks, first stage.
pub const CHAIN_ISOLATION_1: &str = "DOCKER-ISOLATION-STAGE-1";
/// filter: isolation between bridge networks, second stage.
pub const CHAIN_ISOLATION_2: &str = "DOCKER-ISOLATION-STAGE-2";

/// moby's overlay IPsec mark: the reqid of its SAs and the mark its policy and rules give VXLAN packets.
pub const IPSEC_MARK: u32 = 0xD0C4E3;

// --- Kernel ---

/// ARPHRD_ETHER: an Ethernet device.
pub const ARPHRD_ETHER: u16 = 1;
/// ARPHRD_LOOPBACK: the loopback device.
pub const ARPHRD_LOOPBACK: u16 = 772;
/// The loopback device.
pub const LOOPBACK: &str = "lo";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandboxes_are_matched_by_the_start_of_the_network_id() {
        let id = "k3v0n5e8r2t1x9q7w4y6z0a1b";
        assert!(is_sandbox_of_network("1-k3v0n5e8r2", OVERLAY_NS_PREFIX, id));
        assert!(is_sandbox_of_network("lb_k3v0n", LB_SANDBOX_PREFIX, id));
        // Too short a start says nothing.
        assert!(!is_sandbox_of_network("1-k3v0", OVERLAY_NS_PREFIX, id));
        assert!(!is_sandbox_of_network(
            "1-k3v0n5e8r3",
            OVERLAY_NS_PREFIX,
            id
        ));
        assert!(!is_sandbox_of_network(
            "lb_k3v0n5e8r2",
            OVERLAY_NS_PREFIX,
            id
        ));
    }

    #[test]
    fn bridge_networks_name_their_bridge() {
        let id = "0123456789abcdef0123";
        assert_eq!(network_bridge("bridge", id, None), "docker0");
        assert_eq!(network_bridge("web", id, None), "br-0123456789ab");
        assert_eq!(network_bridge("web", id, Some("br-custom")), "br-custom");
        assert_eq!(network_bridge("web", "short", None), "br-short");
    }
}
