//! A synthetic swarm: consistent [`NodeSnapshot`]s for N containers over H hosts.
//!
//! Used by the browser benchmark and by tests that must not depend on a real
//! engine. Everything is derived from the options by arithmetic (no randomness),
//! so the same options always give the same snapshots. The shape follows what
//! Docker builds on a swarm node: a host namespace with docker0,
//! docker_gwbridge and a user bridge; one `1-<netid>` namespace per overlay
//! with br0, vxlan0 and one veth per local endpoint; `ingress_sbox`; `lb_<netid>`
//! sandboxes; and one sandbox per container with eth0 (and eth1 on the
//! gwbridge for tasks). Every address lies in 198.18.0.0/15.

use std::collections::BTreeMap;

use crate::snapshot::*;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SyntheticOptions {
    /// Number of hosts (swarm nodes); at least 1.
    pub hosts: usize,
    /// Number of containers over all hosts.
    pub containers: usize,
    /// Add a bridge network whose name is HTML, with one container on it (host 0).
    pub hostile_names: bool,
}

impl Default for SyntheticOptions {
    fn default() -> Self {
        Self {
            hosts: 1,
            containers: 10,
            hostile_names: false,
        }
    }
}

/// The name of the hostile network [`SyntheticOptions::hostile_names`] adds.
pub const HOSTILE_NETWORK: &str = "x<img src=x onerror=alert(1)>";

/// How many overlay networks the services spread over.
const OVERLAYS: usize = 4;
/// Replicas per service.
const REPLICAS: usize = 10;

/// The snapshots of every host, in host order.
pub fn snapshots(opts: &SyntheticOptions) -> Vec<NodeSnapshot> {
    let hosts = opts.hosts.max(1);
    let plan = Plan::new(opts, hosts);
    (0..hosts).map(|h| plan.node(h)).collect()
}

/// A task's overlay MAC: its eth0's, and what the other nodes' FDBs list for it (a healthy swarm).
fn task_mac(index: usize) -> String {
    mac_of(&format!("task-eth0-{index}"))
}

/// A 64-bit mix (splitmix64) so IDs look random but are fixed.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn seed_of(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A hex ID of `len` digits derived from `seed`.
fn hex_id(seed: &str, len: usize) -> String {
    let mut out = String::with_capacity(len + 16);
    let mut x = seed_of(seed);
    while out.len() < len {
        x = mix(x);
        out.push_str(&format!("{x:016x}"));
    }
    out.truncate(len);
    out
}

fn mac_of(seed: &str) -> String {
    let x = mix(seed_of(seed));
    let b = x.to_be_bytes();
    format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3])
}

/// An address in a /20 pool: `base` is the pool's first two octets and third octet.
fn pool_addr(base: (u8, u8, u8), n: usize) -> String {
    let n = n + 2; // .0 is the network, .1 the gateway
    format!(
        "{}.{}.{}.{}",
        base.0,
        base.1,
        usize::from(base.2) + n / 256,
        n % 256
    )
}

fn gateway(base: (u8, u8, u8)) -> String {
    format!("{}.{}.{}.1", base.0, base.1, base.2)
}

fn subnet(base: (u8, u8, u8)) -> String {
    format!("{}.{}.{}.0/20", base.0, base.1, base.2)
}

/// What a container is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attach {
    /// A task of service `svc` (on overlay `svc % OVERLAYS`, plus the gwbridge).
    Task { svc: usize, slot: usize },
    /// A standalone container on docker0.
    Docker0,
    /// A standalone container on the user bridge `backend`.
    Backend,
    /// The container on the hostile network.
    Hostile,
}

#[derive(Debug, Clone)]
struct Ctr {
    index: usize,
    host: usize,
    id: String,
    name: String,
    sandbox: String,
    attach: Attach,
    /// Address index inside each pool this container uses.
    addr_index: usize,
}

impl Ctr {
    /// The name of its sandbox namespace (the sandbox ID's first 12 characters, as Docker's).
    fn netns_name(&self) -> String {
        self.sandbox[..12].to_string()
    }

    /// The name of its veth's host end.
    fn host_veth(&self) -> String {
        format!("veth{}", &hex_id(&format!("hv-{}", self.index), 7))
    }

    fn overlay(&self) -> Option<usize> {
        match self.attach {
            Attach::Task { svc, .. } => Some(svc % OVERLAYS),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Net {
    id: String,
    name: String,
    driver: &'static str,
    scope: &'static str,
    ingress: bool,
    base: (u8, u8, u8),
    vni: Option<u32>,
    bridge_name: Option<String>,
}

struct Plan {
    hosts: usize,
    ctrs: Vec<Ctr>,
    ingress: Net,
    overlays: Vec<Net>,
    services: usize,
    hostile: bool,
}

fn hostname(h: usize) -> String {
    format!("node-{h:02}")
}

fn underlay(h: usize) -> String {
    format!("198.18.0.{}", 10 + h)
}

fn docker0_net(h: usize) -> Net {
    Net {
        id: hex_id(&format!("bridge-{h}"), 64),
        name: "bridge".into(),
        driver: "bridge",
        scope: "local",
        ingress: false,
        base: (198, 18, 32),
        vni: None,
        bridge_name: Some("docker0".into()),
    }
}

fn gwbridge_net(h: usize) -> Net {
    Net {
        id: hex_id(&format!("gwbridge-{h}"), 64),
        name: "docker_gwbridge".into(),
        driver: "bridge",
        scope: "local",
        ingress: false,
        base: (198, 18, 48),
        vni: None,
        bridge_name: Some("docker_gwbridge".into()),
    }
}

fn backend_net(h: usize) -> Net {
    let id = hex_id(&format!("backend-{h}"), 64);
    let br = format!("br-{}", &id[..12]);
    Net {
        id,
        name: "backend".into(),
        driver: "bridge",
        scope: "local",
        ingress: false,
        base: (198, 18, 64),
        vni: None,
        bridge_name: Some(br),
    }
}

fn hostile_net() -> Net {
    let id = hex_id("hostile", 64);
    let br = format!("br-{}", &id[..12]);
    Net {
        id,
        name: HOSTILE_NETWORK.into(),
        driver: "bridge",
        scope: "local",
        ingress: false,
        base: (198, 18, 80),
        vni: None,
        bridge_name: Some(br),
    }
}

/// What container `j` is attached to; a task takes the next slot of the service being filled.
fn attach_of(j: usize, hosts: usize, tasks: &mut usize) -> Attach {
    // Kinds cycle per host round, so every host gets tasks and standalone containers.
    match (j / hosts + j) % 10 {
        0..=6 => {
            let svc = *tasks / REPLICAS;
            let slot = *tasks % REPLICAS + 1;
            *tasks += 1;
            Attach::Task { svc, slot }
        }
        7 | 8 => Attach::Docker0,
        _ => Attach::Backend,
    }
}

/// The container on the hostile network, on host 0, numbered after all the others.
fn hostile_ctr(j: usize) -> Ctr {
    Ctr {
        index: j,
        host: 0,
        id: hex_id("ctr-hostile", 64),
        name: "victim".into(),
        sandbox: hex_id("sbx-hostile", 64),
        attach: Attach::Hostile,
        addr_index: 0,
    }
}

/// The swarm's ingress network.
fn ingress_net() -> Net {
    Net {
        id: hex_id("ingress", 25),
        name: "ingress".into(),
        driver: "overlay",
        scope: "swarm",
        ingress: true,
        base: (198, 19, 240),
        vni: Some(4096),
        bridge_name: None,
    }
}

/// Overlay network `k` of the services.
fn overlay_net(k: usize) -> Net {
    Net {
        id: hex_id(&format!("overlay-{k}"), 25),
        name: format!("app-{k}"),
        driver: "overlay",
        scope: "swarm",
        ingress: false,
        base: (198, 19, (k * 16) as u8),
        vni: Some(4097 + k as u32),
        bridge_name: None,
    }
}

impl Plan {
    fn new(opts: &SyntheticOptions, hosts: usize) -> Self {
        let mut ctrs = Vec::with_capacity(opts.containers + 1);
        let mut tasks = 0usize;
        // Per (host, pool) address counters keep addresses unique where they must be.
        let mut local_counter = vec![[0usize; 3]; hosts];
        let mut overlay_counter = [0usize; OVERLAYS];
        for j in 0..opts.containers {
            let host = j % hosts;
            let attach = attach_of(j, hosts, &mut tasks);
            let (name, addr_index) = match attach {
                Attach::Task { svc, slot } => {
                    let ov = svc % OVERLAYS;
                    let n = overlay_counter[ov];
                    overlay_counter[ov] += 1;
                    let task_id = hex_id(&format!("task-{svc}-{slot}"), 25);
                    (format!("svc-{svc:03}.{slot}.{task_id}"), n)
                }
                Attach::Docker0 => {
                    let n = local_counter[host][0];
                    local_counter[host][0] += 1;
                    (format!("web-{j:04}"), n)
                }
                Attach::Backend => {
                    let n = local_counter[host][1];
                    local_counter[host][1] += 1;
                    (format!("db-{j:04}"), n)
                }
                Attach::Hostile => unreachable!(),
            };
            ctrs.push(Ctr {
                index: j,
                host,
                id: hex_id(&format!("ctr-{j}"), 64),
                name,
                sandbox: hex_id(&format!("sbx-{j}"), 64),
                attach,
                addr_index,
            });
        }
        if opts.hostile_names {
            ctrs.push(hostile_ctr(opts.containers));
        }
        Self {
            hosts,
            ctrs,
            ingress: ingress_net(),
            overlays: (0..OVERLAYS).map(overlay_net).collect(),
            services: tasks.div_ceil(REPLICAS),
            hostile: opts.hostile_names,
        }
    }

    fn ctr_ip(&self, c: &Ctr) -> (String, (u8, u8, u8)) {
        let base = match c.attach {
            Attach::Task { svc, .. } => self.overlays[svc % OVERLAYS].base,
            Attach::Docker0 => docker0_net(c.host).base,
            Attach::Backend => backend_net(c.host).base,
            Attach::Hostile => hostile_net().base,
        };
        (pool_addr(base, c.addr_index), base)
    }

    /// A task's address on the host's gwbridge (per host counter = its rank among local tasks).
    fn gw_ip(&self, c: &Ctr, rank: usize) -> String {
        pool_addr(gwbridge_net(c.host).base, rank + 1)
    }

    fn node(&self, h: usize) -> NodeSnapshot {
        let mut b = NodeBuilder::new(self, h);
        b.build();
        let mut snap = NodeSnapshot {
            schema: NODE_SCHEMA.into(),
            taken_at: "2026-11-26T12:00:00Z".into(),
            duration_ms: 1200,
            node: NodeIdentity {
                hostname: hostname(h),
                kernel: "6.1.0-synthetic".into(),
                dockmap_version: env!("CARGO_PKG_VERSION").into(),
                ..Default::default()
            },
            sources: vec![
                SourceStatus::ok(SourceKind::Engine, None),
                SourceStatus::ok(SourceKind::Namespaces, None),
                SourceStatus::ok(SourceKind::Netlink, Some("host")),
                SourceStatus::ok(SourceKind::Iptables, Some("host")),
                SourceStatus::unavailable(
                    SourceKind::Ipvs,
                    Some("ingress_sbox"),
                    "the kernel has no IPVS (generic netlink family IPVS absent)",
                ),
            ],
            engine: Some(b.engine),
            namespaces: b.namespaces.into_values().collect(),
        };
        snap.normalize();
        snap
    }
}

/// Builds one host's namespaces and engine facts.
struct NodeBuilder<'a> {
    plan: &'a Plan,
    host: usize,
    namespaces: BTreeMap<String, Namespace>,
    next_ino: u64,
    engine: EngineFacts,
}

const NS_DEV: u64 = 4;

impl<'a> NodeBuilder<'a> {
    fn new(plan: &'a Plan, host: usize) -> Self {
        Self {
            plan,
            host,
            namespaces: BTreeMap::new(),
            next_ino: 4_026_531_840 + host as u64 * 1_000_000,
            engine: EngineFacts::default(),
        }
    }

    fn ns(&mut self, name: &str, role: NamespaceRole, path: Option<String>) {
        let id = NsIdentity {
            dev: NS_DEV,
            ino: self.next_ino,
        };
        self.next_ino += 1;
        let mut ns = Namespace {
            id,
            name: name.into(),
            paths: path.into_iter().collect(),
            role,
            ipvs: if matches!(
                role,
                NamespaceRole::Host | NamespaceRole::IngressSandbox | NamespaceRole::LoadBalancer
            ) {
                IpvsState::Unavailable {
                    reason: "the kernel has no IPVS".into(),
                }
            } else {
                IpvsState::NotRead
            },
            ..Default::default()
        };
        ns.links.push(Link {
            ifindex: 1,
            name: "lo".into(),
            link_type: 772,
            mtu: 65536,
            oper_state: "unknown".into(),
            admin_up: true,
            ..Default::default()
        });
        ns.addresses.push(Address {
            ifindex: 1,
            family: 4,
            address: "127.0.0.1".into(),
            prefix_len: 8,
            scope: "host".into(),
        });
        self.namespaces.insert(name.into(), ns);
    }

    fn get(&mut self, ns: &str) -> &mut Namespace {
        self.namespaces
            .get_mut(ns)
            .unwrap_or_else(|| panic!("synthetic: namespace {ns} not created"))
    }

    /// Add a link; returns its ifindex.
    fn link(&mut self, ns: &str, mut link: Link) -> u32 {
        let n = self.get(ns);
        link.ifindex = n.links.iter().map(|l| l.ifindex).max().unwrap_or(0) + 1;
        if link.mac.is_empty() && link.link_type != 772 {
            link.mac = mac_of(&format!("{}/{}/{}", n.id.ino, ns, link.name));
        }
        if link.oper_state.is_empty() {
            link.oper_state = "up".into();
            link.admin_up = true;
        }
        if link.link_type == 0 {
            link.link_type = 1;
        }
        let idx = link.ifindex;
        n.links.push(link);
        idx
    }

    fn addr(&mut self, ns: &str, ifindex: u32, address: &str, prefix_len: u8) {
        self.get(ns).addresses.push(Address {
            ifindex,
            family: 4,
            address: address.into(),
            prefix_len,
            scope: "universe".into(),
        });
    }

    fn find(&mut self, ns: &str, name: &str) -> u32 {
        let n = self.get(ns);
        n.links
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.ifindex)
            .unwrap_or_else(|| panic!("synthetic: no link {name} in {ns}"))
    }

    /// The nsid `from` gives `to`, allocating one if needed.
    fn nsid(&mut self, from: &str, to: &str) -> i32 {
        let target = self.get(to).id;
        let n = self.get(from);
        if let Some(m) = n.nsids.iter().find(|m| m.target == target) {
            return m.nsid;
        }
        let nsid = n.nsids.len() as i32;
        n.nsids.push(NsIdMapping { nsid, target });
        nsid
    }

    /// A veth pair between two namespaces; returns (ifindex in a, ifindex in b).
    fn veth(
        &mut self,
        a: (&str, &str),
        b: (&str, &str),
        master_b: Option<u32>,
        mtu: u32,
    ) -> (u32, u32) {
        let ia = self.link(
            a.0,
            Link {
                name: a.1.into(),
                kind: "veth".into(),
                mtu,
                ..Default::default()
            },
        );
        let ib = self.link(
            b.0,
            Link {
                name: b.1.into(),
                kind: "veth".into(),
                mtu,
                master: master_b,
                ..Default::default()
            },
        );
        let id_ab = self.nsid(a.0, b.0);
        let id_ba = self.nsid(b.0, a.0);
        let la = self.get(a.0);
        if let Some(l) = la.links.iter_mut().find(|l| l.ifindex == ia) {
            l.link = Some(ib);
            l.link_netnsid = Some(id_ab);
        }
        let lb = self.get(b.0);
        if let Some(l) = lb.links.iter_mut().find(|l| l.ifindex == ib) {
            l.link = Some(ia);
            l.link_netnsid = Some(id_ba);
        }
        (ia, ib)
    }

    fn bridge(&mut self, ns: &str, name: &str, mtu: u32) -> u32 {
        self.link(
            ns,
            Link {
                name: name.into(),
                kind: "bridge".into(),
                mtu,
                bridge: Some(BridgeInfo {
                    stp_state: 0,
                    vlan_filtering: false,
                    ageing_time: 30000,
                }),
                ..Default::default()
            },
        )
    }

    fn local_nets(&self) -> Vec<Net> {
        let h = self.host;
        let mut v = vec![docker0_net(h), gwbridge_net(h), backend_net(h)];
        if self.plan.hostile && h == 0 {
            v.push(hostile_net());
        }
        v
    }

    fn overlay_ns(net: &Net) -> String {
        format!("1-{}", &net.id[..10])
    }

    fn build(&mut self) {
        let plan = self.plan;
        let h = self.host;
        let bridge_ix = self.host_side();
        let local: Vec<&Ctr> = plan.ctrs.iter().filter(|c| c.host == h).collect();
        let used_overlays: Vec<usize> = (0..OVERLAYS)
            .filter(|k| local.iter().any(|c| c.overlay() == Some(*k)))
            .collect();
        let gw = bridge_ix["docker_gwbridge"].0;
        self.routing_mesh(gw);
        self.load_balancers(&used_overlays);

        let mut gw_rank = 1usize;
        let mut overlay_veths = [1usize; OVERLAYS];
        let mut containers = Vec::new();
        for c in &local {
            containers.push(self.container(c, &bridge_ix, gw, &mut gw_rank, &mut overlay_veths));
        }

        self.fdb(&used_overlays);
        self.firewall(&containers);
        self.engine_facts(containers, &used_overlays);
    }

    /// The host namespace: its uplink, a bridge per local network (name → (ifindex, bridge)), the
    /// default route.
    fn host_side(&mut self) -> BTreeMap<String, (u32, String)> {
        let h = self.host;
        self.ns("host", NamespaceRole::Host, None);
        let eth0 = self.link(
            "host",
            Link {
                name: "eth0".into(),
                mtu: 1500,
                ..Default::default()
            },
        );
        self.addr("host", eth0, &underlay(h), 24);
        let mut bridge_ix = BTreeMap::new();
        for net in self.local_nets() {
            let Some(br) = net.bridge_name.clone() else {
                continue;
            };
            let ix = self.bridge("host", &br, 1500);
            self.addr("host", ix, &gateway(net.base), 20);
            bridge_ix.insert(net.name.clone(), (ix, br));
        }
        self.get("host").routes.push(Route {
            family: 4,
            table: 254,
            destination: String::new(),
            prefix_len: 0,
            gateway: Some("198.18.0.1".into()),
            oif: Some(eth0),
            route_type: "unicast".into(),
            protocol: "static".into(),
            scope: "universe".into(),
            ..Default::default()
        });

        bridge_ix
    }

    /// The routing mesh: ingress overlay namespace and ingress_sbox.
    fn routing_mesh(&mut self, gw: u32) {
        let plan = self.plan;
        let h = self.host;
        let ing_ns = Self::overlay_ns(&plan.ingress);
        self.overlay("ingress", &plan.ingress.clone());
        self.ns(
            "ingress_sbox",
            NamespaceRole::IngressSandbox,
            Some("/var/run/docker/netns/ingress_sbox".into()),
        );
        let br0 = self.find(&ing_ns, "br0");
        let (e0, _) = self.veth(
            ("ingress_sbox", "eth0"),
            (&ing_ns, "veth0"),
            Some(br0),
            1450,
        );
        self.addr(
            "ingress_sbox",
            e0,
            &pool_addr(plan.ingress.base, 200 + h),
            20,
        );
        let (e1, _) = self.veth(
            ("ingress_sbox", "eth1"),
            ("host", &format!("veth{}", &hex_id(&format!("ing-{h}"), 7))),
            Some(gw),
            1500,
        );
        self.addr("ingress_sbox", e1, &pool_addr(gwbridge_net(h).base, 0), 20);
    }

    /// An `lb_` namespace on every overlay this node's tasks use.
    fn load_balancers(&mut self, used_overlays: &[usize]) {
        let plan = self.plan;
        let h = self.host;
        for &k in used_overlays {
            let net = plan.overlays[k].clone();
            self.overlay(&net.name.clone(), &net);
            let ons = Self::overlay_ns(&net);
            let lb = format!("lb_{}", &net.id[..10]);
            self.ns(
                &lb,
                NamespaceRole::LoadBalancer,
                Some(format!("/var/run/docker/netns/{lb}")),
            );
            let br0 = self.find(&ons, "br0");
            let (e0, _) = self.veth((&lb, "eth0"), (&ons, "veth0"), Some(br0), 1450);
            self.addr(&lb, e0, &pool_addr(net.base, 4000 + h), 20);
        }
    }

    /// One container: its sandbox, veths and addresses, and what the engine says of it.
    fn container(
        &mut self,
        c: &Ctr,
        bridge_ix: &BTreeMap<String, (u32, String)>,
        gw: u32,
        gw_rank: &mut usize,
        overlay_veths: &mut [usize; OVERLAYS],
    ) -> Container {
        let nsname = c.netns_name();
        let key = format!("/var/run/docker/netns/{nsname}");
        self.ns(&nsname, NamespaceRole::Container, Some(key.clone()));
        let (ip, base) = self.plan.ctr_ip(c);
        let endpoints = match c.attach {
            Attach::Task { svc, .. } => {
                self.task_endpoints(c, svc, &ip, gw, gw_rank, overlay_veths)
            }
            _ => vec![self.bridge_endpoint(c, &ip, bridge_ix)],
        };
        self.default_route(&nsname, base);
        container_facts(c, key, endpoints)
    }

    /// A task's eth0 on its overlay's br0 and eth1 on the gwbridge, and their endpoints.
    fn task_endpoints(
        &mut self,
        c: &Ctr,
        svc: usize,
        ip: &str,
        gw: u32,
        gw_rank: &mut usize,
        overlay_veths: &mut [usize; OVERLAYS],
    ) -> Vec<ContainerEndpoint> {
        let plan = self.plan;
        let nsname = c.netns_name();
        let k = svc % OVERLAYS;
        let net = &plan.overlays[k];
        let ons = Self::overlay_ns(net);
        let br0 = self.find(&ons, "br0");
        let vn = format!("veth{}", overlay_veths[k]);
        overlay_veths[k] += 1;
        let (e0, _) = self.veth((&nsname, "eth0"), (&ons, &vn), Some(br0), 1450);
        self.addr(&nsname, e0, ip, 20);
        // The MAC every other node's vxlan0 FDB lists for this task.
        let mac = task_mac(c.index);
        self.get(&nsname).links[1].mac = mac.clone();
        let mut endpoints = vec![endpoint(net, ip, &mac, c)];
        let gip = plan.gw_ip(c, *gw_rank);
        *gw_rank += 1;
        let hostveth = c.host_veth();
        let (e1, _) = self.veth((&nsname, "eth1"), ("host", &hostveth), Some(gw), 1500);
        self.addr(&nsname, e1, &gip, 20);
        let mac = self.get(&nsname).links[2].mac.clone();
        endpoints.push(endpoint(&gwbridge_net(self.host), &gip, &mac, c));
        endpoints
    }

    /// A standalone container's eth0 on its host bridge, and its endpoint.
    fn bridge_endpoint(
        &mut self,
        c: &Ctr,
        ip: &str,
        bridge_ix: &BTreeMap<String, (u32, String)>,
    ) -> ContainerEndpoint {
        let h = self.host;
        let nsname = c.netns_name();
        let net = match c.attach {
            Attach::Docker0 => docker0_net(h),
            Attach::Backend => backend_net(h),
            _ => hostile_net(),
        };
        let master = bridge_ix[&net.name].0;
        let hostveth = c.host_veth();
        let (e0, _) = self.veth((&nsname, "eth0"), ("host", &hostveth), Some(master), 1500);
        self.addr(&nsname, e0, ip, 20);
        let mac = self.get(&nsname).links[1].mac.clone();
        endpoint(&net, ip, &mac, c)
    }

    /// The default route of a container's namespace, through its network's gateway.
    fn default_route(&mut self, nsname: &str, base: (u8, u8, u8)) {
        self.get(nsname).routes.push(Route {
            family: 4,
            table: 254,
            destination: String::new(),
            prefix_len: 0,
            gateway: Some(gateway(base)),
            oif: Some(2),
            route_type: "unicast".into(),
            protocol: "boot".into(),
            scope: "universe".into(),
            ..Default::default()
        });
    }

    /// An overlay's namespace with br0 and vxlan0 enslaved to it.
    fn overlay(&mut self, _name: &str, net: &Net) {
        let ons = Self::overlay_ns(net);
        self.ns(
            &ons,
            NamespaceRole::Overlay,
            Some(format!("/var/run/docker/netns/{ons}")),
        );
        let br0 = self.bridge(&ons, "br0", 1450);
        self.addr(&ons, br0, &gateway(net.base), 20);
        self.link(
            &ons,
            Link {
                name: "vxlan0".into(),
                kind: "vxlan".into(),
                mtu: 1450,
                master: Some(br0),
                vxlan: Some(VxlanInfo {
                    vni: net.vni.unwrap_or(0),
                    port: 4789,
                    learning: false,
                    proxy: true,
                    l2miss: true,
                    l3miss: true,
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
    }

    /// vxlan0's forwarding entries: every remote task of the overlay, to its host's underlay address.
    fn fdb(&mut self, used: &[usize]) {
        let plan = self.plan;
        let host = self.host;
        for &k in used {
            let net = &plan.overlays[k];
            let ons = Self::overlay_ns(net);
            let vx = self.find(&ons, "vxlan0");
            let br0 = self.find(&ons, "br0");
            for c in plan
                .ctrs
                .iter()
                .filter(|c| c.host != host && c.overlay() == Some(k))
            {
                let mac = task_mac(c.index);
                self.get(&ons).fdb.push(FdbEntry {
                    ifindex: vx,
                    master: Some(br0),
                    mac,
                    dst: Some(underlay(c.host)),
                    vni: net.vni,
                    state: vec!["permanent".into()],
                    flags: vec!["self".into()],
                    ..Default::default()
                });
            }
        }
    }

    /// The host's iptables: Docker's NAT and filter rules for its bridges and published ports.
    fn firewall(&mut self, containers: &[Container]) {
        let mut nat = nat_table();
        let mut filter = filter_table();
        for net in self.local_nets() {
            let Some(br) = net.bridge_name else { continue };
            bridge_rules(&mut nat, &mut filter, &br, net.base);
        }
        for c in containers {
            for p in &c.ports {
                let (Some(hp), Some(ep)) = (p.host_port, c.endpoints.first()) else {
                    continue;
                };
                nat.rules.push(rule(
                    "DOCKER",
                    &format!(
                        "-A DOCKER ! -i docker0 -p tcp -m tcp --dport {hp} -j DNAT --to-destination {}:{}",
                        ep.ipv4, p.private_port
                    ),
                ));
                filter.rules.push(rule(
                    "DOCKER",
                    &format!(
                        "-A DOCKER -d {}/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport {} -j ACCEPT",
                        ep.ipv4, p.private_port
                    ),
                ));
            }
        }
        self.get("host").firewall = Some(Firewall {
            backend: "nf_tables".into(),
            ipv4: vec![filter, nat],
            ipv6: Vec::new(),
            nftables: None,
        });
    }

    /// What the engine says: its networks, containers and (on the manager) the swarm's lists.
    fn engine_facts(&mut self, containers: Vec<Container>, used: &[usize]) {
        let plan = self.plan;
        let h = self.host;
        let mut all_nets = self.local_nets();
        all_nets.push(plan.ingress.clone());
        all_nets.extend(used.iter().map(|&k| plan.overlays[k].clone()));
        let networks = all_nets
            .into_iter()
            .map(|net| network_facts(&net, &containers, plan.hosts))
            .collect();
        let manager = h == 0;
        let (services, tasks, nodes) = if manager {
            self.swarm_lists()
        } else {
            (Vec::new(), Vec::new(), Vec::new())
        };
        self.engine = EngineFacts {
            id: hex_id(&format!("engine-{h}"), 36),
            name: hostname(h),
            version: "20.10.24".into(),
            api_version: "1.41".into(),
            root_dir: "/var/lib/docker".into(),
            firewall_backend: String::new(),
            netns_dir: Some("/var/run/docker/netns".into()),
            swarm: SwarmFacts {
                local_state: "active".into(),
                node_id: node_id(h),
                node_addr: underlay(h),
                is_manager: manager,
                cluster_id: hex_id("cluster", 25),
            },
            containers,
            networks,
            services,
            tasks,
            nodes,
            problems: Vec::new(),
        };
    }

    /// The swarm's services, tasks and nodes, as a manager lists them.
    fn swarm_lists(&self) -> (Vec<Service>, Vec<Task>, Vec<SwarmNode>) {
        let plan = self.plan;
        (services(plan), tasks(plan), swarm_nodes(plan.hosts))
    }
}

/// Every service, each on its overlay with a VIP; every fifth publishes a port.
fn services(plan: &Plan) -> Vec<Service> {
    (0..plan.services)
        .map(|s| {
            let net = &plan.overlays[s % OVERLAYS];
            Service {
                id: hex_id(&format!("svc-{s}"), 25),
                name: format!("svc-{s:03}"),
                mode: "replicated".into(),
                replicas: Some(REPLICAS as u64),
                image: "registry.example/app:1.0".into(),
                endpoint_mode: "vip".into(),
                ports: if s % 5 == 0 {
                    vec![ServicePort {
                        protocol: "tcp".into(),
                        target_port: 80,
                        published_port: 30000 + s as u16,
                        publish_mode: "ingress".into(),
                    }]
                } else {
                    Vec::new()
                },
                virtual_ips: vec![VirtualIp {
                    network_id: net.id.clone(),
                    addr: format!("{}/20", pool_addr(net.base, 3000 + s)),
                }],
                networks: vec![net.id.clone()],
            }
        })
        .collect()
}

/// Every task of every service, on whichever host runs it.
fn tasks(plan: &Plan) -> Vec<Task> {
    plan.ctrs
        .iter()
        .filter_map(|c| match c.attach {
            Attach::Task { svc, slot } => {
                let (ip, _) = plan.ctr_ip(c);
                Some(Task {
                    id: hex_id(&format!("task-{svc}-{slot}"), 25),
                    service_id: hex_id(&format!("svc-{svc}"), 25),
                    node_id: node_id(c.host),
                    slot: Some(slot as u64),
                    desired_state: "running".into(),
                    state: "running".into(),
                    container_id: c.id.clone(),
                    attachments: vec![TaskAttachment {
                        network_id: plan.overlays[svc % OVERLAYS].id.clone(),
                        addresses: vec![format!("{ip}/20")],
                    }],
                })
            }
            _ => None,
        })
        .collect()
}

/// The swarm's nodes: host 0 the manager, the rest workers.
fn swarm_nodes(hosts: usize) -> Vec<SwarmNode> {
    (0..hosts)
        .map(|p| SwarmNode {
            id: node_id(p),
            hostname: hostname(p),
            role: if p == 0 { "manager" } else { "worker" }.into(),
            addr: underlay(p),
            state: "ready".into(),
            availability: "active".into(),
            manager_addr: if p == 0 {
                format!("{}:2377", underlay(p))
            } else {
                String::new()
            },
        })
        .collect()
}

/// The swarm node ID: the hostname itself, so the element IDs of this data read `host:node-00`
/// (real IDs are 25 random characters; tests of identity use those).
fn node_id(h: usize) -> String {
    hostname(h)
}

fn endpoint(net: &Net, ip: &str, mac: &str, c: &Ctr) -> ContainerEndpoint {
    ContainerEndpoint {
        network_name: net.name.clone(),
        network_id: net.id.clone(),
        endpoint_id: hex_id(&format!("ep-{}-{}", c.index, net.id), 64),
        ipv4: ip.into(),
        ipv4_prefix_len: 20,
        ipv6: String::new(),
        mac: mac.into(),
        gateway: gateway(net.base),
        aliases: Vec::new(),
    }
}

/// A rule with the fields iptables-save would give, parsed from its text.
/// What the engine says of a container, given its sandbox key and endpoints.
fn container_facts(c: &Ctr, sandbox_key: String, endpoints: Vec<ContainerEndpoint>) -> Container {
    let (image, network_mode, labels) = image_mode_labels(c);
    Container {
        id: c.id.clone(),
        name: c.name.clone(),
        image,
        state: "running".into(),
        pid: 1000 + c.index as i64,
        network_mode,
        sandbox_key,
        sandbox_id: c.sandbox.clone(),
        ports: published_ports(c),
        endpoints,
        labels,
    }
}

/// A container's image, network mode and labels (a task carries its service's and its own).
fn image_mode_labels(c: &Ctr) -> (String, String, BTreeMap<String, String>) {
    let mut labels = BTreeMap::new();
    let (image, mode) = match c.attach {
        Attach::Task { svc, slot } => {
            labels.insert(
                "com.docker.swarm.service.name".into(),
                format!("svc-{svc:03}"),
            );
            labels.insert(
                "com.docker.swarm.task.id".into(),
                hex_id(&format!("task-{svc}-{slot}"), 25),
            );
            (
                "registry.example/app:1.0".to_string(),
                "default".to_string(),
            )
        }
        Attach::Docker0 => ("nginx:1.27".into(), "default".into()),
        Attach::Backend => ("postgres:16".into(), "backend".into()),
        Attach::Hostile => ("busybox".into(), HOSTILE_NETWORK.into()),
    };
    (image, mode, labels)
}

/// The ports a container publishes: port 80 of every docker0 web container.
fn published_ports(c: &Ctr) -> Vec<PortBinding> {
    if c.attach == Attach::Docker0 {
        vec![PortBinding {
            private_port: 80,
            protocol: "tcp".into(),
            host_ip: Some("0.0.0.0".into()),
            host_port: Some(8000 + c.index as u16 % 50000),
        }]
    } else {
        Vec::new()
    }
}

/// The nat table with its chains and the PREROUTING jumps to Docker's chains.
fn nat_table() -> Table {
    let mut nat = Table {
        name: "nat".into(),
        chains: ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]
            .iter()
            .map(|c| Chain {
                name: (*c).into(),
                policy: Some("ACCEPT".into()),
            })
            .chain(["DOCKER", "DOCKER-INGRESS"].iter().map(|c| Chain {
                name: (*c).into(),
                policy: None,
            }))
            .collect(),
        rules: Vec::new(),
    };
    nat.rules.push(rule(
        "PREROUTING",
        "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER-INGRESS",
    ));
    nat.rules.push(rule(
        "PREROUTING",
        "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
    ));
    nat
}

/// The filter table with Docker's chains and no rules yet.
fn filter_table() -> Table {
    Table {
        name: "filter".into(),
        chains: vec![
            Chain {
                name: "FORWARD".into(),
                policy: Some("DROP".into()),
            },
            Chain {
                name: "DOCKER".into(),
                policy: None,
            },
        ],
        rules: Vec::new(),
    }
}

/// The rules Docker writes for a local bridge `br` on subnet `base`: masquerade and forward.
fn bridge_rules(nat: &mut Table, filter: &mut Table, br: &str, base: (u8, u8, u8)) {
    nat.rules.push(rule(
        "POSTROUTING",
        &format!("-A POSTROUTING -s {} ! -o {br} -j MASQUERADE", subnet(base)),
    ));
    nat.rules
        .push(rule("DOCKER", &format!("-A DOCKER -i {br} -j RETURN")));
    filter
        .rules
        .push(rule("FORWARD", &format!("-A FORWARD -o {br} -j DOCKER")));
    filter.rules.push(rule(
        "FORWARD",
        &format!("-A FORWARD -i {br} ! -o {br} -j ACCEPT"),
    ));
}

/// What the engine says of network `net`: its IPAM, options, local endpoints and swarm peers.
fn network_facts(net: &Net, containers: &[Container], hosts: usize) -> Network {
    let peers = if net.scope == "swarm" {
        (0..hosts)
            .map(|p| NetworkPeer {
                name: hostname(p),
                ip: underlay(p),
            })
            .collect()
    } else {
        Vec::new()
    };
    Network {
        id: net.id.clone(),
        name: net.name.clone(),
        driver: net.driver.into(),
        scope: net.scope.into(),
        internal: false,
        attachable: net.scope == "swarm" && !net.ingress,
        ingress: net.ingress,
        ipv4_disabled: false,
        enable_ipv6: false,
        ipam: vec![IpamConfig {
            subnet: subnet(net.base),
            gateway: gateway(net.base),
            ip_range: String::new(),
        }],
        options: network_options(net),
        endpoints: network_endpoints(net, containers),
        peers,
    }
}

/// A network's driver options: its bridge's name or its VXLAN ID.
fn network_options(net: &Net) -> BTreeMap<String, String> {
    let mut options = BTreeMap::new();
    if let Some(br) = &net.bridge_name {
        options.insert("com.docker.network.bridge.name".into(), br.clone());
    }
    if let Some(vni) = net.vni {
        options.insert(
            "com.docker.network.driver.overlay.vxlanid_list".into(),
            vni.to_string(),
        );
    }
    options
}

/// The endpoints the containers have on a network, as the network lists them.
fn network_endpoints(net: &Net, containers: &[Container]) -> Vec<NetworkEndpoint> {
    containers
        .iter()
        .flat_map(|c| {
            c.endpoints
                .iter()
                .filter(|e| e.network_id == net.id)
                .map(move |e| NetworkEndpoint {
                    key: c.id.clone(),
                    name: c.name.clone(),
                    endpoint_id: e.endpoint_id.clone(),
                    mac: e.mac.clone(),
                    ipv4: format!("{}/{}", e.ipv4, e.ipv4_prefix_len),
                    ipv6: String::new(),
                })
        })
        .collect()
}

fn rule(chain: &str, text: &str) -> Rule {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut r = Rule {
        chain: chain.into(),
        text: text.into(),
        ..Default::default()
    };
    let mut i = 0;
    let mut neg = false;
    while i < words.len() {
        let w = words[i];
        let next = words.get(i + 1).map(|s| {
            if neg {
                format!("!{s}")
            } else {
                (*s).to_string()
            }
        });
        match w {
            "!" => {
                neg = true;
                i += 1;
                continue;
            }
            "-s" => r.source = next,
            "-d" => r.destination = next,
            "-i" => r.in_interface = next,
            "-o" => r.out_interface = next,
            "-p" => r.protocol = next,
            "-j" => {
                r.target = Some(Target {
                    name: words
                        .get(i + 1)
                        .map(|s| (*s).to_string())
                        .unwrap_or_default(),
                    args: words[(i + 2).min(words.len())..]
                        .iter()
                        .map(|s| (*s).to_string())
                        .collect(),
                    to_destination: words
                        .iter()
                        .position(|w| *w == "--to-destination")
                        .and_then(|p| words.get(p + 1))
                        .map(|s| (*s).to_string()),
                    ..Default::default()
                });
                break;
            }
            _ => {}
        }
        neg = false;
        i += 1;
    }
    r
}

/// One host whose network (`ctl\x01net\x1b[31m\u{FFFF}`), first container and first sandbox names
/// hold characters XML forbids, as engines and kernels allow: for tests of every SVG/XML writer.
pub fn with_control_characters() -> Vec<NodeSnapshot> {
    let mut snaps = snapshots(&SyntheticOptions {
        hosts: 1,
        containers: 3,
        hostile_names: false,
    });
    let engine = snaps[0]
        .engine
        .as_mut()
        .expect("the synthetic host has an engine");
    let net = engine
        .networks
        .iter_mut()
        .find(|n| n.driver == "bridge" && n.name != "bridge")
        .expect("the synthetic host has it");
    let old = std::mem::replace(&mut net.name, "ctl\x01net\x1b[31m\u{FFFF}".to_owned());
    for c in &mut engine.containers {
        for ep in &mut c.endpoints {
            if ep.network_name == old {
                ep.network_name = net.name.clone();
            }
        }
    }
    engine.containers[0].name = "ctr\x0b\x1f\0x".to_owned();
    let ns = snaps[0]
        .namespaces
        .iter_mut()
        .find(|n| n.name != "host")
        .expect("the synthetic host has it");
    ns.name = format!("{}\x02\x0c", ns.name);
    snaps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_options_same_snapshots() {
        let o = SyntheticOptions {
            hosts: 3,
            containers: 40,
            hostile_names: true,
        };
        assert_eq!(snapshots(&o), snapshots(&o));
    }

    #[test]
    fn counts_and_joins_are_consistent() {
        let o = SyntheticOptions {
            hosts: 3,
            containers: 40,
            hostile_names: false,
        };
        let snaps = snapshots(&o);
        assert_eq!(snaps.len(), 3);
        let total: usize = snaps
            .iter()
            .map(|s| s.engine.as_ref().map_or(0, |e| e.containers.len()))
            .sum();
        assert_eq!(total, 40);
        // Every veth's peer resolves through the nsid map to a veth that points back.
        for s in &snaps {
            for ns in &s.namespaces {
                for l in ns
                    .links
                    .iter()
                    .filter(|l| l.kind == crate::snapshot::LinkKind::Veth)
                {
                    let peer_ns = s
                        .namespace(ns.resolve_nsid(l.link_netnsid.unwrap()).unwrap())
                        .unwrap();
                    let peer = peer_ns.link(l.link.unwrap()).unwrap();
                    assert_eq!(peer.kind, crate::snapshot::LinkKind::Veth);
                    let back = s
                        .namespace(peer_ns.resolve_nsid(peer.link_netnsid.unwrap()).unwrap())
                        .unwrap();
                    assert_eq!(back.id, ns.id);
                    assert_eq!(peer.link, Some(l.ifindex));
                }
            }
        }
    }

    #[test]
    fn hostile_network_is_there_when_asked() {
        let o = SyntheticOptions {
            hosts: 1,
            containers: 2,
            hostile_names: true,
        };
        let snaps = snapshots(&o);
        let e = snaps[0].engine.as_ref().unwrap();
        assert!(e.networks.iter().any(|n| n.name == HOSTILE_NETWORK));
        assert!(e
            .containers
            .iter()
            .any(|c| c.network_mode == HOSTILE_NETWORK));
    }
}
