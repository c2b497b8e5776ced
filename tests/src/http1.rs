//! A plain HTTP/1.1 client for REST tests: one request per connection (`Connection: close`), written
//! and read by hand, as the simplest partner's client would, so the tests depend on no HTTP library's
//! habits.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names in lowercase, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `method path` to `addr` with `headers` and an optional body, and reads the whole answer.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let stream = TcpStream::connect(addr).await.expect("connect to gateway");
    exchange(stream, addr, method, path, headers, body).await
}

/// [`request`] from the local address `local` (any 127/8 address is this machine), for tests of
/// limits kept per caller address.
pub async fn request_from(
    local: IpAddr,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(local, 0))
        .expect("bind local address");
    let stream = socket.connect(addr).await.expect("connect to gateway");
    exchange(stream, addr, method, path, headers, body).await
}

async fn exchange(
    mut stream: TcpStream,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write head");
    if let Some(body) = body {
        stream.write_all(body).await.expect("write body");
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read answer");
    parse(&raw)
}

fn parse(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    assert!(
        status_line.starts_with("HTTP/1.1 "),
        "not HTTP/1.1: {status_line}"
    );
    let status = status_line[9..12].parse().expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        match headers.iter().find(|(n, _)| n == "content-length") {
            Some((_, len)) => {
                rest[..len.parse::<usize>().expect("length").min(rest.len())].to_vec()
            }
            None => rest.to_vec(),
        }
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
            return body;
        };
        let size_text = String::from_utf8_lossy(&rest[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .expect("chunk size");
        rest = &rest[end + 2..];
        if size == 0 || rest.len() < size {
            return body;
        }
        body.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
}

/// One kept-alive HTTP/1.1 connection, for load: requests go one after another on the same socket, as
/// a partner's client with a connection pool sends them. Answers must carry a `Content-Length` or be
/// chunked.
#[derive(Debug)]
pub struct KeepAlive {
    stream: tokio::io::BufReader<TcpStream>,
    host: String,
}

impl KeepAlive {
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(KeepAlive {
            stream: tokio::io::BufReader::new(stream),
            host: addr.to_string(),
        })
    }

    /// Sends `GET path` with `headers` and reads the whole answer.
    pub async fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> std::io::Result<Response> {
        use tokio::io::AsyncBufReadExt as _;
        let mut head = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        self.stream.get_mut().write_all(head.as_bytes()).await?;
        let mut raw = Vec::new();
        loop {
            let before = raw.len();
            self.stream.read_until(b'\n', &mut raw).await?;
            if raw.len() == before {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            if raw.ends_with(b"\r\n\r\n") {
                break;
            }
        }
        let text = String::from_utf8_lossy(&raw).to_ascii_lowercase();
        let length = text
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        match length {
            Some(length) => {
                let start = raw.len();
                raw.resize(start + length, 0);
                self.stream.read_exact(&mut raw[start..]).await?;
            }
            None if text.contains("transfer-encoding: chunked") => loop {
                let mut line = Vec::new();
                self.stream.read_until(b'\n', &mut line).await?;
                raw.extend_from_slice(&line);
                let size = usize::from_str_radix(
                    String::from_utf8_lossy(&line)
                        .split(';')
                        .next()
                        .unwrap_or("0")
                        .trim(),
                    16,
                )
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidData))?;
                let start = raw.len();
                raw.resize(start + size + 2, 0);
                self.stream.read_exact(&mut raw[start..]).await?;
                if size == 0 {
                    break;
                }
            },
            None => {}
        }
        Ok(parse(&raw))
    }
}

/// One REST call to the suite's gateway: a bearer token when given, a JSON body when given, and any
/// other headers.
pub async fn rest_call(
    t: &crate::TestSuite,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
    extra: &[(&str, &str)],
) -> Response {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(bearer) = &bearer {
        headers.push(("Authorization", bearer));
    }
    let encoded = body.map(|b| b.to_string());
    if encoded.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    headers.extend_from_slice(extra);
    request(
        t.suite.gateway_addr,
        method,
        path,
        &headers,
        encoded.as_deref().map(str::as_bytes),
    )
    .await
}

/// Asserts a problem+json answer with this HTTP status and gRPC code name; answers the problem.
pub fn assert_problem(response: &Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );
    let problem = response.json();
    assert_eq!(problem["status"], status);
    assert_eq!(problem["code"], code);
    assert!(problem["type"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(problem["title"].as_str().is_some_and(|t| !t.is_empty()));
    problem
}
