//! The Prometheus metrics page: a minimal HTTP/1.1 responder serving the
//! text exposition format at `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::server::Shared;
use crate::stats::prometheus;

/// Largest request head read before answering.
const MAX_REQUEST: usize = 8 * 1024;

/// Answers metrics requests on `listener` until `stop` changes.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(Duration::from_secs(5), respond(stream, shared)).await;
                    });
                }
            }
            _ = stop.changed() => break,
        }
    }
}

async fn respond(mut stream: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let mut words = line.split(|&b| b == b' ');
    let method = words.next().unwrap_or(&[]);
    let path = words.next().unwrap_or(&[]);
    let (status, body) = if method != b"GET" && method != b"HEAD" {
        (
            "405 Method Not Allowed",
            "only GET is supported\n".to_string(),
        )
    } else if path == b"/metrics" || path == b"/" {
        let text = tokio::task::spawn_blocking(move || prometheus(&shared))
            .await
            .unwrap_or_default();
        ("200 OK", text)
    } else {
        ("404 Not Found", "the metrics are at /metrics\n".to_string())
    };
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes()).await?;
    if method != b"HEAD" {
        stream.write_all(body.as_bytes()).await?;
    }
    stream.shutdown().await
}
