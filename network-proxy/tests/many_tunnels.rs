//! A thousand tunnels open at once (CONNECT and SOCKS5), then closed: no
//! descriptor is left behind, with the proxy idle and after it stopped.
//! Alone in its own test binary: descriptors are counted process-wide.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use tokio::task::JoinSet;

const TUNNELS: usize = 1000;

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

fn soft_fd_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_tunnels_leak_nothing() {
    if !std::path::Path::new("/proc/self/fd").exists() {
        println!("SKIPPED: no /proc/self/fd to count descriptors");
        return;
    }
    // Client, proxy (two sides) and echo server: four descriptors a tunnel.
    if soft_fd_limit().is_some_and(|limit| limit < (4 * TUNNELS as u64 + 200)) {
        println!(
            "SKIPPED: the open-files limit is below {}",
            4 * TUNNELS + 200
        );
        return;
    }
    let echo = echo().await;
    let before_proxy = open_descriptors();
    let p = start(rules(&["allowed.test"]));
    let idle_proxy = open_descriptors();

    let mut set = JoinSet::new();
    for i in 0..TUNNELS {
        let (http, socks, port) = (p.http, p.socks, echo.addr.port());
        set.spawn(async move {
            let mut stream = if i % 2 == 0 {
                let (reply, stream) = connect_tunnel(http, &format!("allowed.test:{port}")).await;
                assert_eq!(reply.status, 200, "{reply:#?}");
                stream
            } else {
                let (code, stream) =
                    socks_request(socks, 1, SocksTarget::Name("allowed.test"), port).await;
                assert_eq!(code, Some(0));
                stream
            };
            echo_roundtrip(&mut stream, format!("tunnel {i}").as_bytes()).await;
            stream
        });
    }
    let mut streams = Vec::with_capacity(TUNNELS);
    while let Some(stream) = set.join_next().await {
        streams.push(stream.unwrap());
    }
    // All of them open at the same time.
    assert_eq!(echo.open_now(), TUNNELS);
    assert!(open_descriptors() >= idle_proxy + 3 * TUNNELS);
    assert_eq!(p.events().len(), TUNNELS);
    drop(streams);
    echo.wait_all_closed().await;
    eventually(
        || open_descriptors() == idle_proxy,
        "the proxy's descriptors to come back to idle",
    )
    .await;

    p.proxy.stop();
    assert_eq!(
        open_descriptors(),
        before_proxy,
        "descriptors leaked by the proxy"
    );
}
