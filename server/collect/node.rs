//! One node's whole snapshot: runs every collector and keeps what each could see.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::names;
use crate::snapshot::time::rfc3339_now;
use crate::snapshot::{
    EngineFacts, Firewall, IpvsState, Listener, Namespace, NodeIdentity, NodeSnapshot, NsIdentity,
    SourceKind, SourceState, SourceStatus, Sysctls, Xfrm, NODE_SCHEMA,
};

use super::firewall::{self, RuleCache};
use super::netns::{self, Discovery, NsHandle};
use super::{docker, identity as node_identity, ipvs, link, switches, xfrm, CollectError};

/// Where parsed rules are kept between runs of one boot (tmpfs; private to root).
pub const RULE_CACHE_FILE: &str = "/run/dockmap/firewall-cache.json";
/// How long the engine may take before the snapshot goes on without it.
const ENGINE_DEADLINE: Duration = Duration::from_secs(15);

/// What to collect from.
#[derive(Debug, Clone, Default)]
pub struct NodeOptions {
    /// Engine URL (`unix:///...`, `tcp://...`); `None`: DOCKER_HOST, else the local socket.
    pub docker: Option<String>,
    /// Namespace directories to scan instead of the engine's netns dir and /run/netns.
    pub netns_dirs: Vec<PathBuf>,
    /// Do not contact the engine at all (kernel-only snapshot).
    pub no_engine: bool,
    /// Name this node so instead of its kernel hostname (nodes that share one UTS namespace, labs).
    pub node_name: Option<String>,
    /// Where parsed rules are kept between runs of one boot; `None`: [`RULE_CACHE_FILE`].
    pub rule_cache: Option<PathBuf>,
}

/// What a collection may take over from an earlier one instead of asking the engine again (the
/// live feed decides, from what woke it; the kernel is always read whole).
#[derive(Debug, Clone, Default)]
pub enum EngineReuse {
    /// Ask the engine for everything.
    #[default]
    Nothing,
    /// No engine event since these facts were read: keep them whole, ask the engine nothing.
    All(EngineFacts),
    /// Events named these containers since the facts were read: the engine is asked again for
    /// everything but the inspects of the containers no event named (see `docker::collect_reusing`).
    Containers(EngineFacts, BTreeSet<String>),
}

/// Take a snapshot of this node. Never fails: what could not be seen is said in `sources`.
pub async fn collect(opts: &NodeOptions) -> NodeSnapshot {
    collect_reusing(opts, EngineReuse::Nothing).await.0
}

/// [`collect`], taking over engine facts as `reuse` says; also how many containers it inspected.
///
/// The engine and the kernel are read at the same time: the kernel side starts with the
/// namespace directories known up front, and the engine's answer then adds what it names
/// beyond them (its own netns directory, sandboxes elsewhere). Only when it does are the
/// namespaces read again as one set, so every nsid can be resolved across all of them.
pub async fn collect_reusing(opts: &NodeOptions, reuse: EngineReuse) -> (NodeSnapshot, usize) {
    let started = Instant::now();
    let mut snap = NodeSnapshot {
        schema: NODE_SCHEMA.to_owned(),
        taken_at: rfc3339_now(),
        node: identity(),
        ..NodeSnapshot::default()
    };
    if let Some(name) = opts.node_name.as_ref().filter(|n| !n.is_empty()) {
        snap.node.hostname = name.clone();
    }

    let cache_file = opts
        .rule_cache
        .clone()
        .unwrap_or_else(|| PathBuf::from(RULE_CACHE_FILE));
    let cache = rule_cache(&cache_file);
    let first_dirs = initial_dirs(opts);
    let (
        (engine, engine_status, inspected),
        (handles, mut problems, mut namespaces, mut ns_sources, read),
    ) = tokio::join!(
        read_engine(opts, reuse),
        first_namespaces(first_dirs.clone(), cache.clone())
    );
    snap.sources.push(engine_status);

    // What the engine names beyond the directories already read.
    let known = handles.len();
    let (handles, more_problems) = engine_named(opts, &first_dirs, engine.as_ref(), handles).await;
    problems.extend(more_problems);
    if handles.len() != known {
        (namespaces, ns_sources, _) = read_more(&handles, cache.clone(), read).await;
    } else {
        // Same namespaces: only their roles and paths may have been learnt from the engine.
        // By identity: a namespace that vanished while read is no longer in the list.
        for ns in namespaces.iter_mut() {
            if let Some(h) = handles.iter().find(|h| h.id == ns.id) {
                ns.role = h.role;
                ns.paths = h.paths.clone();
                ns.name = h.name.clone();
            }
        }
    }
    finish_round(&cache, cache_file).await;
    snap.sources.push(netns::discovery_status(&problems));
    snap.sources.append(&mut ns_sources);
    snap.namespaces = namespaces;
    decide_identity(&mut snap, engine.as_ref(), opts);
    snap.engine = engine;
    snap.duration_ms = started.elapsed().as_millis() as u64;
    snap.normalize();
    (snap, inspected)
}

/// The engine's facts (or the earlier ones `reuse` names), their status, containers inspected.
async fn read_engine(
    opts: &NodeOptions,
    reuse: EngineReuse,
) -> (Option<EngineFacts>, SourceStatus, usize) {
    if opts.no_engine {
        return (
            None,
            SourceStatus::unavailable(SourceKind::Engine, None, "not asked (--no-engine)"),
            0,
        );
    }
    let earlier = match reuse {
        EngineReuse::Nothing => None,
        EngineReuse::All(facts) => {
            return (Some(facts), SourceStatus::ok(SourceKind::Engine, None), 0)
        }
        EngineReuse::Containers(facts, named) => Some((facts, named)),
    };
    let earlier = earlier.as_ref().map(|(f, n)| (f, n));
    match collect_engine(opts.docker.as_deref(), earlier).await {
        Ok((e, n)) if e.problems.is_empty() => {
            (Some(e), SourceStatus::ok(SourceKind::Engine, None), n)
        }
        Ok((e, n)) => {
            let why = format!("read in part: {}", e.problems.join("; "));
            (
                Some(e),
                SourceStatus::error(SourceKind::Engine, None, why),
                n,
            )
        }
        Err(why) => (None, SourceStatus::error(SourceKind::Engine, None, why), 0),
    }
}

/// The host's namespace and those in the first directories, read.
async fn first_namespaces(
    dirs: Vec<PathBuf>,
    cache: Arc<RuleCache>,
) -> (
    Vec<NsHandle>,
    Vec<String>,
    Vec<Namespace>,
    Vec<SourceStatus>,
    ExtrasRead,
) {
    let (handles, problems) = blocking(move || {
        let mut d = Discovery::default();
        d.add_host();
        for dir in &dirs {
            d.add_dir(dir);
        }
        d.finish()
    })
    .await
    .unwrap_or_else(|why| (Vec::new(), vec![why]));
    let (namespaces, sources, read) = read_with(&handles, cache).await;
    (handles, problems, namespaces, sources, read)
}

/// `handles` and the namespaces the engine names beyond them: its netns directory (unless
/// directories were given) and its containers' sandboxes.
async fn engine_named(
    opts: &NodeOptions,
    first_dirs: &[PathBuf],
    engine: Option<&EngineFacts>,
    handles: Vec<NsHandle>,
) -> (Vec<NsHandle>, Vec<String>) {
    let more_dirs: Vec<PathBuf> = if opts.netns_dirs.is_empty() {
        engine
            .and_then(|e| e.netns_dir.as_deref())
            .map(PathBuf::from)
            .filter(|d| !first_dirs.iter().any(|f| same_dir(f, d)))
            .into_iter()
            .collect()
    } else {
        Vec::new()
    };
    let sandboxes: Vec<(String, String, i64)> = engine
        .map(|e| {
            e.containers
                .iter()
                .map(|c| (c.id.clone(), c.sandbox_key.clone(), c.pid))
                .collect()
        })
        .unwrap_or_default();
    blocking(move || {
        let mut d = Discovery::from_handles(handles);
        for dir in &more_dirs {
            d.add_dir(dir);
        }
        d.add_sandboxes(&sandboxes);
        d.finish()
    })
    .await
    .unwrap_or_else(|why| (Vec::new(), vec![why]))
}

/// Which node this is: the machine ID, and the identity the engine (or this boot) gives.
fn decide_identity(snap: &mut NodeSnapshot, engine: Option<&EngineFacts>, opts: &NodeOptions) {
    snap.node.machine_id = node_identity::machine_id();
    let (node_id, why) = node_identity::decide(
        engine,
        &snap.node.machine_id,
        &engine_url(opts),
        Path::new(node_identity::REMEMBERED_FILE),
    );
    snap.node.node_id = node_id;
    if let Some(why) = why {
        snap.sources
            .push(SourceStatus::unavailable(SourceKind::Identity, None, why));
    }
}

/// The engine as asked: `--docker`, else `DOCKER_HOST`, else the local socket.
fn engine_url(opts: &NodeOptions) -> String {
    opts.docker
        .clone()
        .or_else(|| std::env::var("DOCKER_HOST").ok())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned())
}

/// Run blocking work (directory scans, namespace entry) off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("collector thread failed: {e}"))
}

async fn collect_engine(
    url: Option<&str>,
    earlier: Option<(&EngineFacts, &BTreeSet<String>)>,
) -> Result<(EngineFacts, usize), String> {
    // The ping blocks (plain socket calls): off the async workers, so a hung engine cannot hold
    // up the kernel side that runs beside it.
    let url = url.map(str::to_owned);
    let client = blocking(move || docker::connect(url.as_deref()))
        .await?
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(ENGINE_DEADLINE, docker::collect_reusing(&client, earlier)).await {
        Ok(Ok(facts)) => Ok(facts),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "docker engine did not answer within {} s",
            ENGINE_DEADLINE.as_secs()
        )),
    }
}

/// The directories read before the engine answers: the user's, else `ip netns`'s and Docker's default.
///
/// The default Docker directory is only a head start; the engine's own directory, learnt
/// from its containers' `SandboxKey`s, is read too when it is elsewhere.
fn initial_dirs(opts: &NodeOptions) -> Vec<PathBuf> {
    if !opts.netns_dirs.is_empty() {
        return opts.netns_dirs.clone();
    }
    vec![
        PathBuf::from(names::IP_NETNS_DIR),
        // Docker's default, tried only until the engine tells us its own.
        PathBuf::from(names::DOCKER_NETNS_DIR),
    ]
}

/// `/var/run/x` and `/run/x` are one directory on every current distribution.
fn same_dir(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(a) == canon(b)
}

/// Read every namespace's kernel facts, firewall and IPVS; failures stay with their namespace.
///
/// A namespace deleted while it was read (its container stopped) is left out, with a status that
/// says so: an empty namespace in the picture would be a false "unexplained namespace".
pub async fn read_namespaces(handles: &[NsHandle]) -> (Vec<Namespace>, Vec<SourceStatus>) {
    let cache = rule_cache(Path::new(RULE_CACHE_FILE));
    let (namespaces, sources, _) = read_with(handles, cache.clone()).await;
    finish_round(&cache, PathBuf::from(RULE_CACHE_FILE)).await;
    (namespaces, sources)
}

/// Firewall and IPVS facts of the namespaces read so far in one collection, and how they were read.
#[derive(Default)]
struct ExtrasRead {
    by_ns: HashMap<NsIdentity, NamespaceExtras>,
    counts: Option<firewall::ReadCounts>,
}

/// [`read_namespaces`] with this rule cache, which it never sweeps: one collection may read in
/// more than one batch, and only its end knows every namespace.
async fn read_with(
    handles: &[NsHandle],
    cache: Arc<RuleCache>,
) -> (Vec<Namespace>, Vec<SourceStatus>, ExtrasRead) {
    read_more(handles, cache, ExtrasRead::default()).await
}

/// Read `handles` again as one set (links and nsids need every namespace at once), but the
/// firewall and IPVS only of namespaces not already in `earlier`: within one collection a
/// namespace's rules are read once, so no tool runs twice and the counts add up.
async fn read_more(
    handles: &[NsHandle],
    cache: Arc<RuleCache>,
    earlier: ExtrasRead,
) -> (Vec<Namespace>, Vec<SourceStatus>, ExtrasRead) {
    let mut sources = Vec::new();
    let todo: Vec<&NsHandle> = handles
        .iter()
        .filter(|h| !earlier.by_ns.contains_key(&h.id))
        .collect();
    let clones: Vec<NsHandle> = todo.iter().filter_map(|h| h.try_clone().ok()).collect();
    let ids: Vec<NsIdentity> = todo.iter().map(|h| h.id).collect();
    let extras = async {
        if clones.len() == ids.len() {
            blocking(move || blocking_sources(&clones, &cache))
                .await
                .unwrap_or_default()
        } else {
            (Vec::new(), None)
        }
    };
    // Links and the firewall are read at the same time: neither waits for the other.
    let (kernel, (new_extras, new_counts)) = tokio::join!(link::collect_all(handles), extras);
    let mut read = earlier;
    read.add(ids, new_extras, new_counts);

    let mut out = Vec::with_capacity(handles.len());
    for (h, k) in handles.iter().zip(kernel) {
        let Some(mut ns) = with_kernel_facts(h, k, &mut sources) else {
            continue;
        };
        if let Some(ex) = read.by_ns.get(&h.id) {
            take_extras(&mut ns, ex, &mut sources);
        }
        out.push(ns);
    }
    summarize(&mut sources, &out, read.counts);
    (out, sources, read)
}

impl ExtrasRead {
    /// Take in the extras of namespaces `ids` (in order) and add their counts to those so far.
    fn add(
        &mut self,
        ids: Vec<NsIdentity>,
        extras: Vec<NamespaceExtras>,
        counts: Option<firewall::ReadCounts>,
    ) {
        self.by_ns.extend(ids.into_iter().zip(extras));
        self.counts = match (self.counts.take(), counts) {
            (Some(mut c), Some(more)) => {
                c += more;
                Some(c)
            }
            (c, more) => c.or(more),
        };
    }
}

/// The namespace of `h` with its kernel facts, or None when it vanished while it was read; what
/// went wrong is said in `sources`.
fn with_kernel_facts(
    h: &NsHandle,
    kernel: Result<link::KernelFacts, CollectError>,
    sources: &mut Vec<SourceStatus>,
) -> Option<Namespace> {
    let mut ns = Namespace {
        id: h.id,
        name: h.name.clone(),
        paths: h.paths.clone(),
        role: h.role,
        ..Namespace::default()
    };
    match kernel {
        Ok(f) => {
            ns.links = f.links;
            ns.addresses = f.addresses;
            ns.routes = f.routes;
            ns.neighbours = f.neighbours;
            ns.fdb = f.fdb;
            ns.nsids = f.nsids;
            if !f.problems.is_empty() {
                sources.push(SourceStatus::error(
                    SourceKind::Netlink,
                    Some(&h.name),
                    format!("read in part: {}", f.problems.join("; ")),
                ));
            }
        }
        Err(CollectError::Vanished(_)) => {
            sources.push(SourceStatus::unavailable(
                SourceKind::Netlink,
                Some(&h.name),
                "vanished while the snapshot was taken (its container stopped): left out",
            ));
            return None;
        }
        Err(e) => {
            sources.push(SourceStatus::error(
                SourceKind::Netlink,
                Some(&h.name),
                e.to_string(),
            ));
        }
    }
    Some(ns)
}

/// Give `ns` its firewall, IPVS, xfrm, sysctl and listener facts, and pass on their errors.
fn take_extras(ns: &mut Namespace, ex: &NamespaceExtras, sources: &mut Vec<SourceStatus>) {
    let st = &ex.statuses;
    ns.firewall = ex.firewall.clone();
    ns.ipvs = ex.ipvs.clone();
    ns.xfrm = ex.xfrm.clone();
    ns.sysctls = ex.sysctls.clone();
    ns.listeners = ex.listeners.clone();
    // A kernel without NETLINK_XFRM is one fact about the node, said once.
    if let Some(u) = st
        .iter()
        .find(|s| s.source == SourceKind::Xfrm && s.state == SourceState::Unavailable)
    {
        if !sources
            .iter()
            .any(|s| s.source == SourceKind::Xfrm && s.namespace.is_none())
        {
            sources.push(SourceStatus::unavailable(
                SourceKind::Xfrm,
                None,
                u.message.clone(),
            ));
        }
    }
    sources.extend(st.iter().filter(|s| s.state == SourceState::Error).cloned());
}

/// Rules read earlier, by cache file: loaded from it once per process, then reused while a
/// namespace's ruleset generation is unchanged (the agent and the server snapshot again and again;
/// a one-shot CLI run starts from what the last run of this boot saved).
fn rule_cache(file: &Path) -> Arc<RuleCache> {
    static CACHES: OnceLock<Mutex<HashMap<PathBuf, Arc<RuleCache>>>> = OnceLock::new();
    let mut caches = CACHES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    caches
        .entry(file.to_path_buf())
        .or_insert_with(|| Arc::new(RuleCache::load(file)))
        .clone()
}

/// The end of one collection: forget namespaces it did not see (they are gone), save if changed.
async fn finish_round(cache: &Arc<RuleCache>, file: PathBuf) {
    let cache = cache.clone();
    let _ = blocking(move || {
        cache.sweep();
        // Only an optimisation: a cache that cannot be written costs the next run its spawns, nothing more.
        let _ = cache.save(&file);
    })
    .await;
}

/// What the blocking sources read in one namespace.
#[derive(Default)]
struct NamespaceExtras {
    firewall: Option<Firewall>,
    statuses: Vec<SourceStatus>,
    ipvs: IpvsState,
    xfrm: Option<Xfrm>,
    sysctls: Option<Sysctls>,
    listeners: Option<Vec<Listener>>,
}

/// Firewall and IPVS for every namespace (blocking: tools run, sockets open inside namespaces).
fn blocking_sources(
    handles: &[NsHandle],
    cache: &RuleCache,
) -> (Vec<NamespaceExtras>, Option<firewall::ReadCounts>) {
    let tools = firewall::Tools::from_env();
    let (fw, counts) = firewall::read_many(handles, &tools, Some(cache));
    let ipvs = ipvs::collect_many(handles);
    let xfrm = xfrm::collect_many(handles);
    let switches = switches::collect_many(handles);
    let extras = fw
        .into_iter()
        .zip(ipvs)
        .zip(xfrm)
        .zip(switches)
        .map(
            |((((fw, mut st), (state, status)), (x, x_status)), (sysctls, listeners, sw_st))| {
                st.push(status);
                st.push(x_status);
                st.extend(sw_st);
                NamespaceExtras {
                    firewall: fw,
                    statuses: st,
                    ipvs: state,
                    xfrm: x,
                    sysctls,
                    listeners,
                }
            },
        )
        .collect();
    (extras, Some(counts))
}

/// One node-wide line per source kind, so a reader sees the whole at a glance: `ok` only when
/// every namespace read was read in full, else how many failed and the first reason. The
/// firewall's line also says how its namespaces were read (with tools, from the rule cache, empty).
fn summarize(
    sources: &mut Vec<SourceStatus>,
    namespaces: &[Namespace],
    fw_counts: Option<firewall::ReadCounts>,
) {
    let unavailable_ipvs = namespaces.iter().find_map(|n| match &n.ipvs {
        IpvsState::Unavailable { reason } => Some(reason.clone()),
        _ => None,
    });
    if let Some(reason) = unavailable_ipvs {
        sources.push(SourceStatus::unavailable(SourceKind::Ipvs, None, reason));
    } else if !namespaces.is_empty() {
        sources.push(SourceStatus::ok(SourceKind::Ipvs, None));
    }
    let total = namespaces.len();
    for kind in [SourceKind::Netlink, SourceKind::Iptables, SourceKind::Xfrm] {
        if sources
            .iter()
            .any(|s| s.source == kind && s.namespace.is_none())
        {
            continue;
        }
        let failed: Vec<&SourceStatus> = sources
            .iter()
            .filter(|s| s.source == kind && s.namespace.is_some() && s.state == SourceState::Error)
            .collect();
        let mut line = match failed.first() {
            None => SourceStatus::ok(kind, None),
            Some(first) => SourceStatus::error(
                kind,
                None,
                format!(
                    "failed in {} of {total} namespaces (first: {}: {})",
                    failed.len(),
                    first.namespace.as_deref().unwrap_or_default(),
                    first.message
                ),
            ),
        };
        if let (SourceKind::Iptables, Some(counts)) = (kind, fw_counts) {
            let read = format!("firewall: read {counts}");
            line.message = if line.message.is_empty() {
                read
            } else {
                format!("{}; {read}", line.message)
            };
        }
        sources.push(line);
    }
}

fn identity() -> NodeIdentity {
    // SAFETY: uname fills the zeroed struct we own.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::uname(&mut u) } == 0;
    let field = |f: &[libc::c_char]| -> String {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    NodeIdentity {
        hostname: if ok {
            field(&u.nodename)
        } else {
            String::new()
        },
        kernel: if ok { field(&u.release) } else { String::new() },
        dockmap_version: env!("CARGO_PKG_VERSION").to_owned(),
        ..NodeIdentity::default()
    }
}
