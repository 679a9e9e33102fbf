//! Bidirectional copy between a client and its upstream, with an idle
//! timeout: the tunnel closes when no byte moved either way for that long.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The first read buffer of each direction; it doubles, up to [`MAX_BUF`],
/// while reads fill it, so a bulk download moves in large reads and writes
/// while a thousand idle tunnels stay small.
const MIN_BUF: usize = 16 * 1024;
const MAX_BUF: usize = 512 * 1024;

/// Copies both ways between two TCP streams until both sides are done, one
/// fails, or the tunnel is idle for `idle`. `prefix`: bytes the client sent
/// before the tunnel began (read ahead by the HTTP parser).
pub(crate) async fn tcp(
    mut client: TcpStream,
    prefix: &[u8],
    mut upstream: TcpStream,
    idle: Option<Duration>,
) {
    if !prefix.is_empty() && upstream.write_all(prefix).await.is_err() {
        return;
    }
    let (client_read, client_write) = client.split();
    let (upstream_read, upstream_write) = upstream.split();
    run(
        client_read,
        client_write,
        upstream_read,
        upstream_write,
        idle,
    )
    .await;
}

/// The same over any client stream (a fallback for an upgraded connection
/// that is not a plain TCP stream).
pub(crate) async fn generic<C>(client: C, mut upstream: TcpStream, idle: Option<Duration>)
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let (client_read, client_write) = tokio::io::split(client);
    let (upstream_read, upstream_write) = upstream.split();
    run(
        client_read,
        client_write,
        upstream_read,
        upstream_write,
        idle,
    )
    .await;
}

async fn run<CR, CW, UR, UW>(
    client_read: CR,
    client_write: CW,
    upstream_read: UR,
    upstream_write: UW,
    idle: Option<Duration>,
) where
    CR: AsyncRead + Unpin,
    CW: AsyncWrite + Unpin,
    UR: AsyncRead + Unpin,
    UW: AsyncWrite + Unpin,
{
    let epoch = Instant::now();
    let activity = AtomicU64::new(0);
    let both = async {
        // A failure either way ends both directions; an orderly end of one
        // direction is passed on (half-close) and the other goes on.
        let _ = tokio::try_join!(
            pump(client_read, upstream_write, &activity, epoch),
            pump(upstream_read, client_write, &activity, epoch),
        );
    };
    match idle {
        None => both.await,
        Some(idle) => {
            tokio::select! {
                () = both => {}
                () = idle_watch(&activity, epoch, idle) => {}
            }
        }
    }
}

async fn pump<R, W>(mut from: R, mut to: W, activity: &AtomicU64, epoch: Instant) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; MIN_BUF];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            to.shutdown().await?;
            return Ok(());
        }
        touch(activity, epoch);
        to.write_all(&buf[..n]).await?;
        touch(activity, epoch);
        if n == buf.len() && buf.len() < MAX_BUF {
            buf.resize(buf.len() * 2, 0);
        }
    }
}

fn touch(activity: &AtomicU64, epoch: Instant) {
    let millis = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
    activity.store(millis, Ordering::Relaxed);
}

/// Returns once `idle` passed with no byte moved.
async fn idle_watch(activity: &AtomicU64, epoch: Instant, idle: Duration) {
    loop {
        let last = activity.load(Ordering::Relaxed);
        tokio::time::sleep_until(epoch + Duration::from_millis(last) + idle).await;
        if activity.load(Ordering::Relaxed) == last {
            return;
        }
    }
}
