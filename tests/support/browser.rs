//! Real-browser test support: Debian's chromium driven through chromedriver, and
//! `dockmap serve`'s router on 127.0.0.1:0.
//!
//! Each [`Browser`] starts its own chromedriver on a free port with a fresh
//! profile directory; dropping it stops the driver (and with it chromium) and
//! removes the profile, also when a test panics.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

/// The chromium flags that work headless and offline on these machines (see DESIGN.md).
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1000",
    "--disable-crash-reporter",
    "--disable-breakpad",
];

fn find(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// chromedriver and chromium, or a reason they are missing.
fn binaries() -> Result<(PathBuf, PathBuf), String> {
    let driver = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| find(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]))
        .ok_or("chromedriver not found (apt-get install chromium-driver)")?;
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| find(&["/usr/bin/chromium", "/usr/lib/chromium/chromium"]))
        .ok_or("chromium not found (apt-get install chromium)")?;
    Ok((driver, chromium))
}

/// Skip (or, under CI, fail) when a prerequisite is missing.
pub fn skip_or_fail(why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("browser test prerequisite missing under CI: {why}");
    }
    eprintln!("skipped: {why}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on loopback")
}

/// A running chromedriver and the profile directory its chromium uses; both go on drop.
struct Driver {
    child: Child,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver runs in a process group of its own, which its chromium joins: end the
        // whole group (a killed chromedriver would otherwise leave chromium behind).
        let pgid = self.child.id() as i32;
        // SAFETY: kill(2) with a negative pid signals the group we created; no memory is touched.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.child.wait();
        // Anything that left the group still names our profile directory: end it by pid.
        for pid in pids_using(&self.profile) {
            // SAFETY: as above, for one process we started.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Processes whose command line names this directory (our chromium's, by its unique profile).
fn pids_using(dir: &Path) -> Vec<i32> {
    let needle = dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&needle))
                .unwrap_or(false)
        })
        .collect()
}

/// The ids of every container, bridge and veth of `g`: what a page opened unfolded must draw.
pub fn containers_bridges_veths(g: &dockmap::graph::Graph) -> Vec<Value> {
    use dockmap::graph::{ElementKind, InterfaceType};
    let ix = dockmap::layout::GraphIndex::new(g);
    g.elements
        .iter()
        .filter(|e| {
            e.kind == ElementKind::Container
                || (e.kind == ElementKind::Interface
                    && matches!(
                        ix.if_type(&e.id),
                        InterfaceType::Veth | InterfaceType::Bridge
                    ))
        })
        .map(|e| json!(e.id))
        .collect()
}

/// A chromium session through its own chromedriver.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    driver: Driver,
}

impl Browser {
    /// Start chromedriver and a headless chromium; `None` (after saying why) when they are missing.
    pub async fn start() -> Option<Browser> {
        let (driver_bin, chromium) = match binaries() {
            Ok(b) => b,
            Err(why) => {
                skip_or_fail(&why);
                return None;
            }
        };
        let port = free_port();
        let profile =
            std::env::temp_dir().join(format!("dmt{}-chromium-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        // Chromium's own scratch directories go inside the profile too, so they leave with it.
        let scratch = profile.join("tmp");
        std::fs::create_dir_all(&scratch).expect("profile dir");
        let child = Command::new(&driver_bin)
            .process_group(0)
            .env("TMPDIR", &scratch)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        // The guard exists before anything else can fail.
        let driver = Driver { child, profile };
        wait_listening(SocketAddr::from(([127, 0, 0, 1], port)));
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", driver.profile.display()));
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a chromium session through chromedriver");
        Some(Browser { client, driver })
    }

    /// End the session cleanly (chromium exits), then the driver goes with the guard.
    pub async fn close(self) {
        let Browser { client, driver } = self;
        let _ = client.close().await;
        drop(driver);
    }

    /// Console messages at level SEVERE since the last call (chromedriver's log endpoint).
    pub async fn console_errors(&self) -> Vec<String> {
        let v = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("read the browser log");
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .map(|e| e["message"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Run a script and return its value.
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Run a script with arguments (`arguments[0]`, ...) and return its value.
    pub async fn js_with(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Wait until a script returns true (polling), or panic after `secs` with `what`.
    pub async fn until(&self, script: &str, secs: u64, what: &str) {
        self.until_with(script, Vec::new(), secs, what).await
    }

    /// [`Browser::until`] with script arguments.
    pub async fn until_with(&self, script: &str, args: Vec<Value>, secs: u64, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if self.js_with(script, args.clone()).await == Value::Bool(true) {
                return;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Open a page of the app and wait until its script has drawn.
    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
        self.until(
            "return typeof window.dockmapReady === 'number'",
            30,
            "the page's script to start",
        )
        .await;
    }

    /// Click the shape of the drawn element with this id (a real pointer click).
    pub async fn click_element(&self, id: &str) {
        // Bring it to the middle of the stage first: at fit-to-screen zoom it may be a few pixels tall.
        self.js_with(
            "window.dockmap.center(arguments[0]); return true;",
            vec![Value::String(id.to_owned())],
        )
        .await;
        let sel = format!(
            "[data-id=\"{}\"] > .sh",
            id.replace('\\', "\\\\").replace('"', "\\\"")
        );
        let el = self
            .client
            .find(fantoccini::Locator::Css(&sel))
            .await
            .unwrap_or_else(|e| panic!("{id} is not drawn: {e}"));
        el.click()
            .await
            .unwrap_or_else(|e| panic!("click on {id}: {e}"));
    }

    /// Click the page control with this DOM id (a real pointer click, as a user would).
    pub async fn click_id(&self, id: &str) {
        self.client
            .find(fantoccini::Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("no #{id} on the page: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click on #{id}: {e}"));
    }

    /// Type `text` into the search box and press Enter, as a user picks the first hit.
    pub async fn search_enter(&self, text: &str) {
        let q = self
            .client
            .find(fantoccini::Locator::Id("q"))
            .await
            .unwrap_or_else(|e| panic!("no search box: {e}"));
        q.send_keys(text).await.expect("type in the search box");
        q.send_keys("\u{E007}").await.expect("press Enter");
    }

    /// Wait until the drawn element `id` is the selected one.
    pub async fn until_selected(&self, id: &str, secs: u64, what: &str) {
        self.until_with(
            "return document.querySelector('#map .n.sel')?.dataset.id === arguments[0]",
            vec![Value::String(id.to_owned())],
            secs,
            what,
        )
        .await;
    }

    /// The text of the side panel.
    pub async fn panel_text(&self) -> String {
        self.js("return document.getElementById('panel-body').textContent")
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// Those of `ids` that are not drawn on the map (an empty JSON array when all are).
    pub async fn not_drawn(&self, ids: Vec<Value>) -> Value {
        self.js_with(
            "return arguments[0].filter(id => !document.querySelector(`#map [data-id=\"${CSS.escape(id)}\"]`));",
            vec![Value::Array(ids)],
        )
        .await
    }

    /// Wait up to `secs` until the side panel's text holds `text` (panic naming `what`), then
    /// return the panel's text.
    pub async fn until_panel_shows(&self, text: &str, secs: u64, what: &str) -> String {
        self.until_with(
            "return document.getElementById('panel-body').textContent.includes(arguments[0])",
            vec![Value::String(text.to_owned())],
            secs,
            what,
        )
        .await;
        self.panel_text().await
    }

    /// Save a screenshot (for a human to look at).
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(path, png).expect("write screenshot");
    }
}

fn wait_listening(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            panic!("chromedriver did not listen on {addr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// chromedriver's `POST /session/{id}/se/log` with `{"type": "browser"}`.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or("")))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// Serve a router on 127.0.0.1:0; returns the base URL (no trailing slash).
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        // With the client's address, as `serve` has it (wrong tokens are counted per address).
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let _ = axum::serve(listener, service).await;
    });
    format!("http://{addr}")
}

/// A plain HTTP/1.1 response.
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body as sent (compressed if the server compressed it; chunks joined).
    pub body: Vec<u8>,
}

impl Resp {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A GET from async code: [`request`] on a blocking thread, so the server under test keeps running.
pub async fn get(base: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    let (b, p) = (base.to_owned(), path.to_owned());
    let h: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let hr: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        request(&b, "GET", &p, &hr)
    })
    .await
    .unwrap()
}

/// One request over a fresh connection (blocking; call from a blocking task or plain test).
pub fn request(base: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120))).ok();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        req.push_str("Content-Length: 0\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("send");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let head_end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(buf.len(), |p| p + 4);
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let raw = &buf[head_end..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        let mut out = Vec::new();
        let mut rest = raw;
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let n = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16)
                .unwrap_or(0);
            if n == 0 {
                break;
            }
            let start = eol + 2;
            out.extend_from_slice(&rest[start..(start + n).min(rest.len())]);
            rest = &rest[(start + n + 2).min(rest.len())..];
        }
        out
    } else {
        raw.to_vec()
    };
    Resp {
        status,
        headers,
        body,
    }
}
