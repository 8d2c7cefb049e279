//! The local health and metrics port: `GET /health` (`ok` once registered, 503 before), `GET /metrics`
//! (Prometheus text). Nothing else listens: the control plane is only ever called, never called from.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::poller::Metrics;

/// Serves until `shutdown`.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((mut stream, _)) = accepted else { continue };
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            let mut request = [0_u8; 1024];
            let read =
                tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut request)).await;
            let Ok(Ok(length)) = read else { return };
            let line = String::from_utf8_lossy(&request[..length]);
            let path = line.split_whitespace().nth(1).unwrap_or("/");
            let (status, kind, body) = match path {
                "/health" | "/health/live" => ("200 OK", "text/plain", "ok\n".to_owned()),
                "/health/ready" if metrics.registered.load(Ordering::Relaxed) => {
                    ("200 OK", "text/plain", "ok\n".to_owned())
                }
                "/health/ready" => (
                    "503 Service Unavailable",
                    "text/plain",
                    "not registered yet\n".to_owned(),
                ),
                "/metrics" => ("200 OK", "text/plain; version=0.0.4", metrics.render()),
                _ => ("404 Not Found", "text/plain", "not found\n".to_owned()),
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        });
    }
}
