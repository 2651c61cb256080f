//! The `dockmap` command: snapshot, graph, serve, path.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use dockmap::agent::{self, AgentOptions, SnapshotSource};
use dockmap::cluster::{AgentList, ClusterOptions};
use dockmap::collect::node::{self, NodeOptions};
use dockmap::graph;
use dockmap::path;
use dockmap::snapshot::file::{self, SnapshotFile};
use dockmap::snapshot::NodeSnapshot;
use dockmap::web::ServeOptions;

/// See how Docker networking is really wired.
#[derive(Parser)]
#[command(name = "dockmap", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where to collect from.
#[derive(clap::Args, Clone)]
struct Source {
    /// Docker engine URL (unix:///run/docker.sock, tcp://host:2375); default DOCKER_HOST or the local socket.
    #[arg(long)]
    docker: Option<String>,
    /// Namespace directory to scan (repeatable); default the engine's netns dir and /run/netns.
    #[arg(long = "netns-dir")]
    netns_dirs: Vec<PathBuf>,
    /// Do not contact the Docker engine: a kernel-only snapshot.
    #[arg(long)]
    no_engine: bool,
    /// Label this node NAME instead of its hostname (the node is still keyed by its swarm node ID,
    /// engine ID or machine ID).
    #[arg(long)]
    node_name: Option<String>,
    /// Keep parsed rules between runs of this boot in FILE; default /run/dockmap/firewall-cache.json.
    #[arg(long, value_name = "FILE")]
    rule_cache: Option<PathBuf>,
}

impl Source {
    fn options(&self) -> NodeOptions {
        NodeOptions {
            docker: self.docker.clone(),
            netns_dirs: self.netns_dirs.clone(),
            no_engine: self.no_engine,
            node_name: self.node_name.clone(),
            rule_cache: self.rule_cache.clone(),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Print this node's snapshot as JSON (needs root).
    Snapshot {
        #[command(flatten)]
        source: Source,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the derived graph (elements, edges, findings).
    Graph {
        #[command(flatten)]
        source: Source,
        /// Read a saved snapshot instead of collecting (no root needed): a node snapshot, a JSON
        /// array of them, or a cluster snapshot, gzipped or not.
        #[arg(long)]
        from: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
    },
    /// Serve this node's snapshot to a dockmap server (GET /v1/snapshot, bearer token).
    Agent(AgentArgs),
    /// Serve the interactive picture in the browser (this node, or every node through agents).
    Serve(ServeArgs),
    /// Show what changed between two saved snapshots (exit 0: equal, 1: they differ, 2: error).
    Diff(DiffArgs),
    /// Trace how a packet gets somewhere, hop by hop, with the rule or entry behind each hop.
    Path(PathArgs),
    /// Export a view as one self-contained HTML file (and/or the snapshot as JSON), to share.
    Export(ExportArgs),
}

#[derive(clap::Args)]
struct DiffArgs {
    /// The older snapshot: a node snapshot, a JSON array of them, or a cluster snapshot.
    a: PathBuf,
    /// The newer snapshot, in any of the same forms.
    b: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    format: DiffFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum DiffFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
struct PathArgs {
    #[command(flatten)]
    source: Source,
    /// Inbound to this published port (bridge-mode or routing mesh).
    #[arg(long)]
    port: Option<u16>,
    /// Protocol of --port.
    #[arg(long, value_enum, default_value_t = Protocol::Tcp)]
    protocol: Protocol,
    /// Only this node (with --port): its node ID (or a unique prefix), a hostname no other node
    /// has, or its label as the picture shows it (`ubuntu@s4czfr`).
    #[arg(long)]
    node: Option<String>,
    /// From this container (name, ID or ID prefix), or from outside: an IP address or a host
    /// interface, straight to a container's own address (`--to CONTAINER[:PORT]`).
    #[arg(long)]
    from: Option<String>,
    /// To a container (`CONTAINER[:PORT]` from outside), a service (its VIP), an IP address, or `internet`.
    #[arg(long)]
    to: Option<String>,
    /// Read this snapshot (a node snapshot, a JSON array of them, or a cluster snapshot) instead of collecting.
    #[arg(long)]
    snapshot: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PathFormat::Text)]
    format: PathFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum Protocol {
    Tcp,
    Udp,
}

#[derive(Clone, Copy, ValueEnum)]
enum PathFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
struct ExportArgs {
    #[command(flatten)]
    source: Source,
    /// Write the view as one HTML file that works offline, here.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Write the cluster snapshot as JSON, here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Read this snapshot file (a node snapshot, an array of them, or a cluster snapshot) instead of collecting.
    #[arg(long)]
    snapshot: Option<PathBuf>,
    /// The view to draw, as the page's query string (e.g. `open=*&hide=loopback`).
    #[arg(long, default_value = "")]
    view: String,
    /// Replace host, container, service and network names, addresses and MACs by stable pseudonyms.
    #[arg(long)]
    pseudonymize: bool,
    /// The pseudonym key: 64 hex digits, or a file holding them (default: the data directory's).
    #[arg(long)]
    pseudonym_key: Option<String>,
    /// Where the pseudonym key is kept (default: the store's, $DOCKMAP_DATA_DIR or /var/lib/dockmap for root).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
struct AgentArgs {
    #[command(flatten)]
    source: Source,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:7879")]
    listen: std::net::SocketAddr,
    /// File holding the bearer token callers must present.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Serve without a token (anyone who can reach the port sees this node's wiring).
    #[arg(long)]
    insecure_no_auth: bool,
    /// TLS certificate (PEM); with --tls-key, serve HTTPS.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// Serve this saved snapshot file instead of collecting (demos, scale tests).
    #[arg(long)]
    serve_file: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    source: Source,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: std::net::SocketAddr,
    /// Show this saved snapshot file (a node snapshot, a JSON array of them, or a cluster
    /// snapshot) instead of collecting.
    #[arg(long)]
    open: Option<PathBuf>,
    /// Keep saved snapshots here (default: /var/lib/dockmap for root, else
    /// $XDG_DATA_HOME/dockmap or ~/.local/share/dockmap).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Take a snapshot on a schedule: 30s, 10m, 1h, 1h30m, 1d.
    #[arg(long, value_parser = dockmap::store::parse_every)]
    snapshot_every: Option<std::time::Duration>,
    /// How many scheduled snapshots to keep (the oldest go; manual and uploaded ones never do).
    #[arg(long, requires = "snapshot_every", default_value_t = dockmap::web::DEFAULT_KEEP)]
    keep: usize,
    /// The largest snapshot file an upload may be: bytes, or with K, M, G (powers of 1024).
    #[arg(long, value_parser = dockmap::store::upload::parse_size, default_value = "64MiB")]
    upload_limit: usize,
    /// Gather every node through its agent: `auto` (a manager's node list, port 7879),
    /// `auto:PORT`, `https-auto:PORT`, or comma-separated agent URLs.
    #[arg(long)]
    agents: Option<String>,
    /// File holding the agents' bearer token.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// PEM CA certificate to trust for https agents.
    #[arg(long)]
    agent_ca: Option<PathBuf>,
    /// How long one agent may take, in seconds, before its node is shown stale or unreachable.
    #[arg(long, default_value_t = 10.0)]
    deadline: f64,
    /// Also answer requests made to this host name (repeatable); IP addresses and localhost
    /// always work, other names are refused against DNS rebinding.
    #[arg(long = "allow-host", value_name = "NAME")]
    allow_host: Vec<String>,
    /// Ask for a token: FILE holds one a line, `read <token>` (view, search, paths, download)
    /// or `write <token>` (also save, upload, delete, refresh); at least 16 characters each;
    /// the file must not be readable by every user (chmod 600). Required to listen on an
    /// address other than loopback, unless --no-auth.
    #[arg(long, value_name = "FILE", conflicts_with = "no_auth")]
    tokens: Option<PathBuf>,
    /// Listen on a non-loopback address without tokens: everyone who reaches it may see, save
    /// and upload (only behind a proxy that checks who comes in).
    #[arg(long)]
    no_auth: bool,
    /// The most the snapshot store may hold (compressed): bytes, or with K, M, G. Scheduled
    /// snapshots are deleted oldest first to stay under it; a save or upload that cannot fit
    /// is refused (507).
    #[arg(long, value_parser = dockmap::store::upload::parse_size, default_value = "1GiB")]
    store_max_bytes: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Dot,
}

fn main() {
    let cli = Cli::parse();
    raise_fd_limit();
    // ring is the only crypto provider compiled in today; installed by name so that a dependency
    // bringing a second one cannot make TLS set-up panic at run time. An error here only means one
    // is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dockmap: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(cli)) {
        eprintln!("dockmap: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Diff(a) => std::process::exit(diff_command(&a)),
        Command::Snapshot { source, out } => snapshot_command(&source, out.as_deref()).await,
        Command::Graph {
            source,
            from,
            format,
        } => graph_command(&source, from, format).await,
        Command::Serve(a) => serve_command(a).await,
        Command::Path(a) => path_command(&a).await,
        Command::Export(a) => export(a).await,
        Command::Agent(a) => agent_command(a).await,
    }
}

/// `dockmap snapshot`: this node's snapshot as JSON.
async fn snapshot_command(source: &Source, out: Option<&Path>) -> Result<()> {
    require_root("snapshot")?;
    let snap = node::collect(&source.options()).await;
    let json = serde_json::to_vec_pretty(&snap)?;
    write_out(out, &json)?;
    report_sources(&snap);
    Ok(())
}

/// `dockmap graph`: the derived graph of this node or of a snapshot file.
async fn graph_command(source: &Source, from: Option<PathBuf>, format: Format) -> Result<()> {
    let g = match from.map(|path| file::read(&path)).transpose()? {
        Some(SnapshotFile::Node(snap)) => graph::build(std::slice::from_ref(&*snap)),
        Some(other) => graph::build_cluster(&other.into_cluster("file")),
        None => {
            require_root("graph")?;
            let snap = node::collect(&source.options()).await;
            graph::build(std::slice::from_ref(&snap))
        }
    };
    let text = match format {
        Format::Json => serde_json::to_string_pretty(&g)? + "\n",
        Format::Dot => graph::dot::to_dot(&g),
    };
    write_out(None, text.as_bytes())?;
    Ok(())
}

/// `dockmap serve`: the picture in the browser, of this node or of every node through agents.
async fn serve_command(a: ServeArgs) -> Result<()> {
    let cluster = match &a.agents {
        Some(list) => {
            let agents = AgentList::parse(list).map_err(anyhow::Error::msg)?;
            let token = match &a.token_file {
                Some(p) => Some(agent::Token::from_file(p)?.as_str().to_owned()),
                None => None,
            };
            Some(ClusterOptions {
                agents,
                deadline: std::time::Duration::from_secs_f64(a.deadline.max(0.1)),
                token,
                ca_cert: a.agent_ca.clone(),
                local: a.source.options(),
            })
        }
        None => None,
    };
    if a.open.is_none() && cluster.is_none() {
        require_root("serve")?;
    }
    let opts = ServeOptions {
        listen: a.listen,
        node: a.source.options(),
        open: a.open,
        cluster,
        data_dir: a.data_dir,
        snapshot_every: a.snapshot_every,
        keep: a.keep,
        upload_limit: a.upload_limit,
        allow_hosts: a.allow_host,
        tokens: a.tokens,
        no_auth: a.no_auth,
        store_max_bytes: a.store_max_bytes as u64,
    };
    dockmap::web::serve(opts).await?;
    Ok(())
}

/// `dockmap path`: a packet's path through this node or a snapshot file.
async fn path_command(a: &PathArgs) -> Result<()> {
    let question = path_question(a)?;
    let (snaps, g) = match &a.snapshot {
        Some(p) => read_any_snapshot(p)?,
        None => {
            require_root("path")?;
            let snap = node::collect(&a.source.options()).await;
            let g = graph::build(std::slice::from_ref(&snap));
            (vec![snap], g)
        }
    };
    let answer = path::trace(&question, &snaps, &g);
    let text = match a.format {
        PathFormat::Text => path::text::render(&answer),
        PathFormat::Json => serde_json::to_string_pretty(&answer)? + "\n",
    };
    write_out(None, text.as_bytes())?;
    Ok(())
}

/// `dockmap agent`: serve this node's snapshot (or a file) to a dockmap server.
async fn agent_command(a: AgentArgs) -> Result<()> {
    let source = match &a.serve_file {
        Some(path) => {
            file::read_node(path)?;
            // Served as its bytes are: gatherers read JSON.
            if file::is_gzipped(path)? {
                bail!(
                    "{}: the agent serves the file as it is; give it uncompressed",
                    path.display()
                );
            }
            SnapshotSource::File(path.clone())
        }
        None => {
            require_root("agent")?;
            SnapshotSource::Live(a.source.options())
        }
    };
    let opts = AgentOptions {
        listen: a.listen,
        token_file: a.token_file,
        insecure_no_auth: a.insecure_no_auth,
        tls_cert: a.tls_cert,
        tls_key: a.tls_key,
        source,
    };
    let scheme = if opts.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    eprintln!(
        "dockmap agent: serving {scheme}://{}{}",
        opts.listen,
        agent::SNAPSHOT_PATH
    );
    agent::run(opts).await?;
    Ok(())
}

/// `dockmap diff A B`: like diff(1), 0 when equal, 1 when they differ, 2 when a side cannot be read.
fn diff_command(a: &DiffArgs) -> i32 {
    let sides =
        dockmap::diff::read_side(&a.a).and_then(|x| Ok((x, dockmap::diff::read_side(&a.b)?)));
    let (old, new) = match sides {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dockmap diff: {e}");
            return 2;
        }
    };
    let d = dockmap::diff::diff_clusters(old, new);
    let text = match a.format {
        DiffFormat::Text => Ok(dockmap::diff::text::render(&d)),
        DiffFormat::Json => serde_json::to_string_pretty(&d).map(|j| j + "\n"),
    };
    let written = text
        .map_err(anyhow::Error::from)
        .and_then(|t| write_out(None, t.as_bytes()));
    match written {
        Err(e) => {
            eprintln!("dockmap diff: {e:#}");
            2
        }
        Ok(()) if d.equal => 0,
        Ok(()) => 1,
    }
}

async fn export(a: ExportArgs) -> Result<()> {
    use dockmap::share::{export, PseudonymKey};
    if a.html.is_none() && a.json.is_none() {
        bail!("say what to write: --html FILE and/or --json FILE");
    }
    let cluster = match &a.snapshot {
        Some(path) => export::read_snapshot_file(path)?,
        None => {
            require_root("export")?;
            export::cluster_of(vec![node::collect(&a.source.options()).await], "local")
        }
    };
    let key = if a.pseudonymize {
        Some(match (&a.pseudonym_key, &a.data_dir) {
            (Some(k), _) => PseudonymKey::from_arg(k)?,
            (None, Some(dir)) => PseudonymKey::load_or_create(dir)?,
            (None, None) => match dockmap::store::default_data_dir() {
                Some(dir) => PseudonymKey::load_or_create(&dir)?,
                None => bail!(
                    "no data directory for the pseudonym key: give --data-dir or --pseudonym-key"
                ),
            },
        })
    } else {
        None
    };
    let view = dockmap::layout::View::from_query(a.view.trim_start_matches('?'));
    if let Some(out) = &a.html {
        let e = export::export_html(&cluster, &view, key.as_ref())?;
        write_out(Some(out), e.html.as_bytes())?;
        eprintln!(
            "dockmap: wrote {} ({} KB, {} elements drawn)",
            out.display(),
            e.html.len() / 1024,
            e.drawn
        );
    }
    if let Some(out) = &a.json {
        let c = match &key {
            Some(k) => dockmap::share::pseudonymize_cluster(&cluster, k)?,
            None => cluster.clone(),
        };
        write_out(Some(out), &serde_json::to_vec_pretty(&c)?)?;
    }
    Ok(())
}

/// A host with 1,000 namespaces needs more than the usual 1,024 descriptors (one handle and one socket each).
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct we own.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn require_root(what: &str) -> Result<()> {
    // SAFETY: geteuid has no failure mode and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "`dockmap {what}` needs root: it enters network namespaces (setns) and reads the engine socket. \
             Run it with sudo, or read a saved snapshot with `dockmap graph --from FILE`."
        );
    }
    Ok(())
}

/// The question `dockmap path` was asked, or why the arguments make none.
fn path_question(a: &PathArgs) -> Result<path::Question> {
    match (a.port, &a.from, &a.to) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            bail!("give either --port, or --from and --to, not both")
        }
        (Some(0), _, _) => bail!("--port 0 is no port"),
        (Some(port), None, None) => Ok(path::Question::Port {
            port,
            protocol: match a.protocol {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
            }
            .into(),
            node: a.node.clone(),
        }),
        (None, Some(from), Some(to)) if !from.trim().is_empty() && !to.trim().is_empty() => {
            if a.node.is_some() {
                bail!("--node goes with --port; --from names the container, which says the node");
            }
            Ok(path::Question::Between {
                from: from.clone(),
                to: to.clone(),
            })
        }
        (None, Some(_), _) | (None, _, Some(_)) => {
            bail!("--from and --to go together: --from CONTAINER --to CONTAINER|SERVICE|IP|internet")
        }
        (None, None, None) => bail!(
            "say what to trace: --port PORT [--protocol tcp|udp] [--node NAME], or --from CONTAINER --to CONTAINER|SERVICE|IP|internet"
        ),
    }
}

/// A node snapshot, a JSON array of them, or a cluster snapshot, with its graph.
fn read_any_snapshot(path: &std::path::Path) -> Result<(Vec<NodeSnapshot>, graph::Graph)> {
    let cluster = file::read_cluster(path)?;
    let g = graph::build_cluster(&cluster);
    let snaps = cluster.snapshots().into_iter().cloned().collect();
    Ok((snaps, g))
}

fn write_out(path: Option<&std::path::Path>, bytes: &[u8]) -> Result<()> {
    match path {
        Some(p) => std::fs::write(p, bytes).with_context(|| format!("writing {}", p.display())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)?;
            if !bytes.ends_with(b"\n") {
                out.write_all(b"\n")?;
            }
            Ok(())
        }
    }
}

/// Say on stderr what could not be seen, so a terminal user notices without reading the JSON.
fn report_sources(snap: &NodeSnapshot) {
    for s in snap
        .sources
        .iter()
        .filter(|s| s.state != dockmap::snapshot::SourceState::Ok)
    {
        let ns = s
            .namespace
            .as_deref()
            .map(|n| format!(" [{n}]"))
            .unwrap_or_default();
        eprintln!("dockmap: {:?}{ns}: {:?}: {}", s.source, s.state, s.message);
    }
}
