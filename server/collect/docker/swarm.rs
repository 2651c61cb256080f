//! Swarm: this node's membership, and on managers the services, tasks and nodes.
//!
//! Services are read for their networking only: never env, args, secrets or configs.

use bollard::Docker;
use serde_json::Value;

use crate::snapshot::{
    Service, ServicePort, SwarmFacts, SwarmNode, Task, TaskAttachment, VirtualIp,
};

use super::fetch::{get, Failure};
use super::json::{array, entries, flag, int, strings, text, uint};

/// Membership, from `docker info`'s `Swarm` block.
pub(super) fn facts(info: &Value) -> SwarmFacts {
    SwarmFacts {
        local_state: text(info, "/Swarm/LocalNodeState"),
        node_id: text(info, "/Swarm/NodeID"),
        node_addr: text(info, "/Swarm/NodeAddr"),
        is_manager: flag(info, "/Swarm/ControlAvailable"),
        cluster_id: text(info, "/Swarm/Cluster/ID"),
    }
}

/// What a manager knows about the whole swarm.
#[derive(Debug, Default)]
pub(super) struct Control {
    /// Services.
    pub services: Vec<Service>,
    /// Tasks, in any state.
    pub tasks: Vec<Task>,
    /// Nodes.
    pub nodes: Vec<SwarmNode>,
}

/// Services, tasks and nodes, and what could not be read; a non-manager (503) simply has none.
pub(super) async fn control(docker: &Docker, is_manager: bool) -> (Control, Vec<String>) {
    let mut problems = Vec::new();
    if !is_manager {
        return (Control::default(), problems);
    }
    let (services, tasks, nodes) = futures::join!(
        get(docker, "/services"),
        get(docker, "/tasks"),
        get(docker, "/nodes"),
    );
    let control = Control {
        services: decode_all(services, "services", service, &mut problems),
        tasks: decode_all(tasks, "tasks", task, &mut problems),
        nodes: decode_all(nodes, "nodes", node, &mut problems),
    };
    (control, problems)
}

fn decode_all<T>(
    answer: Result<Value, Failure>,
    what: &str,
    decode: fn(&Value) -> T,
    problems: &mut Vec<String>,
) -> Vec<T> {
    match answer {
        Ok(list) => array(&list, "").iter().map(decode).collect(),
        Err(Failure::NotManager) => Vec::new(),
        Err(why) => {
            problems.push(format!("swarm {what} could not be listed: {why}"));
            Vec::new()
        }
    }
}

/// One service: name, mode, image, endpoint mode, ports, virtual IPs, networks.
pub(super) fn service(v: &Value) -> Service {
    let (mode, replicas) = service_mode(v);
    let mut networks = Vec::new();
    for n in array(v, "/Spec/TaskTemplate/Networks")
        .iter()
        .chain(array(v, "/Spec/Networks"))
    {
        let target = text(n, "/Target");
        if !target.is_empty() && !networks.contains(&target) {
            networks.push(target);
        }
    }
    let mut ports = array(v, "/Endpoint/Ports");
    if ports.is_empty() {
        ports = array(v, "/Spec/EndpointSpec/Ports");
    }
    let mut endpoint_mode = text(v, "/Endpoint/Spec/Mode");
    if endpoint_mode.is_empty() {
        endpoint_mode = text(v, "/Spec/EndpointSpec/Mode");
    }
    if endpoint_mode.is_empty() {
        endpoint_mode = "vip".to_owned();
    }
    Service {
        id: text(v, "/ID"),
        name: text(v, "/Spec/Name"),
        mode,
        replicas,
        image: text(v, "/Spec/TaskTemplate/ContainerSpec/Image"),
        endpoint_mode,
        ports: ports.iter().map(service_port).collect(),
        virtual_ips: array(v, "/Endpoint/VirtualIPs")
            .iter()
            .map(|vip| VirtualIp {
                network_id: text(vip, "/NetworkID"),
                addr: text(vip, "/Addr"),
            })
            .collect(),
        networks,
    }
}

/// `Spec.Mode` is an object with one key: `Replicated`, `Global`, `ReplicatedJob`, `GlobalJob`.
fn service_mode(v: &Value) -> (String, Option<u64>) {
    let Some((key, body)) = entries(v, "/Spec/Mode").into_iter().next() else {
        return (String::new(), None);
    };
    let mode = match key {
        "Replicated" => "replicated".to_owned(),
        "Global" => "global".to_owned(),
        "ReplicatedJob" => "replicated-job".to_owned(),
        "GlobalJob" => "global-job".to_owned(),
        other => other.to_lowercase(),
    };
    let replicas = match key {
        "Replicated" => uint(body, "/Replicas"),
        "ReplicatedJob" => uint(body, "/TotalCompletions"),
        _ => None,
    };
    (mode, replicas)
}

fn service_port(p: &Value) -> ServicePort {
    let port = |ptr| int(p, ptr).and_then(|n| u16::try_from(n).ok()).unwrap_or(0);
    let or = |s: String, default: &str| if s.is_empty() { default.to_owned() } else { s };
    ServicePort {
        protocol: or(text(p, "/Protocol"), "tcp"),
        target_port: port("/TargetPort"),
        published_port: port("/PublishedPort"),
        publish_mode: or(text(p, "/PublishMode"), "ingress"),
    }
}

/// One task: placement, state, container, addresses.
pub(super) fn task(v: &Value) -> Task {
    Task {
        id: text(v, "/ID"),
        service_id: text(v, "/ServiceID"),
        node_id: text(v, "/NodeID"),
        slot: uint(v, "/Slot").filter(|&s| s > 0),
        desired_state: text(v, "/DesiredState"),
        state: text(v, "/Status/State"),
        container_id: text(v, "/Status/ContainerStatus/ContainerID"),
        attachments: array(v, "/NetworksAttachments")
            .iter()
            .map(|a| TaskAttachment {
                network_id: text(a, "/Network/ID"),
                addresses: strings(a, "/Addresses"),
            })
            .collect(),
    }
}

/// One node as the manager lists it.
pub(super) fn node(v: &Value) -> SwarmNode {
    SwarmNode {
        id: text(v, "/ID"),
        hostname: text(v, "/Description/Hostname"),
        role: text(v, "/Spec/Role"),
        addr: text(v, "/Status/Addr"),
        state: text(v, "/Status/State"),
        availability: text(v, "/Spec/Availability"),
        manager_addr: text(v, "/ManagerStatus/Addr"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn info_gives_membership() {
        let f = facts(
            &json!({"Swarm": {"LocalNodeState": "active", "NodeID": "n1", "NodeAddr": "198.18.192.1",
            "ControlAvailable": true, "Cluster": {"ID": "c1"}}}),
        );
        assert_eq!(f.local_state, "active");
        assert_eq!(f.node_id, "n1");
        assert_eq!(f.node_addr, "198.18.192.1");
        assert!(f.is_manager);
        assert_eq!(f.cluster_id, "c1");
        let worker =
            facts(&json!({"Swarm": {"LocalNodeState": "active", "ControlAvailable": false}}));
        assert!(!worker.is_manager);
    }

    #[test]
    fn service_keeps_networking_and_drops_the_rest() {
        let s = service(&json!({
            "ID": "s1",
            "Spec": {
                "Name": "web",
                "Mode": {"Replicated": {"Replicas": 3}},
                "TaskTemplate": {
                    "ContainerSpec": {"Image": "nginx:1@sha256:ab", "Env": ["TOKEN=hunter2"], "Args": ["--pw", "hunter3"],
                        "Secrets": [{"SecretName": "hunter4"}]},
                    "Networks": [{"Target": "net1"}]
                },
                "EndpointSpec": {"Mode": "vip"}
            },
            "Endpoint": {
                "Spec": {"Mode": "vip"},
                "Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 18080, "PublishMode": "ingress"}],
                "VirtualIPs": [{"NetworkID": "ing", "Addr": "198.18.128.3/24"}, {"NetworkID": "net1", "Addr": "198.18.129.4/24"}]
            }
        }));
        assert_eq!(s.name, "web");
        assert_eq!(s.mode, "replicated");
        assert_eq!(s.replicas, Some(3));
        assert_eq!(s.image, "nginx:1@sha256:ab");
        assert_eq!(s.endpoint_mode, "vip");
        assert_eq!(s.networks, vec!["net1"]);
        assert_eq!(s.ports[0].published_port, 18080);
        assert_eq!(s.ports[0].publish_mode, "ingress");
        assert_eq!(s.virtual_ips.len(), 2);
        assert_eq!(s.virtual_ips[1].addr, "198.18.129.4/24");
        let json = serde_json::to_string(&s).unwrap();
        for secret in ["hunter2", "hunter3", "hunter4"] {
            assert!(!json.contains(secret), "{secret} leaked");
        }
    }

    #[test]
    fn global_and_unknown_modes() {
        assert_eq!(
            service_mode(&json!({"Spec": {"Mode": {"Global": {}}}})),
            ("global".into(), None)
        );
        assert_eq!(
            service_mode(&json!({"Spec": {"Mode": {"FutureMode": {}}}})),
            ("futuremode".into(), None)
        );
        let dnsrr = service(&json!({"Spec": {"EndpointSpec": {"Mode": "dnsrr"}}}));
        assert_eq!(dnsrr.endpoint_mode, "dnsrr");
    }

    #[test]
    fn task_and_node() {
        let t = task(
            &json!({"ID": "t1", "ServiceID": "s1", "NodeID": "n1", "Slot": 2, "DesiredState": "running",
            "Status": {"State": "running", "ContainerStatus": {"ContainerID": "c1", "PID": 9}},
            "NetworksAttachments": [{"Network": {"ID": "net1", "Spec": {}}, "Addresses": ["198.18.129.5/24"]}]}),
        );
        assert_eq!(t.slot, Some(2));
        assert_eq!(t.state, "running");
        assert_eq!(t.container_id, "c1");
        assert_eq!(t.attachments[0].network_id, "net1");
        assert_eq!(t.attachments[0].addresses, vec!["198.18.129.5/24"]);
        let n = node(
            &json!({"ID": "n1", "Description": {"Hostname": "vm"}, "Spec": {"Role": "manager", "Availability": "active"},
            "Status": {"State": "ready", "Addr": "198.18.192.1"}, "ManagerStatus": {"Addr": "198.18.192.1:2377", "Leader": true}}),
        );
        assert_eq!(n.hostname, "vm");
        assert_eq!(n.role, "manager");
        assert_eq!(n.addr, "198.18.192.1");
        assert_eq!(n.state, "ready");
        assert_eq!(n.availability, "active");
        assert_eq!(n.manager_addr, "198.18.192.1:2377");
    }
}
