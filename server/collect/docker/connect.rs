//! Reaching the engine: which URL, whether anything answers there, and which API version to speak.
//!
//! bollard prefixes every path with its own API version (1.53), which an older
//! engine refuses ("client version 1.53 is too new"). So before building the
//! client we ask the engine's unversioned `/_ping` (as the docker CLI does) for
//! its newest API version and speak the lower of the two. The same probe gives
//! a clear, fast error when nothing listens.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use bollard::{ClientVersion, Docker, API_DEFAULT_VERSION};

use crate::collect::CollectError;

/// The engine's socket when neither `--docker` nor `DOCKER_HOST` says otherwise.
pub const DEFAULT_URL: &str = "unix:///var/run/docker.sock";

/// How long any one engine request may take: a hung engine must not hang a snapshot.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The most of a `/_ping` answer worth reading (it is a few hundred bytes).
const PING_MAX_BYTES: u64 = 64 * 1024;

/// Where the engine listens.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Endpoint {
    /// A unix socket path.
    Unix(String),
    /// `host:port` over plain HTTP.
    Tcp(String),
}

/// How to reach the engine: the --docker URL, else DOCKER_HOST, else the local socket.
///
/// Blocks for at most [`REQUEST_TIMEOUT`] per step while it pings the engine.
pub fn connect(url: Option<&str>) -> Result<Docker, CollectError> {
    let url = choose_url(url, std::env::var("DOCKER_HOST").ok());
    let endpoint = parse_url(&url)?;
    let engine_api = ping(&endpoint)
        .map_err(|why| CollectError::Engine(format!("cannot connect to {url}: {why}")))?;
    let version = speak(engine_api);
    let secs = REQUEST_TIMEOUT.as_secs();
    let docker = match &endpoint {
        Endpoint::Unix(path) => Docker::connect_with_unix(path, secs, &version),
        Endpoint::Tcp(addr) => Docker::connect_with_http(addr, secs, &version),
    };
    docker.map_err(|e| CollectError::Engine(format!("cannot connect to {url}: {e}")))
}

/// The URL given, else a non-empty DOCKER_HOST, else [`DEFAULT_URL`].
fn choose_url(given: Option<&str>, docker_host: Option<String>) -> String {
    given
        .map(str::to_owned)
        .or(docker_host.filter(|h| !h.trim().is_empty()))
        .unwrap_or_else(|| DEFAULT_URL.to_owned())
}

fn parse_url(url: &str) -> Result<Endpoint, CollectError> {
    let unsupported = || {
        CollectError::Engine(format!(
            "unsupported engine URL '{url}' (use unix:///path, tcp://host:port or http://host:port)"
        ))
    };
    if let Some(path) = url.strip_prefix("unix://") {
        if path.is_empty() {
            return Err(unsupported());
        }
        return Ok(Endpoint::Unix(path.to_owned()));
    }
    let rest = url
        .strip_prefix("tcp://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(unsupported)?;
    let addr = rest.trim_end_matches('/');
    if addr.is_empty() || addr.contains('/') {
        return Err(unsupported());
    }
    // The docker CLI's default port for a plain-HTTP engine.
    let addr = if has_port(addr) {
        addr.to_owned()
    } else {
        format!("{addr}:2375")
    };
    Ok(Endpoint::Tcp(addr))
}

/// Whether `host[:port]` (host possibly a bracketed IPv6 literal) names a port.
fn has_port(addr: &str) -> bool {
    match addr.rfind(']') {
        Some(close) => addr[close..].contains(':'),
        None => addr.contains(':'),
    }
}

/// The lower of the engine's newest API version and bollard's own.
fn speak(engine: Option<ClientVersion>) -> ClientVersion {
    let ours = *API_DEFAULT_VERSION;
    match engine {
        Some(v)
            if (v.major_version, v.minor_version) < (ours.major_version, ours.minor_version) =>
        {
            v
        }
        _ => ours,
    }
}

/// `GET /_ping`: Ok(the engine's API version, if it said) when an engine answers.
fn ping(endpoint: &Endpoint) -> Result<Option<ClientVersion>, String> {
    let answer = match endpoint {
        Endpoint::Unix(path) => {
            let s = UnixStream::connect(path).map_err(|e| os_reason(&e))?;
            s.set_read_timeout(Some(REQUEST_TIMEOUT))
                .and_then(|()| s.set_write_timeout(Some(REQUEST_TIMEOUT)))
                .and_then(|()| exchange(s))
        }
        Endpoint::Tcp(addr) => {
            let s = connect_tcp(addr)?;
            s.set_read_timeout(Some(REQUEST_TIMEOUT))
                .and_then(|()| s.set_write_timeout(Some(REQUEST_TIMEOUT)))
                .and_then(|()| exchange(s))
        }
    };
    parse_ping(&answer.map_err(|e| os_reason(&e))?)
}

/// Sends the ping and reads the answer until the engine closes the connection.
fn exchange(mut stream: impl Read + Write) -> std::io::Result<Vec<u8>> {
    stream.write_all(
        b"GET /_ping HTTP/1.1\r\nHost: docker\r\nUser-Agent: dockmap\r\nConnection: close\r\n\r\n",
    )?;
    let mut answer = Vec::new();
    stream.take(PING_MAX_BYTES).read_to_end(&mut answer)?;
    Ok(answer)
}

fn connect_tcp(addr: &str) -> Result<TcpStream, String> {
    let addrs = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr}: {e}"))?;
    let mut last = format!("{addr} resolves to no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, REQUEST_TIMEOUT) {
            Ok(s) => return Ok(s),
            Err(e) => last = os_reason(&e),
        }
    }
    Err(last)
}

/// The OS error in the words people know ("connection refused"), without Rust's decoration.
fn os_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        WouldBlock | TimedOut => format!("no answer within {}s", REQUEST_TIMEOUT.as_secs()),
        _ => {
            let text = e.to_string();
            // "Connection refused (os error 111)" -> "connection refused"
            let text = text.split(" (os error").next().unwrap_or(&text);
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text.to_owned(),
            }
        }
    }
}

/// Reads the status and the `Api-Version` header of a `/_ping` answer.
fn parse_ping(answer: &[u8]) -> Result<Option<ClientVersion>, String> {
    let text = String::from_utf8_lossy(answer);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default();
    let code = status.split_whitespace().nth(1).unwrap_or_default();
    if !status.starts_with("HTTP/") {
        return Err("the answer is not HTTP: is this a Docker engine?".to_owned());
    }
    if code != "200" {
        return Err(format!("/_ping answered '{}'", status.trim()));
    }
    let version = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("api-version")
            .then(|| parse_api_version(value.trim()))
            .flatten()
    });
    Ok(version)
}

/// `1.41` -> 1.41.
fn parse_api_version(text: &str) -> Option<ClientVersion> {
    let (major, minor) = text.split_once('.')?;
    Some(ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_precedence_is_flag_then_env_then_socket() {
        assert_eq!(
            choose_url(Some("tcp://a:1"), Some("unix:///b".into())),
            "tcp://a:1"
        );
        assert_eq!(choose_url(None, Some("unix:///b".into())), "unix:///b");
        assert_eq!(choose_url(None, Some("  ".into())), DEFAULT_URL);
        assert_eq!(choose_url(None, None), DEFAULT_URL);
    }

    #[test]
    fn urls_parse_into_endpoints() {
        assert_eq!(
            parse_url("unix:///run/x.sock").unwrap(),
            Endpoint::Unix("/run/x.sock".into())
        );
        assert_eq!(
            parse_url("tcp://127.0.0.1:2375").unwrap(),
            Endpoint::Tcp("127.0.0.1:2375".into())
        );
        assert_eq!(
            parse_url("http://localhost/").unwrap(),
            Endpoint::Tcp("localhost:2375".into())
        );
        assert_eq!(
            parse_url("tcp://[::1]").unwrap(),
            Endpoint::Tcp("[::1]:2375".into())
        );
        for bad in [
            "ssh://host",
            "https://h:1",
            "/var/run/docker.sock",
            "unix://",
            "tcp://h:1/x",
        ] {
            let err = parse_url(bad).unwrap_err().to_string();
            assert!(err.contains("unsupported engine URL"), "{bad}: {err}");
        }
    }

    #[test]
    fn ping_answer_gives_the_api_version() {
        let ok = b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nDocker-Experimental: false\r\n\r\nOK";
        let v = parse_ping(ok).unwrap().unwrap();
        assert_eq!((v.major_version, v.minor_version), (1, 41));
        let none = b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nOK";
        assert!(parse_ping(none).unwrap().is_none());
        let err = parse_ping(b"HTTP/1.1 500 Internal Server Error\r\n\r\n").unwrap_err();
        assert!(err.contains("500"), "{err}");
        assert!(parse_ping(b"SSH-2.0-OpenSSH\r\n").is_err());
    }

    #[test]
    fn speaks_the_lower_version() {
        let old = ClientVersion {
            major_version: 1,
            minor_version: 41,
        };
        let v = speak(Some(old));
        assert_eq!((v.major_version, v.minor_version), (1, 41));
        let newer = ClientVersion {
            major_version: 1,
            minor_version: 99,
        };
        let v = speak(Some(newer));
        let d = API_DEFAULT_VERSION;
        assert_eq!(
            (v.major_version, v.minor_version),
            (d.major_version, d.minor_version)
        );
        assert_eq!(speak(None).minor_version, d.minor_version);
    }

    #[test]
    fn os_reasons_read_like_the_cli() {
        let e = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(os_reason(&e), "connection refused");
    }
}
