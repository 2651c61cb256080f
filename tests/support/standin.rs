//! A stand-in Docker host built in lab namespaces: a host namespace with an uplink veth (`up0`)
//! to an outside namespace (a client, or just "the network"), a bridge with container namespaces
//! behind it, their addresses and routes, switches, and TCP servers answering `ok`. The container
//! namespaces are filed in a [`NetnsDir`] so that the real collector, run inside the host, finds
//! them. Everything goes on drop, also when the test panics.
//!
//! Each test names its own namespaces and picks its own subnets in 198.18.0.0/15 or 2001:2::/48;
//! namespace names are made unique per lab by [`Lab`], so tests may reuse short names.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use dockmap::collect::netns::NsHandle;
use dockmap::snapshot::NodeSnapshot;

use super::netlab::{self, family_args, serve, socket, sysctl, Lab, NetnsDir};

const BIN: &str = env!("CARGO_BIN_EXE_dockmap");

/// The address part of `cidr` (`198.18.0.1/24` → `198.18.0.1`).
fn address(cidr: &str) -> &str {
    cidr.split('/').next().unwrap_or(cidr)
}

/// One container namespace behind the stand-in's bridge.
pub struct ContainerNs {
    ns: String,
    file: String,
    port: String,
    dev: String,
    cidr: String,
    routed: bool,
    serves: Option<u16>,
}

impl ContainerNs {
    /// Namespace `ns` (also its file's name), its host end `port` on the bridge, `eth0` inside
    /// with `cidr`, a default route via the bridge's address.
    pub fn new(ns: &str, port: &str, cidr: &str) -> Self {
        Self {
            ns: ns.into(),
            file: ns.into(),
            port: port.into(),
            dev: "eth0".into(),
            cidr: cidr.into(),
            routed: true,
            serves: None,
        }
    }

    /// File the namespace as `name` (what the collector calls it) instead of its short name.
    pub fn filed_as(mut self, name: &str) -> Self {
        self.file = name.into();
        self
    }

    /// Call the interface inside `dev` instead of `eth0`.
    pub fn dev(mut self, dev: &str) -> Self {
        self.dev = dev.into();
        self
    }

    /// No default route inside: only the bridge's subnet is reachable.
    pub fn unrouted(mut self) -> Self {
        self.routed = false;
        self
    }

    /// A server answering `ok` on the container's address and `port`.
    pub fn serving(mut self, port: u16) -> Self {
        self.serves = Some(port);
        self
    }
}

/// How to build a [`StandIn`]: start with [`StandIn::builder`].
pub struct Builder {
    host: String,
    outside: String,
    host_cidr: String,
    outside_cidr: Option<String>,
    gateway: Option<String>,
    route_back: bool,
    bridge: (String, String),
    containers: Vec<ContainerNs>,
    sysctls: Vec<String>,
    forwarding: bool,
    outside_serves: Option<u16>,
}

impl Builder {
    /// The outside end of the uplink: namespace `ns`, `eth0` there with `cidr` (or no address).
    pub fn outside(mut self, ns: &str, cidr: Option<&str>) -> Self {
        self.outside = ns.into();
        self.outside_cidr = cidr.map(Into::into);
        self
    }

    /// The host's default route goes via `gateway` on up0 (by default: the outside's address).
    pub fn gateway(mut self, gateway: &str) -> Self {
        self.gateway = Some(gateway.into());
        self
    }

    /// The outside routes the bridge's subnet via the host, so the containers' own addresses
    /// answer from there.
    pub fn route_back(mut self) -> Self {
        self.route_back = true;
        self
    }

    /// The bridge's name, instead of `docker0`.
    pub fn bridge(mut self, name: &str) -> Self {
        self.bridge.0 = name.into();
        self
    }

    /// A container namespace on the bridge.
    pub fn container(mut self, c: ContainerNs) -> Self {
        self.containers.push(c);
        self
    }

    /// Forwarding on in the host, for the family of the bridge's address.
    pub fn forwarding(mut self) -> Self {
        self.forwarding = true;
        self
    }

    /// One more switch (`key=value`) set in the host.
    pub fn sysctl(mut self, setting: &str) -> Self {
        self.sysctls.push(setting.into());
        self
    }

    /// A server answering `ok` on the outside's address and `port` (for egress).
    pub fn outside_serving(mut self, port: u16) -> Self {
        self.outside_serves = Some(port);
        self
    }

    /// Build it: namespaces, links, addresses, routes, switches, then the containers and servers.
    pub fn build(self) -> StandIn {
        let mut lab = Lab::new();
        let host = lab.netns(&self.host);
        let outside = lab.netns(&self.outside);
        let dir = NetnsDir::new(&format!("{host}-files"));
        let mut si = StandIn {
            host_h: lab.handle(&host),
            outside_h: lab.handle(&outside),
            dir,
            lab,
            host,
            outside,
            bridge: self.bridge.0.clone(),
            bridge_cidr: self.bridge.1.clone(),
            containers: Vec::new(),
            files: Vec::new(),
            container_h: Vec::new(),
            servers: Vec::new(),
        };
        let (host, outside) = (si.host.clone(), si.outside.clone());
        si.lab.veth(Some(&host), "up0", Some(&outside), "eth0");
        si.lab.add_address(&host, &self.host_cidr, "up0");
        if let Some(cidr) = &self.outside_cidr {
            si.lab.add_address(&outside, cidr, "eth0");
        }
        if self.route_back {
            let subnet = subnet_of(&self.bridge.1);
            let via = address(&self.host_cidr);
            si.lab.ip(
                Some(&outside),
                &family_args(via, &["route", "add", &subnet, "via", via]),
            );
        }
        let gateway = self
            .gateway
            .or_else(|| self.outside_cidr.as_deref().map(|c| address(c).to_owned()))
            .expect("a gateway, or an address outside to route via");
        si.lab.ip(
            Some(&host),
            &family_args(
                &gateway,
                &["route", "add", "default", "via", &gateway, "dev", "up0"],
            ),
        );
        si.lab.add_bridge(&host, &self.bridge.0, &self.bridge.1);
        let mut sysctls = self.sysctls;
        if self.forwarding {
            let key = if self.bridge.1.contains(':') {
                "net.ipv6.conf.all.forwarding=1"
            } else {
                "net.ipv4.ip_forward=1"
            };
            sysctls.insert(0, key.to_owned());
        }
        for s in &sysctls {
            sysctl(&host, s);
        }
        for c in self.containers {
            si.add_container(c);
        }
        if let (Some(port), Some(cidr)) = (self.outside_serves, &self.outside_cidr) {
            let at = socket(address(cidr), port);
            si.servers.push(serve(&si.outside_h, at));
        }
        si
    }
}

/// The network of `cidr` (`198.18.220.1/24` → `198.18.220.0/24`), for /24 and /64 only.
fn subnet_of(cidr: &str) -> String {
    let (addr, len) = cidr
        .split_once('/')
        .expect("an address with its prefix length");
    match len {
        "24" => {
            let (net, _) = addr.rsplit_once('.').expect("an IPv4 address");
            format!("{net}.0/24")
        }
        "64" => {
            let (net, _) = addr.rsplit_once("::").expect("an IPv6 address with ::");
            format!("{net}::/64")
        }
        _ => panic!("only /24 and /64 bridges are made here: {cidr}"),
    }
}

/// The stand-in host; see the module's documentation.
pub struct StandIn {
    // Unmounted first, before the namespaces the files point at go (also on a panic).
    /// The container namespaces' files, for `--netns-dir`.
    pub dir: NetnsDir,
    /// The lab holding every namespace.
    pub lab: Lab,
    /// The host namespace's full name.
    pub host: String,
    /// The outside namespace's full name.
    pub outside: String,
    /// The bridge's name in the host.
    pub bridge: String,
    bridge_cidr: String,
    /// The container namespaces' full names, in order of adding.
    pub containers: Vec<String>,
    /// Their files in `dir`, in the same order.
    pub files: Vec<PathBuf>,
    /// A handle on the host.
    pub host_h: NsHandle,
    /// A handle on the outside.
    pub outside_h: NsHandle,
    /// Handles on the containers, in the same order.
    pub container_h: Vec<NsHandle>,
    servers: Vec<JoinHandle<()>>,
}

impl StandIn {
    /// A stand-in whose host namespace is `host`, its uplink address `host_cidr` on up0; the
    /// outside is `out` unless said otherwise; the bridge `docker0` with `bridge_cidr`.
    pub fn builder(host: &str, host_cidr: &str, bridge_cidr: &str) -> Builder {
        Builder {
            host: host.into(),
            outside: "out".into(),
            host_cidr: host_cidr.into(),
            outside_cidr: None,
            gateway: None,
            route_back: false,
            bridge: ("docker0".into(), bridge_cidr.into()),
            containers: Vec::new(),
            sysctls: Vec::new(),
            forwarding: false,
            outside_serves: None,
        }
    }

    /// Put one more container namespace on the bridge (its server, if any, starts too); returns
    /// its index in `containers`.
    pub fn add_container(&mut self, c: ContainerNs) -> usize {
        let full = self.lab.netns(&c.ns);
        let host = self.host.clone();
        self.lab
            .add_bridge_port(&host, &self.bridge, &c.port, &full, &c.dev, &c.cidr);
        if c.routed {
            let via = address(&self.bridge_cidr).to_owned();
            self.lab.ip(
                Some(&full),
                &family_args(&via, &["route", "add", "default", "via", &via]),
            );
        }
        let handle = self.lab.handle(&full);
        if let Some(port) = c.serves {
            let at = socket(address(&c.cidr), port);
            self.servers.push(serve(&handle, at));
        }
        self.files.push(self.dir.add(&c.file, &full));
        self.container_h.push(handle);
        self.containers.push(full);
        self.containers.len() - 1
    }

    /// The real collector's command (`dockmap snapshot --no-engine`) inside the host, as node
    /// `node`; more arguments may follow.
    pub fn collector(&self, node: &str) -> std::process::Command {
        netlab::collector_in(BIN, &self.host, node, &self.dir.dir)
    }

    /// The real collector (`dockmap snapshot --no-engine`) run inside the host, as node `node`.
    pub fn collect(&self, node: &str) -> NodeSnapshot {
        netlab::collect_in(BIN, &self.host, node, &self.dir.dir)
    }

    /// Flush every rule of the host (`nft flush ruleset`: iptables-nft's tables go too).
    pub fn flush_rules(&self) {
        netlab::exec(&self.host, &["nft", "flush", "ruleset"]);
    }

    /// Load the nft file `path` into the host.
    pub fn load_nft(&self, path: &Path) {
        netlab::exec(&self.host, &["nft", "-f", path.to_str().unwrap()]);
    }

    /// Set one switch (`key=value`) in the host.
    pub fn sysctl(&self, setting: &str) {
        sysctl(&self.host, setting);
    }
}

/// What the builder promises every test: nothing of it outlives a test that fails.
#[test]
fn a_stand_in_is_gone_after_its_test_panics() {
    if !netlab::require_root() {
        return;
    }
    let made = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = made.clone();
    let failed = std::thread::spawn(move || {
        let si = StandIn::builder("gone", "198.18.230.5/24", "198.18.231.1/24")
            .outside("gonecli", Some("198.18.230.9/24"))
            .container(ContainerNs::new("gonectr", "vethg0", "198.18.231.2/24").serving(80))
            .forwarding()
            .build();
        assert!(netlab::connects_to(&si.host_h, "198.18.231.2:80"));
        let mut namespaces = vec![si.host.clone(), si.outside.clone()];
        namespaces.extend(si.containers.iter().cloned());
        *seen.lock().unwrap() = Some((namespaces, si.dir.dir.clone()));
        panic!("the test fails with its stand-in host up");
    })
    .join();
    assert!(failed.is_err(), "the test failed");
    let (namespaces, dir) = made.lock().unwrap().take().expect("the stand-in was built");
    assert_eq!(namespaces.len(), 3);
    let listed = netlab::run("ip", &["netns", "list"]);
    for ns in &namespaces {
        assert!(!Path::new("/run/netns").join(ns).exists(), "{ns} is left");
        assert!(!listed.contains(ns.as_str()), "{ns} is listed: {listed}");
    }
    assert!(!dir.exists(), "{} is left", dir.display());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(dir.to_str().unwrap()),
        "a namespace file is still mounted"
    );
}
