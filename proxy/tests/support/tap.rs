//! A wiretap between the proxy and a real server: it relays bytes both
//! ways unchanged and keeps what the server wrote, so a test can check that
//! the client got the server's own answer, byte for byte.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The bytes the server wrote on one connection, so far.
type Connection = Arc<Mutex<Vec<u8>>>;

/// What the server wrote: one buffer per connection.
pub struct Tap {
    pub address: SocketAddr,
    written: Arc<Mutex<Vec<Connection>>>,
}

/// One answer as the server wrote it on the wire.
#[derive(Debug, PartialEq, Eq)]
pub struct Written {
    pub status: u16,
    /// Lowercased names, sorted, without the headers that describe one
    /// connection (`connection`, `keep-alive`, `transfer-encoding`).
    pub headers: Vec<(String, Bytes)>,
    pub body: Bytes,
}

impl Written {
    /// The same view of an answer the client got.
    pub fn of(response: &Response<Bytes>) -> Self {
        let mut headers: Vec<_> = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    Bytes::copy_from_slice(value.as_bytes()),
                )
            })
            .filter(|(name, _)| !hop_by_hop(name))
            .collect();
        headers.sort();
        Self {
            status: response.status().as_u16(),
            headers,
            body: response.body().clone(),
        }
    }
}

fn hop_by_hop(name: &str) -> bool {
    matches!(name, "connection" | "keep-alive" | "transfer-encoding")
}

impl Tap {
    /// Listens on 127.0.0.1 and relays each connection to `server`.
    pub fn start(runtime: &tokio::runtime::Runtime, server: SocketAddr) -> Self {
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap();
        let written = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::clone(&written);
        runtime.spawn(async move {
            loop {
                let (client, _) = listener.accept().await.unwrap();
                let upstream = tokio::net::TcpStream::connect(server).await.unwrap();
                let kept = Arc::new(Mutex::new(Vec::new()));
                connections.lock().unwrap().push(Arc::clone(&kept));
                let (mut client_read, mut client_write) = client.into_split();
                let (mut upstream_read, mut upstream_write) = upstream.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_read, &mut upstream_write).await;
                    let _ = upstream_write.shutdown().await;
                });
                tokio::spawn(async move {
                    let mut buffer = vec![0; 16 * 1024];
                    while let Ok(read @ 1..) = upstream_read.read(&mut buffer).await {
                        kept.lock().unwrap().extend_from_slice(&buffer[..read]);
                        if client_write.write_all(&buffer[..read]).await.is_err() {
                            break;
                        }
                    }
                    let _ = client_write.shutdown().await;
                });
            }
        });
        Self { address, written }
    }

    /// Every answer the server wrote so far, in each connection's order.
    pub fn answers(&self) -> Vec<Written> {
        let connections = self.written.lock().unwrap();
        connections
            .iter()
            .flat_map(|bytes| parse_all(&bytes.lock().unwrap()))
            .collect()
    }

    /// Asserts that `response` is, byte for byte, one the server wrote.
    pub fn assert_written(&self, response: &Response<Bytes>) {
        let got = Written::of(response);
        let answers = self.answers();
        assert!(
            answers.contains(&got),
            "the client got an answer the server did not write:\n{got:#?}\nthe server wrote:\n{answers:#?}"
        );
    }
}

/// The HTTP/1.1 answers in one connection's bytes (those complete so far;
/// a chunked body is read as these tests' servers write it).
fn parse_all(mut bytes: &[u8]) -> Vec<Written> {
    let mut answers = Vec::new();
    while !bytes.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let Ok(httparse::Status::Complete(head)) = response.parse(bytes) else {
            break;
        };
        let status = response.code.unwrap();
        let header = |wanted: &str| {
            response
                .headers
                .iter()
                .find(|header| header.name.eq_ignore_ascii_case(wanted))
                .map(|header| String::from_utf8_lossy(header.value).into_owned())
        };
        let chunked = header("transfer-encoding").is_some_and(|value| value.contains("chunked"));
        let length = header("content-length").map(|value| value.trim().parse::<usize>().unwrap());
        let mut listed: Vec<_> = response
            .headers
            .iter()
            .map(|header| {
                (
                    header.name.to_ascii_lowercase(),
                    Bytes::copy_from_slice(header.value),
                )
            })
            .filter(|(name, _)| !hop_by_hop(name))
            .collect();
        listed.sort();
        let mut rest = &bytes[head..];
        let body = if chunked {
            let mut body = Vec::new();
            loop {
                let line_end = rest.windows(2).position(|pair| pair == b"\r\n").unwrap();
                let size_text = String::from_utf8_lossy(&rest[..line_end]);
                let size_text = size_text.split(';').next().unwrap().trim();
                let size = usize::from_str_radix(size_text, 16).unwrap();
                rest = &rest[line_end + 2..];
                if size == 0 {
                    // No trailers in these tests: the last chunk ends the body.
                    rest = &rest[2..];
                    break;
                }
                body.extend_from_slice(&rest[..size]);
                rest = &rest[size + 2..];
            }
            body
        } else if let Some(length) = length {
            let Some(body) = rest.get(..length) else {
                break;
            };
            rest = &rest[length..];
            body.to_vec()
        } else {
            // Neither length nor chunks: the body runs to the close.
            std::mem::take(&mut rest).to_vec()
        };
        answers.push(Written {
            status,
            headers: listed,
            body: Bytes::from(body),
        });
        bytes = rest;
    }
    answers
}
