//! Docker engine facts, as the engine API reports them (never env or command lines).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// What the Docker engine reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineFacts {
    /// Engine ID (`docker info` ID).
    pub id: String,
    /// Engine host name (`docker info` Name).
    pub name: String,
    /// Server version, e.g. `20.10.24`.
    pub version: String,
    /// API version the engine speaks.
    pub api_version: String,
    /// The engine's data root (`DockerRootDir`).
    pub root_dir: String,
    /// The firewall backend `/info` names (`iptables`, `nftables`, `iptables+firewalld`; API 1.49+);
    /// empty for older engines, which only have iptables.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub firewall_backend: String,
    /// Where the engine keeps its sandbox files, as derived from the containers' `SandboxKey`s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns_dir: Option<String>,
    /// Swarm membership.
    pub swarm: SwarmFacts,
    /// Containers, running or not.
    pub containers: Vec<Container>,
    /// Networks with their full inspect.
    pub networks: Vec<Network>,
    /// Swarm services (managers only).
    pub services: Vec<Service>,
    /// Swarm tasks (managers only).
    pub tasks: Vec<Task>,
    /// Swarm nodes (managers only).
    pub nodes: Vec<SwarmNode>,
    /// What could not be read, in words (everything else was read); empty when all went well.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

impl EngineFacts {
    /// Sort every list into canonical order.
    pub fn normalize(&mut self) {
        self.containers.sort_by(|a, b| a.id.cmp(&b.id));
        for c in &mut self.containers {
            c.endpoints.sort_by(|a, b| a.network_id.cmp(&b.network_id));
            c.ports.sort_by(|a, b| {
                (a.private_port, &a.protocol, &a.host_ip, a.host_port).cmp(&(
                    b.private_port,
                    &b.protocol,
                    &b.host_ip,
                    b.host_port,
                ))
            });
        }
        self.networks.sort_by(|a, b| a.id.cmp(&b.id));
        for n in &mut self.networks {
            n.endpoints.sort_by(|a, b| a.key.cmp(&b.key));
            n.peers.sort_by(|a, b| a.ip.cmp(&b.ip));
        }
        self.services.sort_by(|a, b| a.id.cmp(&b.id));
        self.tasks.sort_by(|a, b| a.id.cmp(&b.id));
        self.nodes.sort_by(|a, b| a.id.cmp(&b.id));
        self.problems.sort();
    }
}

/// This engine's swarm membership.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwarmFacts {
    /// inactive, pending, active, error, locked.
    pub local_state: String,
    /// This node's swarm ID.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node_id: String,
    /// This node's address in the swarm.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node_addr: String,
    /// Whether this node is a manager (control available).
    pub is_manager: bool,
    /// The cluster's ID, when known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster_id: String,
}

/// A container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Container {
    /// Full container ID.
    pub id: String,
    /// Name without the leading slash.
    pub name: String,
    /// Image reference as given.
    pub image: String,
    /// running, exited, created, paused, ...
    pub state: String,
    /// Main process PID (0 when not running).
    pub pid: i64,
    /// Network mode (`bridge`, `host`, `none`, `container:<id>`, a network name).
    pub network_mode: String,
    /// The sandbox's namespace file (`NetworkSettings.SandboxKey`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sandbox_key: String,
    /// Sandbox ID (`NetworkSettings.SandboxID`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sandbox_id: String,
    /// Port bindings.
    pub ports: Vec<PortBinding>,
    /// One endpoint per attached network.
    pub endpoints: Vec<ContainerEndpoint>,
    /// Only the orchestration labels (`com.docker.swarm.*`, `com.docker.compose.*`): others may hold secrets.
    pub labels: BTreeMap<String, String>,
}

/// A container port and where it is published.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    /// Port inside the container.
    pub private_port: u16,
    /// tcp, udp or sctp.
    pub protocol: String,
    /// Host address it is published on, if published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    /// Host port, if published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u16>,
}

/// A container's attachment to one network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerEndpoint {
    /// Network name.
    pub network_name: String,
    /// Network ID.
    pub network_id: String,
    /// Endpoint ID.
    pub endpoint_id: String,
    /// IPv4 address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ipv4: String,
    /// IPv4 prefix length.
    pub ipv4_prefix_len: u8,
    /// IPv6 global address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ipv6: String,
    /// MAC address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac: String,
    /// IPv4 gateway.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    /// Aliases on this network, as given at creation: never the short container ID older
    /// engines (API < 1.45) added.
    pub aliases: Vec<String>,
}

/// A Docker network with its inspect.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// Network ID.
    pub id: String,
    /// Name (hostile input: may hold HTML).
    pub name: String,
    /// bridge, overlay, host, null, macvlan, ...
    pub driver: String,
    /// local or swarm.
    pub scope: String,
    /// No outside access.
    pub internal: bool,
    /// Standalone containers may attach (overlay).
    pub attachable: bool,
    /// The swarm routing-mesh network.
    pub ingress: bool,
    /// IPv4 IPAM turned off (`EnableIPv4: false`, API 1.48+; engines before always had it on).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ipv4_disabled: bool,
    /// IPv6 enabled.
    pub enable_ipv6: bool,
    /// IPAM configurations.
    pub ipam: Vec<IpamConfig>,
    /// Driver options (`com.docker.network.bridge.name`, `...vxlanid_list`, encrypted, ...).
    pub options: BTreeMap<String, String>,
    /// Endpoints by key: container ID, `ingress-sbox`, `lb-<network>`.
    pub endpoints: Vec<NetworkEndpoint>,
    /// Overlay peers (other nodes on this network).
    pub peers: Vec<NetworkPeer>,
}

/// One IPAM pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpamConfig {
    /// Subnet in CIDR form.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subnet: String,
    /// Gateway address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    /// Allocation range.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
}

/// An endpoint as `docker network inspect` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkEndpoint {
    /// The key of the `Containers` map: a container ID, `ingress-sbox` or `lb-<network>`.
    pub key: String,
    /// Endpoint name (container name, `ingress-endpoint`, `<network>-endpoint`).
    pub name: String,
    /// Endpoint ID.
    pub endpoint_id: String,
    /// MAC address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac: String,
    /// IPv4 address in CIDR form.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ipv4: String,
    /// IPv6 address in CIDR form.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ipv6: String,
}

/// An overlay peer: another node with endpoints on the network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkPeer {
    /// Peer node name.
    pub name: String,
    /// Peer underlay address.
    pub ip: String,
}

/// A swarm service (no env, no command, no secrets: only what networking needs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// Service ID.
    pub id: String,
    /// Service name.
    pub name: String,
    /// replicated, global, replicated-job, global-job.
    pub mode: String,
    /// Desired replicas, for replicated services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u64>,
    /// Image reference.
    pub image: String,
    /// vip or dnsrr.
    pub endpoint_mode: String,
    /// Published ports.
    pub ports: Vec<ServicePort>,
    /// Virtual IPs per network.
    pub virtual_ips: Vec<VirtualIp>,
    /// Networks the tasks attach to (IDs).
    pub networks: Vec<String>,
}

/// A service's published port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePort {
    /// tcp, udp, sctp.
    pub protocol: String,
    /// Port inside the task.
    pub target_port: u16,
    /// Port published on the nodes.
    pub published_port: u16,
    /// ingress (routing mesh) or host.
    pub publish_mode: String,
}

/// A service's virtual IP on one network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualIp {
    /// Network ID.
    pub network_id: String,
    /// Address in CIDR form.
    pub addr: String,
}

/// A swarm task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Task ID.
    pub id: String,
    /// Owning service.
    pub service_id: String,
    /// Node the scheduler placed it on.
    pub node_id: String,
    /// Replica slot, for replicated services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<u64>,
    /// Desired state.
    pub desired_state: String,
    /// Observed state.
    pub state: String,
    /// The container running it, once started.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub container_id: String,
    /// Network attachments with their addresses.
    pub attachments: Vec<TaskAttachment>,
}

/// A task's attachment to a network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskAttachment {
    /// Network ID.
    pub network_id: String,
    /// Addresses in CIDR form.
    pub addresses: Vec<String>,
}

/// A swarm node as the manager lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwarmNode {
    /// Node ID.
    pub id: String,
    /// Host name.
    pub hostname: String,
    /// manager or worker.
    pub role: String,
    /// The node's address (`Status.Addr`): what VXLAN FDB `dst` entries point at.
    pub addr: String,
    /// ready, down, unknown, disconnected.
    pub state: String,
    /// active, pause, drain.
    pub availability: String,
    /// For managers: the manager address (`ManagerStatus.Addr`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manager_addr: String,
}

/// A swarm node's underlay address: its `Status.Addr`, unless that is empty, unspecified or
/// loopback (managers are known to report `0.0.0.0` or `127.0.0.1` there, moby/moby#35437 and
/// #30119); then the host part of its `ManagerStatus.Addr` (`198.18.0.2:2377`). None when
/// neither is usable.
pub fn node_address(status_addr: &str, manager_addr: &str) -> Option<String> {
    let usable = |a: &str| {
        a.parse::<IpAddr>()
            .ok()
            .filter(|ip| !ip.is_unspecified() && !ip.is_loopback())
            .map(|ip| ip.to_string())
    };
    usable(status_addr.trim()).or_else(|| {
        let m = manager_addr.trim();
        let host = match m.strip_prefix('[') {
            // `[fd00::1]:2377`
            Some(v6) => v6.split(']').next().unwrap_or(v6),
            // `198.18.0.2:2377`
            None => m.rsplit_once(':').map_or(m, |(h, _)| h),
        };
        usable(host)
    })
}
