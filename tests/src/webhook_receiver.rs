//! A partner's webhook receiver for tests: a small hyper server on 127.0.0.1 that records every call
//! and answers 204, or the status it is told to. It can go down (its port closed, so connections are
//! refused) and come back on the same port, and it can serve https with a certificate from a file. [`verify`] checks a Standard Webhooks signature the way a
//! partner would, independently of the server's signing code.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac as _};
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sha2::Sha256;
use tokio::net::TcpSocket;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// One call the receiver got.
#[derive(Debug, Clone)]
pub struct Call {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Vec<u8>,
}

impl Call {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

pub struct Receiver {
    pub addr: SocketAddr,
    calls: Arc<Mutex<Vec<Call>>>,
    answer: Arc<AtomicU16>,
    arrived: Arc<Notify>,
    server: Option<JoinHandle<()>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("addr", &self.addr)
            .field("https", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// Listens on a free port.
    pub async fn start() -> Receiver {
        Self::listen(None).await
    }

    /// Listens on a free port for https, with the certificate chain and PKCS#8 key in these PEM files.
    pub async fn start_tls(certificate: &std::path::Path, key: &std::path::Path) -> Receiver {
        use tokio_rustls::rustls::pki_types::pem::PemObject as _;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain = CertificateDer::pem_file_iter(certificate)
            .expect("certificate file")
            .collect::<Result<Vec<_>, _>>()
            .expect("certificates");
        let key = PrivateKeyDer::from_pem_file(key).expect("key file");
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("certificate and key");
        Self::listen(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))).await
    }

    async fn listen(tls: Option<tokio_rustls::TlsAcceptor>) -> Receiver {
        let mut receiver = Receiver {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            calls: Arc::default(),
            answer: Arc::new(AtomicU16::new(204)),
            arrived: Arc::default(),
            server: None,
            tls,
        };
        receiver.up().await;
        receiver
    }

    /// The URL to subscribe.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}/hooks/haven", self.addr)
    }

    /// The status every later call is answered with.
    pub fn answer_with(&self, status: u16) {
        self.answer.store(status, Ordering::SeqCst);
    }

    /// Closes the port: every connection is refused until [`Receiver::up`].
    pub fn down(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }

    /// Listens again, on the same port once it has had one.
    pub async fn up(&mut self) {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("reuseaddr");
        socket.bind(self.addr).expect("bind the receiver's port");
        let listener = socket.listen(64).expect("listen");
        self.addr = listener.local_addr().expect("addr");
        let calls = self.calls.clone();
        let answer = self.answer.clone();
        let arrived = self.arrived.clone();
        let tls = self.tls.clone();
        self.server = Some(tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let calls = calls.clone();
                let answer = answer.clone();
                let arrived = arrived.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: hyper::Request<Incoming>| {
                        let calls = calls.clone();
                        let answer = answer.clone();
                        let arrived = arrived.clone();
                        async move {
                            let header = |name: &str| {
                                request
                                    .headers()
                                    .get(name)
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or_default()
                                    .to_owned()
                            };
                            let (id, timestamp, signature) = (
                                header("webhook-id"),
                                header("webhook-timestamp"),
                                header("webhook-signature"),
                            );
                            let body = request
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes().to_vec())
                                .unwrap_or_default();
                            let status = answer.load(Ordering::SeqCst);
                            calls.lock().expect("calls").push(Call {
                                id,
                                timestamp,
                                signature,
                                body,
                            });
                            arrived.notify_waiters();
                            hyper::Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::new()))
                        }
                    });
                    let http = hyper::server::conn::http1::Builder::new();
                    match tls {
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(stream).await {
                                let _ = http.serve_connection(TokioIo::new(stream), service).await;
                            }
                        }
                        None => {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                });
            }
        }));
    }

    /// Every call so far, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls").clone()
    }

    /// The calls so far, one per `webhook-id` (the last of each), once at least `count` distinct ids
    /// arrived. Panics after `patience` without them, so a broken dispatcher fails the test
    /// rather than hanging it.
    pub async fn distinct(&self, count: usize, patience: Duration) -> BTreeMap<String, Call> {
        let waited = tokio::time::timeout(patience, async {
            loop {
                let notified = self.arrived.notified();
                let by_id = self.by_id();
                if by_id.len() >= count {
                    return by_id;
                }
                notified.await;
            }
        })
        .await;
        match waited {
            Ok(by_id) => by_id,
            Err(_) => panic!(
                "expected {count} distinct deliveries, got {:?}",
                self.by_id().keys().collect::<Vec<_>>()
            ),
        }
    }

    fn by_id(&self) -> BTreeMap<String, Call> {
        self.calls()
            .into_iter()
            .map(|call| (call.id.clone(), call))
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.down();
    }
}

/// Whether `call` carries a valid signature by `secret` (`whsec_<base64>`): one of the space-separated
/// `v1,<base64>` signatures must be the HMAC-SHA256 of `id.timestamp.body`.
pub fn verify(secret: &str, call: &Call) -> bool {
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| STANDARD.decode(k).ok())
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{}.{}.", call.id, call.timestamp).as_bytes());
    mac.update(&call.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    call.signature.split(' ').any(|s| s == expected)
}
