//! The Docker collector against the real engine (tests/engine-up.sh starts it).
//!
//! Facts are checked against sources other than the collector where there is one:
//! the kernel (`ip` inside the sandbox), the namespace file itself, the CLI.

use crate::support::engine;

use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dockmap::collect::docker::{collect, connect};
use dockmap::collect::CollectError;
use dockmap::snapshot::{Container, EngineFacts, Network};
use engine::{TestContainer, TestNetwork, TestService};

fn facts() -> EngineFacts {
    let docker = connect(None).expect("connect");
    engine::runtime()
        .block_on(collect(&docker))
        .expect("collect")
}

fn container<'a>(f: &'a EngineFacts, id: &str) -> &'a Container {
    f.containers
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("container {id} missing from the facts"))
}

fn network<'a>(f: &'a EngineFacts, id: &str) -> &'a Network {
    f.networks
        .iter()
        .find(|n| n.id == id)
        .unwrap_or_else(|| panic!("network {id} missing from the facts"))
}

/// `ip -j link show <dev>` inside a namespace file, as the kernel reports it.
fn kernel_mac(netns_file: &str, dev: &str) -> String {
    let out = Command::new("nsenter")
        .args([
            &format!("--net={netns_file}"),
            "ip",
            "-j",
            "link",
            "show",
            dev,
        ])
        .output()
        .expect("run nsenter");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let links: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    links[0]["address"].as_str().unwrap().to_owned()
}

fn ns_inode(path: &str) -> u64 {
    std::fs::metadata(path).unwrap().ino()
}

#[test]
fn engine_and_default_bridge_container() {
    if !engine::available() {
        return;
    }
    let c = TestContainer::run(&engine::unique("plain"), &[]);
    let f = facts();

    assert_eq!(
        f.api_version,
        engine::docker(&["version", "--format", "{{.Server.APIVersion}}"])
    );
    assert_eq!(
        f.version,
        engine::docker(&["version", "--format", "{{.Server.Version}}"])
    );
    assert_eq!(
        f.root_dir,
        engine::docker(&["info", "--format", "{{.DockerRootDir}}"])
    );
    assert!(!f.id.is_empty() && !f.name.is_empty());
    assert!(f.problems.is_empty(), "{:?}", f.problems);

    let got = container(&f, &c.id);
    assert_eq!(got.name, c.name);
    assert_eq!(got.image, engine::IMAGE);
    assert_eq!(got.state, "running");
    assert_eq!(got.network_mode, "default");
    // The sandbox file is the container's namespace: same inode as its process's.
    assert!(got.pid > 0);
    assert_eq!(
        ns_inode(&got.sandbox_key),
        ns_inode(&format!("/proc/{}/ns/net", got.pid))
    );
    assert!(got.sandbox_key.ends_with(&got.sandbox_id[..12]));
    assert_eq!(
        f.netns_dir.as_deref(),
        std::path::Path::new(&got.sandbox_key)
            .parent()
            .and_then(|p| p.to_str())
    );

    assert_eq!(got.endpoints.len(), 1);
    let ep = &got.endpoints[0];
    assert_eq!(ep.network_name, "bridge");
    assert_eq!(ep.gateway, "198.18.0.1");
    assert_eq!(ep.ipv4_prefix_len, 24);
    assert!(ep.ipv4.starts_with("198.18.0."), "{}", ep.ipv4);
    assert_eq!(ep.mac, kernel_mac(&got.sandbox_key, "eth0"));

    let bridge = network(&f, &ep.network_id);
    assert_eq!(bridge.name, "bridge");
    assert_eq!(
        bridge
            .options
            .get("com.docker.network.bridge.name")
            .map(String::as_str),
        Some("docker0")
    );
    assert_eq!(bridge.ipam[0].subnet, "198.18.0.0/24");
    let nep = bridge
        .endpoints
        .iter()
        .find(|e| e.key == c.id)
        .expect("the container's endpoint on the bridge network");
    assert_eq!(nep.ipv4, format!("{}/24", ep.ipv4));
    assert_eq!(nep.mac, ep.mac);
    assert_eq!(nep.endpoint_id, ep.endpoint_id);
}

#[test]
fn user_bridge_without_icc_and_a_published_port() {
    if !engine::available() {
        return;
    }
    let br_name = format!("dmt{}b", std::process::id() % 1_000_000);
    let net = TestNetwork::bridge(
        &engine::unique("noicc"),
        &[
            "-o",
            "com.docker.network.bridge.enable_icc=false",
            "-o",
            &format!("com.docker.network.bridge.name={br_name}"),
        ],
    );
    let c = TestContainer::run(
        &engine::unique("pub"),
        &[
            "--network",
            &net.id,
            "--network-alias",
            "web",
            "-p",
            "127.0.0.1::80/tcp",
        ],
    );
    let host_port: u16 = c
        .inspect(r#"{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}"#)
        .parse()
        .unwrap();
    let f = facts();

    let n = network(&f, &net.id);
    assert_eq!(n.name, net.name);
    assert_eq!(n.driver, "bridge");
    assert_eq!(n.scope, "local");
    assert_eq!(
        n.options
            .get("com.docker.network.bridge.enable_icc")
            .map(String::as_str),
        Some("false")
    );
    assert_eq!(
        n.options.get("com.docker.network.bridge.name"),
        Some(&br_name)
    );
    // The engine's pool for local networks is 198.18.64.0/18.
    let subnet = &n.ipam[0].subnet;
    assert!(
        subnet.starts_with("198.18.") && subnet.ends_with("/24"),
        "{subnet}"
    );

    let got = container(&f, &c.id);
    // The mode is the network as given to `docker run`: here its ID.
    assert_eq!(got.network_mode, net.id);
    let ep = &got.endpoints[0];
    assert_eq!(ep.network_id, net.id);
    assert_eq!(ep.network_name, net.name);
    assert_eq!(ep.gateway, n.ipam[0].gateway);
    assert!(ep.aliases.iter().any(|a| a == "web"), "{:?}", ep.aliases);
    assert_eq!(ep.mac, kernel_mac(&got.sandbox_key, "eth0"));
    // The bridge the kernel has carries the gateway address the engine reported.
    let out = Command::new("ip")
        .args(["-j", "addr", "show", &br_name])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("\"{}\"", ep.gateway)),
        "bridge {br_name} lacks {}",
        ep.gateway
    );

    assert_eq!(got.ports.len(), 1, "{:?}", got.ports);
    let p = &got.ports[0];
    assert_eq!(p.private_port, 80);
    assert_eq!(p.protocol, "tcp");
    assert_eq!(p.host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(p.host_port, Some(host_port));

    assert!(n
        .endpoints
        .iter()
        .any(|e| e.key == c.id && e.name == c.name));
}

#[test]
fn none_and_host_network_modes() {
    if !engine::available() {
        return;
    }
    let none = TestContainer::run(&engine::unique("none"), &["--network", "none"]);
    let host = TestContainer::run(&engine::unique("host"), &["--network", "host"]);
    let f = facts();

    let got = container(&f, &none.id);
    assert_eq!(got.network_mode, "none");
    assert_eq!(got.endpoints.len(), 1);
    assert_eq!(got.endpoints[0].network_name, "none");
    assert_eq!(got.endpoints[0].ipv4, "");
    // A `none` container still has a namespace of its own.
    assert_ne!(ns_inode(&got.sandbox_key), ns_inode("/proc/self/ns/net"));

    let got = container(&f, &host.id);
    assert_eq!(got.network_mode, "host");
    assert_eq!(got.endpoints[0].network_name, "host");
    // Same namespace as this test process, which runs in the host's.
    assert_eq!(
        ns_inode(&format!("/proc/{}/ns/net", got.pid)),
        ns_inode("/proc/self/ns/net")
    );
}

#[test]
fn hostile_network_name_is_kept_verbatim() {
    if !engine::available() {
        return;
    }
    let name = format!("{}x<img src=x onerror=alert(1)>", engine::unique(""));
    let net = TestNetwork::bridge(&name, &[]);
    // The CLI's --network flag cannot take this name (it parses '='): attach by ID.
    let c = TestContainer::run(&engine::unique("html"), &["--network", &net.id]);
    let f = facts();

    assert_eq!(network(&f, &net.id).name, name);
    let got = container(&f, &c.id);
    assert_eq!(got.endpoints[0].network_name, name);
    assert_eq!(got.endpoints[0].network_id, net.id);
}

#[test]
fn env_and_command_never_leave_the_engine() {
    if !engine::available() {
        return;
    }
    let marker = format!("hunter2-{}", std::process::id());
    let c = TestContainer::run_cmd(
        &engine::unique("secret"),
        &[
            "-e",
            &format!("SECRET={marker}-env"),
            "--label",
            &format!("db.password={marker}-label"),
            "--label",
            "com.docker.compose.service=kept",
        ],
        &["sh", "-c", &format!("sleep 3600 # {marker}-cmd")],
    );
    let f = facts();
    let got = container(&f, &c.id);
    assert_eq!(
        got.labels
            .get("com.docker.compose.service")
            .map(String::as_str),
        Some("kept")
    );
    let json = serde_json::to_string(&f).unwrap();
    assert!(json.contains(&c.id));
    assert!(!json.contains(&marker), "a secret left the engine: {json}");
}

#[test]
fn socket_without_listener_is_a_clear_engine_error() {
    let dir = std::env::temp_dir().join(format!("dmt-{}-sock", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // A socket file whose listener is gone.
    let dead = dir.join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
    let url = format!("unix://{}", dead.display());
    match connect(Some(&url)) {
        Err(CollectError::Engine(msg)) => {
            assert!(msg.contains(&url), "{msg}");
            assert!(msg.contains("connection refused"), "{msg}");
        }
        other => panic!("expected an engine error, got {other:?}"),
    }

    // No socket file at all.
    let url = format!("unix://{}", dir.join("missing.sock").display());
    match connect(Some(&url)) {
        Err(CollectError::Engine(msg)) => assert!(msg.contains("no such file"), "{msg}"),
        other => panic!("expected an engine error, got {other:?}"),
    }

    // A listener that never answers: the request timeout ends the wait.
    let hung = dir.join("hung.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&hung).unwrap();
    let url = format!("unix://{}", hung.display());
    match connect(Some(&url)) {
        Err(CollectError::Engine(msg)) => assert!(msg.contains("no answer"), "{msg}"),
        other => panic!("expected an engine error, got {other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn objects_removed_during_collection_do_not_fail_it() {
    if !engine::available() {
        return;
    }
    // Many containers and networks that go away one by one while collections run back to back:
    // some collection lists an object that is gone by the time it inspects it.
    let doomed: Vec<TestContainer> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    (0..10)
                        .map(|_| TestContainer::create(&engine::unique("doomed"), &[]))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let doomed_networks: Vec<TestNetwork> = (0..12)
        .map(|_| TestNetwork::bridge(&engine::unique("doomed"), &[]))
        .collect();
    let done = AtomicBool::new(false);
    let docker = connect(None).expect("connect");
    let rt = engine::runtime();
    // A scope, so that a failed assertion still waits for every removal (no leftovers).
    let rounds = std::thread::scope(|s| {
        s.spawn(|| {
            let mut networks = doomed_networks.into_iter();
            for (i, c) in doomed.into_iter().enumerate() {
                drop(c);
                if i % 3 == 0 {
                    drop(networks.next());
                }
            }
            drop(networks);
            done.store(true, Ordering::Relaxed);
        });
        let mut rounds = 0;
        while !done.load(Ordering::Relaxed) {
            let f = rt
                .block_on(collect(&docker))
                .expect("collect while containers go away");
            assert!(f.problems.is_empty(), "{:?}", f.problems);
            rounds += 1;
        }
        rounds
    });
    assert!(
        rounds > 1,
        "the removals were over before a second collection"
    );
}

#[test]
fn swarm_overlay_service_task_and_node() {
    if !engine::available() || !engine::swarm_manager() {
        return;
    }
    let net = TestNetwork::overlay(&engine::unique("ov"), &[]);
    let svc = TestService::create(
        &engine::unique("svc"),
        &["--network", &net.id, "--replicas", "1"],
    );
    let c = TestContainer::run(&engine::unique("ovc"), &["--network", &net.id]);
    svc.wait_running(1, Duration::from_secs(60));
    let f = facts();
    assert!(f.problems.is_empty(), "{:?}", f.problems);

    assert_eq!(f.swarm.local_state, "active");
    assert!(f.swarm.is_manager);
    let self_id = engine::docker(&["info", "--format", "{{.Swarm.NodeID}}"]);
    assert_eq!(f.swarm.node_id, self_id);
    assert!(!f.swarm.cluster_id.is_empty());
    let node = f.nodes.iter().find(|n| n.id == self_id).expect("own node");
    assert_eq!(node.addr, f.swarm.node_addr);
    assert_eq!(node.role, "manager");
    assert_eq!(node.state, "ready");
    assert!(node.manager_addr.starts_with(&f.swarm.node_addr));

    let n = network(&f, &net.id);
    assert_eq!(n.driver, "overlay");
    assert_eq!(n.scope, "swarm");
    assert!(n.attachable);
    let vni = n
        .options
        .get("com.docker.network.driver.overlay.vxlanid_list")
        .expect("VNI option");
    assert!(vni.parse::<u32>().is_ok(), "{vni}");
    let lb_key = format!("lb-{}", net.name);
    assert!(
        n.endpoints.iter().any(|e| e.key == lb_key),
        "{:?}",
        n.endpoints
    );
    assert!(n.endpoints.iter().any(|e| e.key == c.id));

    // The overlay's own namespace `1-<id prefix>` sits next to the sandboxes.
    let dir = f.netns_dir.as_deref().expect("netns dir");
    let overlay_ns = format!("{dir}/1-{}", &net.id[..10]);
    assert!(std::path::Path::new(&overlay_ns).exists(), "{overlay_ns}");

    let ingress = f.networks.iter().find(|n| n.ingress).expect("ingress");
    assert!(ingress.endpoints.iter().any(|e| e.key == "ingress-sbox"));

    let s = f.services.iter().find(|s| s.id == svc.id).expect("service");
    assert_eq!(s.name, svc.name);
    assert_eq!(s.mode, "replicated");
    assert_eq!(s.replicas, Some(1));
    assert_eq!(s.endpoint_mode, "vip");
    assert_eq!(s.networks, vec![net.id.clone()]);
    let vip = s
        .virtual_ips
        .iter()
        .find(|v| v.network_id == net.id)
        .expect("VIP on the overlay");
    let lb = n.endpoints.iter().find(|e| e.key == lb_key).unwrap();
    assert_ne!(vip.addr, lb.ipv4);

    let t = f
        .tasks
        .iter()
        .find(|t| t.service_id == svc.id && t.state == "running")
        .expect("running task");
    assert_eq!(t.node_id, self_id);
    assert_eq!(t.slot, Some(1));
    let task_container = container(&f, &t.container_id);
    let addr = &t
        .attachments
        .iter()
        .find(|a| a.network_id == net.id)
        .expect("attachment")
        .addresses[0];
    let ep = task_container
        .endpoints
        .iter()
        .find(|e| e.network_id == net.id)
        .unwrap();
    assert_eq!(addr, &format!("{}/{}", ep.ipv4, ep.ipv4_prefix_len));
    assert_eq!(
        task_container.labels.get("com.docker.swarm.service.id"),
        Some(&svc.id)
    );
}
