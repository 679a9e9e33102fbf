//! `cargo xtask bench`: whole-command start-up of the sandbox against bare `true`
//! and bubblewrap configured equivalently, in one hyperfine run, plus peak RSS.
//! Writes the results into `docs/benchmarks.md`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// One benchmarked command.
struct Case {
    name: &'static str,
    argv: Vec<String>,
}

pub(crate) fn bench() -> Result<(), String> {
    let target = crate::target_dir()?;
    ensure_tools()?;
    run(Command::new(crate::cargo_path()).args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "codex-policy",
    ]))?;
    let root = std::env::current_dir().map_err(|e| e.to_string())?;
    let bin = target.join("release/codex-policy");
    let work = target.join("bench");
    let workspace = work.join("workspace");
    let codex_home = work.join("codex-home");
    for dir in [workspace.join(".git"), codex_home.clone()] {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let ws = workspace.display().to_string();
    let policy = |profile: &str| -> Vec<String> {
        [
            bin.to_str().unwrap_or_default(),
            "--profile",
            profile,
            "run",
            "--cwd",
            &ws,
            "--",
            "true",
        ]
        .map(String::from)
        .to_vec()
    };
    let bwrap = |extra: &[&str]| -> Vec<String> {
        let mut argv = vec!["bwrap", "--ro-bind", "/", "/"];
        argv.extend_from_slice(extra);
        argv.extend_from_slice(&[
            "--unshare-user",
            "--unshare-net",
            "--unshare-pid",
            "--new-session",
            "--die-with-parent",
            "--chdir",
            &ws,
            "--",
            "true",
        ]);
        argv.into_iter().map(String::from).collect()
    };
    let git = format!("{ws}/.git");
    let cases = [
        Case {
            name: "true (bare)",
            argv: vec!["true".into()],
        },
        Case {
            name: "codex-policy --profile trusted run -- true (no sandbox: the exec floor)",
            argv: policy("trusted"),
        },
        Case {
            name: "codex-policy --version (start-up alone)",
            argv: vec![
                bin.to_str().unwrap_or_default().to_owned(),
                "--version".into(),
            ],
        },
        Case {
            name: "codex-policy --profile workspace run -- true",
            argv: policy("workspace"),
        },
        Case {
            name: "codex-policy --profile offline run -- true",
            argv: policy("offline"),
        },
        Case {
            name: "bwrap, workspace-equivalent",
            argv: bwrap(&[
                "--bind",
                &ws,
                &ws,
                "--bind",
                "/tmp",
                "/tmp",
                "--ro-bind",
                &git,
                &git,
            ]),
        },
        Case {
            name: "bwrap, offline-equivalent",
            argv: bwrap(&[]),
        },
    ];

    let runs = std::env::var("BENCH_RUNS").unwrap_or_else(|_| "500".into());
    let json = work.join("sandbox-startup.json");
    let mut hyperfine = Command::new("hyperfine");
    hyperfine
        .env("CODEX_HOME", &codex_home)
        .args(["-N", "--warmup", "50", "--runs", &runs, "--export-json"])
        .arg(&json);
    for case in &cases {
        hyperfine.args(["-n", case.name, &case.argv.join(" ")]);
    }
    run(&mut hyperfine)?;
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(&json).map_err(|e| format!("{}: {e}", json.display()))?,
    )
    .map_err(|e| format!("hyperfine JSON: {e}"))?;
    let means: Vec<(f64, f64, f64)> = results["results"]
        .as_array()
        .ok_or("hyperfine JSON has no results")?
        .iter()
        .map(|r| {
            let ms = |key: &str| r[key].as_f64().unwrap_or(f64::NAN) * 1000.0;
            (ms("mean"), ms("stddev"), ms("median"))
        })
        .collect();
    if means.len() != cases.len() {
        return Err("hyperfine returned a different number of results".into());
    }

    let rss: Vec<Option<i64>> = cases
        .iter()
        .map(|case| peak_rss_kib(&case.argv, &codex_home))
        .collect();
    let report = render(&cases, &means, &rss, &runs);
    let doc = root.join("docs/benchmarks.md");
    write_section(&doc, "sandbox", &report)?;
    println!("{report}");

    let report = validate_section(&bin, &root, &runs)?;
    write_section(&doc, "validate", &report)?;
    println!("{report}");

    let report = domain_section()?;
    write_section(&doc, "domains", &report)?;
    println!("{report}");

    let report = exec_policy_section(&bin, &runs)?;
    write_section(&doc, "execpolicy", &report)?;
    println!("{report}");

    let report = audit_section(&bin, &runs, &ws, &codex_home)?;
    write_section(&doc, "audit", &report)?;
    println!("{report}");

    let report = connect_section(&bin, &ws, &codex_home)?;
    write_section(&doc, "connect", &report)?;
    println!("{report}");

    let report = session_section()?;
    write_section(&doc, "session", &report)?;
    println!("{report}");

    let report = secrets_section(&bin, &runs, &ws)?;
    write_section(&doc, "secrets", &report)?;
    println!("{report}");

    let report = seatbelt_section()?;
    write_section(&doc, "seatbelt", &report)?;
    println!("{report}");

    let report = egress_section(&bin, &codex_home)?;
    write_section(&doc, "egress", &report)?;
    println!("{report}");

    let report = crate::bench_limited::limited_section(&bin, &root, &codex_home)?;
    write_section(&doc, "limited", &report)?;
    println!("{report}");
    Ok(())
}

/// `cargo xtask bench egress` / `bench limited`: one section alone.
pub(crate) fn section_only(name: &str) -> Result<(), String> {
    if name == "seatbelt" {
        // In-process only: no release binary, no hyperfine.
        let report = seatbelt_section()?;
        let root = std::env::current_dir().map_err(|e| e.to_string())?;
        write_section(&root.join("docs/benchmarks.md"), name, &report)?;
        println!("{report}");
        return Ok(());
    }
    let target = crate::target_dir()?;
    ensure_tools()?;
    run(Command::new(crate::cargo_path()).args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "codex-policy",
    ]))?;
    let root = std::env::current_dir().map_err(|e| e.to_string())?;
    let bin = target.join("release/codex-policy");
    let codex_home = target.join("bench/codex-home");
    std::fs::create_dir_all(&codex_home).map_err(|e| e.to_string())?;
    let report = match name {
        "limited" => crate::bench_limited::limited_section(&bin, &root, &codex_home)?,
        "validate" => {
            let runs = std::env::var("BENCH_RUNS").unwrap_or_else(|_| "500".into());
            validate_section(&bin, &root, &runs)?
        }
        "secrets" => {
            let runs = std::env::var("BENCH_RUNS").unwrap_or_else(|_| "500".into());
            let workspace = target.join("bench/workspace");
            std::fs::create_dir_all(workspace.join(".git")).map_err(|e| e.to_string())?;
            secrets_section(&bin, &runs, &workspace.display().to_string())?
        }
        _ => egress_section(&bin, &codex_home)?,
    };
    write_section(&root.join("docs/benchmarks.md"), name, &report)?;
    println!("{report}");
    Ok(())
}

/// Making the macOS backend's Seatbelt profile (criterion; the profile is
/// plain Rust, measured here on any OS), against the writable-roots
/// computation of the model it builds on.
fn seatbelt_section() -> Result<String, String> {
    criterion_bench("codex-sandbox-macos", "seatbelt", "5")?;
    let micros = |id: &str| criterion_median(&format!("seatbelt/{id}")).map(|ns| ns / 1e3);
    let baseline = micros("writable_roots_baseline")?;
    let plain = micros("profile_workspace")?;
    let hidden = micros("profile_workspace_28_hidden_proxy")?;
    let mut out = String::new();
    let _ = writeln!(out, "## Seatbelt profile (macOS backend)\n");
    let _ = writeln!(
        out,
        "Made by `cargo xtask bench` (or `cargo xtask bench seatbelt`) on {}: criterion medians (`cargo bench -p codex-sandbox-macos --bench seatbelt`). A profile is made once per session (`MacSandbox::prepare`), not per command. Execution under `sandbox-exec` is not measured: this host is not a Mac.\n",
        host_line()
    );
    let _ = writeln!(out, "| work | median (µs) |\n|---|---|");
    for (name, value) in [
        (
            "writable roots of the workspace policy (baseline: the model's part)",
            baseline,
        ),
        ("workspace profile, no hidden path", plain),
        (
            "workspace profile, 28 hidden stores, filtered network",
            hidden,
        ),
    ] {
        let _ = writeln!(out, "| {name} | {value:.1} |");
    }
    let _ = writeln!(
        out,
        "\nThe profile's own work is {:.1} µs over the baseline; each hidden path costs about {:.1} µs (its resolved spelling is looked up on disk).",
        plain - baseline,
        (hidden - plain) / 28.0
    );
    Ok(out)
}

/// Bytes of the download benchmarks (egress and read-only network).
pub(crate) const DOWNLOAD_BYTES: u64 = 256 << 20;

/// A request head (up to the blank line, at most 16 KiB), read byte by byte
/// so that nothing after it is consumed; `None` if the client left.
pub(crate) fn read_head(stream: &mut impl std::io::Read) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 << 10 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(head)
}

/// Answers a request head: `big` bytes of body for `/big`, two otherwise.
pub(crate) fn answer_download(
    stream: &mut impl std::io::Write,
    head: &[u8],
    big: u64,
) -> std::io::Result<()> {
    let length = if head.windows(4).any(|w| w == b"/big") {
        big
    } else {
        2
    };
    let header =
        format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n");
    stream.write_all(header.as_bytes())?;
    let chunk = vec![b'x'; 1 << 20];
    let mut left = length;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        stream.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    stream.flush()
}

/// Serves `GET` on loopback with `DOWNLOAD_BYTES` of body for `/big` and
/// two bytes otherwise; echoes anything sent after `ECHO` (tunnel tests).
/// Returns the port. A thread per connection: the benchmark's client
/// counts are small, except the idle tunnels, which hold a small stack each.
fn download_server() -> Result<u16, String> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = std::thread::Builder::new()
                .stack_size(64 << 10)
                .spawn(move || {
                    let mut stream = stream;
                    let Some(head) = read_head(&mut stream) else {
                        return;
                    };
                    if head.starts_with(b"ECHO") {
                        let mut buf = [0u8; 512];
                        while let Ok(n @ 1..) = stream.read(&mut buf) {
                            if stream.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                        return;
                    }
                    let _ = answer_download(&mut stream, &head, DOWNLOAD_BYTES);
                });
        }
    });
    Ok(port)
}

/// The egress proxy: a large download through `run` and the proxy (plain
/// HTTP, a CONNECT tunnel, SOCKS5) against the same download direct, in one
/// hyperfine run; and the standalone proxy's memory per idle tunnel.
fn egress_section(bin: &Path, codex_home: &Path) -> Result<String, String> {
    let target = crate::target_dir()?;
    let port = download_server()?;
    let work = target.join("bench/egress");
    let workspace = work.join("workspace");
    std::fs::create_dir_all(&workspace).map_err(|e| e.to_string())?;
    // The loopback server is reachable only because its IP literal is
    // allowlisted exactly (local addresses are refused otherwise).
    let rc = work.join("codexrc.json");
    std::fs::write(
        &rc,
        r#"{"environment_context": {"name": "dev", "network_access": "enabled",
            "outbound_policy": {"mode": "allowlist", "dns_allow": ["127.0.0.1"]}}}"#,
    )
    .map_err(|e| e.to_string())?;
    let url = format!("http://127.0.0.1:{port}/big");
    let curl = format!("curl -sf -o /dev/null {url}");
    let ws = workspace.display().to_string();
    let run_with = |runtime: bool, command: &str| {
        format!(
            "{} --profile workspace-net run --no-audit --cwd {ws}{} -- {command}",
            bin.display(),
            if runtime {
                format!(" --runtime {}", rc.display())
            } else {
                String::new()
            }
        )
    };
    let cases: Vec<(&str, String)> = vec![
        ("curl, direct", curl.clone()),
        ("run (open network) -- curl, direct", run_with(false, &curl)),
        (
            "run (filtered) -- curl via the HTTP proxy",
            run_with(true, &curl),
        ),
        (
            "run (filtered) -- curl through a CONNECT tunnel",
            run_with(true, &format!("curl -sf -p -o /dev/null {url}")),
        ),
        (
            "run (filtered) -- curl through SOCKS5",
            run_with(
                true,
                &format!("curl -sf --proxy socks5h://127.0.0.1:1080 -o /dev/null {url}"),
            ),
        ),
    ];
    let runs = "10";
    let mut command = Command::new("hyperfine");
    command.env("CODEX_HOME", codex_home);
    let medians = hyperfine_medians(command, &cases, runs, &work.join("egress.json"))?;
    let mib = DOWNLOAD_BYTES as f64 / f64::from(1u32 << 20);
    let mut out = String::new();
    let _ = writeln!(out, "## Egress proxy: a large download\n");
    let _ = writeln!(
        out,
        "Made by `cargo xtask bench` (or `cargo xtask bench egress`) on {}: hyperfine -N, \
         {runs} runs, one session; curl downloads {mib:.0} MiB from a loopback server \
         (allowlisted by its IP literal). Through the proxy, the bytes cross loopback twice \
         and the proxy copies them once.\n",
        host_line()
    );
    let _ = writeln!(
        out,
        "| command | median (s) | MiB/s | × direct | × `run`, open network |\n|---|---|---|---|---|"
    );
    let (direct, open) = (medians[0], medians[1]);
    for ((name, _), median) in cases.iter().zip(&medians) {
        let _ = writeln!(
            out,
            "| {name} | {median:.3} | {:.0} | {:.2} | {:.2} |",
            mib / median,
            direct / median,
            open / median
        );
    }
    let worst = medians[2..].iter().copied().fold(0.0, f64::max);
    let _ = writeln!(
        out,
        "\n| goal | measured | |\n|---|---|---|\n| throughput through `run` + proxy ≥ 0.9× \
         direct (slowest of the three ways) | {:.2}× | {} |",
        direct / worst,
        if direct / worst >= 0.9 {
            "met"
        } else {
            "NOT met"
        }
    );
    out.push_str(&proxy_latency()?);
    out.push_str(&idle_tunnels(bin, port, &work, codex_home)?);
    Ok(out.trim_end().to_owned())
}

/// Runs `hyperfine` (`command`, its environment set) on `cases` in one run
/// (`-N`, two warm-ups, `runs` runs) and returns their medians in seconds,
/// in order.
pub(crate) fn hyperfine_medians(
    mut command: Command,
    cases: &[(&str, String)],
    runs: &str,
    json: &Path,
) -> Result<Vec<f64>, String> {
    command
        .args(["-N", "--warmup", "2", "--runs", runs, "--export-json"])
        .arg(json);
    for (name, line) in cases {
        command.args(["-n", name, line]);
    }
    run(&mut command)?;
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(json).map_err(|e| format!("{}: {e}", json.display()))?,
    )
    .map_err(|e| format!("hyperfine JSON: {e}"))?;
    let medians: Vec<f64> = results["results"]
        .as_array()
        .ok_or("hyperfine JSON has no results")?
        .iter()
        .map(|r| r["median"].as_f64().unwrap_or(f64::NAN))
        .collect();
    if medians.len() != cases.len() {
        return Err("hyperfine returned a different number of results".into());
    }
    Ok(medians)
}

/// What the proxy adds to one request and to one tunnel's set-up: criterion
/// medians of the same exchange direct and through the proxy, one run.
fn proxy_latency() -> Result<String, String> {
    criterion_bench("codex-network-proxy", "proxy", "5")?;
    let median = |id: &str| criterion_median(&format!("egress/{id}")).map(|ns| ns / 1e3);
    let request = (median("request_direct")?, median("request_through_proxy")?);
    let connect = median("connect_direct")?;
    let tunnel = median("connect_tunnel")?;
    let socks = median("connect_socks5")?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n### Added latency (`cargo bench -p codex-network-proxy --bench proxy`)\n\n\
         Criterion medians, one run, the proxy in-process on loopback: a keep-alive `GET` \
         (2-byte answer), and a fresh connection that sends one byte to an echo server and \
         reads it back — direct, through a `CONNECT` tunnel, through SOCKS5.\n\n\
         | exchange | direct (µs) | through the proxy (µs) | added (µs) | goal < 200 µs |\n|---|---|---|---|---|"
    );
    let verdict = |added: f64| if added < 200.0 { "met" } else { "NOT met" };
    for (name, direct, proxied) in [
        ("request (keep-alive `GET`)", request.0, request.1),
        ("tunnel set-up (`CONNECT`) + echo", connect, tunnel),
        ("tunnel set-up (SOCKS5) + echo", connect, socks),
    ] {
        let added = proxied - direct;
        let _ = writeln!(
            out,
            "| {name} | {direct:.1} | {proxied:.1} | {added:.1} | {} |",
            verdict(added)
        );
    }
    Ok(out)
}

/// The standalone proxy's resident memory per idle `CONNECT` tunnel, and
/// whether every tunnel of the largest batch still carries bytes.
fn idle_tunnels(bin: &Path, port: u16, work: &Path, codex_home: &Path) -> Result<String, String> {
    use std::io::{BufRead, Read, Write};
    raise_descriptor_limit();
    let rc = work.join("codexrc.json");
    let mut proxy = Command::new(bin)
        .env("CODEX_HOME", codex_home)
        .args(["--profile", "workspace-net", "proxy", "--no-audit"])
        .args([
            "--listen",
            "127.0.0.1:0",
            "--socks",
            "127.0.0.1:0",
            "--runtime",
        ])
        .arg(&rc)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let result = (|| {
        let stdout = proxy.stdout.take().ok_or("no proxy output")?;
        let mut first = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .map_err(|e| e.to_string())?;
        let addr = first
            .trim()
            .rsplit(' ')
            .next()
            .ok_or("no proxy address")?
            .to_owned();
        let rss = || -> Result<f64, String> {
            let status = std::fs::read_to_string(format!("/proc/{}/status", proxy.id()))
                .map_err(|e| e.to_string())?;
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                .ok_or_else(|| "no VmRSS".to_owned())
        };
        let open = |count: usize, tunnels: &mut Vec<std::net::TcpStream>| -> Result<(), String> {
            for _ in 0..count {
                let mut stream = std::net::TcpStream::connect(&addr).map_err(|e| e.to_string())?;
                write!(
                    stream,
                    "CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
                )
                .map_err(|e| e.to_string())?;
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    stream.read_exact(&mut byte).map_err(|e| e.to_string())?;
                    head.push(byte[0]);
                }
                if !head.starts_with(b"HTTP/1.1 200") {
                    return Err(format!(
                        "tunnel refused: {}",
                        String::from_utf8_lossy(&head)
                    ));
                }
                stream
                    .write_all(b"ECHO\r\n\r\n")
                    .map_err(|e| e.to_string())?;
                tunnels.push(stream);
            }
            Ok(())
        };
        let mut tunnels = Vec::new();
        open(10, &mut tunnels)?;
        std::thread::sleep(std::time::Duration::from_millis(200));
        let before = rss()?;
        let mut rows = Vec::new();
        for target in [1000usize, 2000, 4000] {
            open(target - tunnels.len(), &mut tunnels)?;
            std::thread::sleep(std::time::Duration::from_millis(200));
            rows.push((target, rss()?));
        }
        // Every tunnel of the largest batch still carries bytes both ways.
        for stream in &mut tunnels {
            stream.write_all(b"ping").map_err(|e| e.to_string())?;
            let mut reply = [0u8; 4];
            stream.read_exact(&mut reply).map_err(|e| e.to_string())?;
            if &reply != b"ping" {
                return Err("a tunnel garbled its bytes".into());
            }
        }
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\n### Idle tunnels (`codex-policy proxy`, resident memory)\n\n\
             `CONNECT` tunnels to a loopback echo server held open at once; VmRSS of the \
             proxy process against 10 open tunnels ({before:.0} KiB). After the largest \
             batch, every tunnel echoed a message.\n\n| tunnels | VmRSS (KiB) | KiB per tunnel |\n|---|---|---|"
        );
        for (count, kib) in rows {
            let _ = writeln!(
                out,
                "| {count} | {kib:.0} | {:.1} |",
                (kib - before) / (count - 10) as f64
            );
        }
        Ok(out)
    })();
    let _ = proxy.kill();
    let _ = proxy.wait();
    result
}

/// The soft limit on open descriptors raised to the hard one: thousands of
/// tunnels need two descriptors each, here and in the proxy (which inherits it).
fn raise_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reading and setting our own limits with a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// What an embedder pays per command: `Session` spawn-and-wait of `true`
/// against `std::process::Command` and bubblewrap, one criterion run.
fn session_section() -> Result<String, String> {
    criterion_bench("codex-policy", "session", "8")?;
    let median = |id: &str| criterion_median(&format!("session/{id}")).map(|ns| ns / 1e6);
    let std_true = median("std_command_true")?;
    let quiet = median("session_true_audit_off")?;
    let audited = median("session_true_audit_on")?;
    let bwrap = median("bwrap_workspace_true").ok();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Embedding: `Session` spawn-and-wait (`cargo bench -p codex-policy --bench session`)\n"
    );
    let _ = writeln!(
        out,
        "Made by `cargo xtask bench` on {}: criterion medians, one run, workspace profile \
         (a `.git` to keep read-only), the session built once; each iteration starts `true` \
         and waits for it.\n",
        host_line()
    );
    let _ = writeln!(
        out,
        "| spawn and wait `true` | median (ms) | × `std::process::Command` |"
    );
    let _ = writeln!(out, "|---|---|---|");
    let mut rows = vec![
        ("`std::process::Command` (no sandbox)", std_true),
        ("`Session`, audit off", quiet),
        ("`Session`, audit on (3 events per command)", audited),
    ];
    if let Some(bwrap) = bwrap {
        rows.push(("bubblewrap, workspace-equivalent", bwrap));
    }
    for (name, ms) in &rows {
        let _ = writeln!(out, "| {name} | {ms:.3} | {:.2} |", ms / std_true);
    }
    let _ = writeln!(out, "\n| goal | measured | |\n|---|---|---|");
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let _ = writeln!(
        out,
        "| `Session` ≤ 2× `std::process::Command` | {:.2}× | {} |",
        audited / std_true,
        verdict(audited / std_true <= 2.0)
    );
    match bwrap {
        Some(bwrap) => {
            let _ = writeln!(
                out,
                "| `Session` ≤ 0.3× bubblewrap | {:.2}× | {} |",
                audited / bwrap,
                verdict(audited / bwrap <= 0.3)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "| `Session` ≤ 0.3× bubblewrap | not measured: bubblewrap missing | |"
            );
        }
    }
    Ok(out.trim_end().to_owned())
}

/// What the unix-socket broker adds to each `connect`: 200 TCP connects to a
/// loopback listener from bash, bare and under `workspace-net` (where every
/// `connect` goes through the broker), each against the same command's
/// `true` in one hyperfine run.
fn connect_section(bin: &Path, workspace: &str, codex_home: &Path) -> Result<String, String> {
    let target = crate::target_dir()?;
    const CONNECTS: u32 = 200;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    let script = format!(
        "bash -c 'for i in $(seq {CONNECTS}); do exec 3<>/dev/tcp/127.0.0.1/{port}; exec 3>&-; done'"
    );
    let sandboxed = |command: &str| {
        format!(
            "{} --profile workspace-net run --no-audit --cwd {workspace} -- {command}",
            bin.display()
        )
    };
    let runs = "30";
    let json = target.join("bench/connect.json");
    let measured = hyperfine(
        &[
            ("bash -c true (bare)", "bash -c true".into()),
            ("200 connects (bare)", script.clone()),
            (
                "workspace-net run -- bash -c true",
                sandboxed("bash -c true"),
            ),
            ("workspace-net run -- 200 connects", sandboxed(&script)),
        ],
        runs,
        &json,
        &[("CODEX_HOME", codex_home)],
    )?;
    let [bare_true, bare_loop, boxed_true, boxed_loop] = measured[..] else {
        return Err("hyperfine returned a different number of results".into());
    };
    let per_connect =
        |start: (f64, f64), looped: (f64, f64)| (looped.0 - start.0) * 1000.0 / f64::from(CONNECTS);
    let bare = per_connect(bare_true, bare_loop);
    let boxed = per_connect(boxed_true, boxed_loop);
    let mut out = String::new();
    let _ = writeln!(out, "## connect through the socket broker\n");
    let _ = writeln!(
        out,
        "Made by `cargo xtask bench` on {}: hyperfine -N ({runs} runs, one session); \
         {CONNECTS} TCP connects to a loopback listener from bash (`/dev/tcp`), minus the \
         same command's `bash -c true`.\n",
        host_line()
    );
    let _ = writeln!(out, "| command | mean ± σ (ms) |\n|---|---|");
    for (name, (mean, sd)) in [
        ("`bash -c true` (bare)", bare_true),
        ("200 connects (bare)", bare_loop),
        ("`workspace-net run -- bash -c true`", boxed_true),
        ("`workspace-net run --` 200 connects", boxed_loop),
    ] {
        let _ = writeln!(out, "| {name} | {mean:.2} ± {sd:.2} |");
    }
    let _ = writeln!(
        out,
        "\nPer connect: {bare:.1} µs bare, {boxed:.1} µs brokered — the broker adds \
         {:.1} µs (a seccomp notification, `pidfd_getfd`, a copy of the address, a thread, \
         the connect itself).",
        boxed - bare
    );
    Ok(out)
}

/// The audit log: criterion throughput with redaction, and what recording
/// adds to `run -- true` (the same command with `--no-audit`, one hyperfine run).
fn audit_section(
    bin: &Path,
    runs: &str,
    workspace: &str,
    codex_home: &Path,
) -> Result<String, String> {
    let target = crate::target_dir()?;
    criterion_bench("codex-audit", "audit", "8")?;
    let record = criterion_median("audit/record_1000_events")?;
    let redact = criterion_median("audit/redact_8_targets")? / 8.0;
    let per_second = 1_000.0 / (record / 1e9);
    let run_true = |extra: &str| {
        format!(
            "{} --profile workspace run --cwd {workspace}{extra} -- true",
            bin.display()
        )
    };
    let json = target.join("bench/audit.json");
    let e2e = hyperfine(
        &[
            ("true (bare)", "true".into()),
            ("run -- true --no-audit", run_true(" --no-audit")),
            ("run -- true (audit on)", run_true("")),
        ],
        runs,
        &json,
        &[("CODEX_HOME", codex_home)],
    )?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Audit log
"
    );
    let _ = writeln!(
        out,
        "Made by `cargo xtask bench` on {}: criterion medians (`cargo bench -p codex-audit --bench audit`: 1,000 events, half of the targets carrying secrets, URLs with credentials or home paths; redaction, JSON, one `write(2)` each to a real file, no fsync) and hyperfine -N ({runs} runs, one session) for `run`.\n",
        host_line()
    );
    let _ = writeln!(out, "| measure | result | goal |\n|---|---|---|");
    let _ = writeln!(
        out,
        "| events recorded per second, one thread, redaction on | {:.0} k/s | ≥ 200 k/s: {} |",
        per_second / 1_000.0,
        if per_second >= 200_000.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    let _ = writeln!(out, "| redaction of one target | {redact:.0} ns | |");
    let _ = writeln!(out, "\n| command | mean ± σ (ms) |\n|---|---|");
    let names = [
        "true (bare)",
        "`codex-policy --profile workspace run --no-audit -- true`",
        "`codex-policy --profile workspace run -- true` (audit on)",
    ];
    for (name, (mean, sd)) in names.iter().zip(&e2e) {
        let _ = writeln!(out, "| {name} | {mean:.2} ± {sd:.2} |");
    }
    let _ = writeln!(
        out,
        "\nAudit overhead on `run -- true`: {:+.2} ms (the two runs' σ: {:.2} and {:.2} ms; a difference inside them is noise).",
        e2e[2].0 - e2e[1].0,
        e2e[1].1,
        e2e[2].1
    );
    Ok(out.trim_end().to_owned())
}

/// Secrets: what hiding every default credential store adds to a start (a
/// home holding all of them against an empty one, one hyperfine run), and
/// the environment policy on 200 variables (criterion, against cloning them).
fn secrets_section(bin: &Path, runs: &str, workspace: &str) -> Result<String, String> {
    let target = crate::target_dir()?;
    let work = target.join("bench/secrets");
    let empty = work.join("home-empty");
    let stores = work.join("home-stores");
    for home in [&empty, &stores] {
        std::fs::create_dir_all(home.join(".codex")).map_err(|e| e.to_string())?;
    }
    // Every default store present, as a directory holding a file or as a
    // file, as tools keep them.
    const FILE_STORES: [&str; 15] = [
        ".config/git/credentials",
        ".docker/config.json",
        ".netrc",
        ".git-credentials",
        ".npmrc",
        ".pypirc",
        ".cargo/credentials.toml",
        ".cargo/credentials",
        ".codex/auth.json",
        ".pgpass",
        ".my.cnf",
        ".vault-token",
        ".terraform.d/credentials.tfrc.json",
        ".boto",
        ".s3cfg",
    ];
    for store in codex_policy_model::DEFAULT_HIDDEN_IN_HOME {
        let path = stores.join(store);
        let is_dir = !FILE_STORES.contains(store);
        let made = if is_dir {
            std::fs::create_dir_all(&path)
                .and_then(|()| std::fs::write(path.join("credentials"), "bench"))
        } else {
            path.parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(&path, "bench"))
        };
        made.map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let run_true = |home: &Path, profile: &str| {
        format!(
            "env HOME={} CODEX_HOME={}/.codex {} --profile {profile} run --no-audit --cwd {workspace} -- true",
            home.display(),
            home.display(),
            bin.display()
        )
    };
    let json = work.join("secrets.json");
    let measured = hyperfine(
        &[
            (
                "env true (bare)",
                format!("env HOME={} true", empty.display()),
            ),
            ("workspace, empty home", run_true(&empty, "workspace")),
            (
                "workspace, every store present",
                run_true(&stores, "workspace"),
            ),
            ("offline, every store present", run_true(&stores, "offline")),
        ],
        runs,
        &json,
        &[],
    )?;
    criterion_bench("codex-policy-model", "environment_policy", "5")?;
    let micros = |id: &str| criterion_median(&format!("environment/{id}")).map(|ns| ns / 1e3);
    let default = micros("apply_default_200_variables")?;
    let configured = micros("apply_configured_200_variables")?;
    let clone = micros("clone_200_variables_baseline")?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Secrets: hidden credential stores and the environment policy
"
    );
    let _ = writeln!(
        out,
        "Made by `cargo xtask bench` (or `cargo xtask bench secrets`) on {}: hyperfine -N ({runs} runs, one session; every command behind `env` so the baseline pays the same exec), `--no-audit`; a home with all {} default stores present (each hidden by its own mount at every start) against an empty one. Criterion medians for the environment policy (`cargo bench -p codex-policy-model --bench environment_policy`): 200 variables, a quarter named like or holding a credential.
",
        host_line(),
        codex_policy_model::DEFAULT_HIDDEN_IN_HOME.len()
    );
    let _ = writeln!(
        out,
        "| command | mean ± σ (ms) |
|---|---|"
    );
    let names = [
        "`env true` (bare)",
        "`codex-policy --profile workspace run -- true`, empty home",
        "`codex-policy --profile workspace run -- true`, every store present",
        "`codex-policy --profile offline run -- true`, every store present",
    ];
    for (name, (mean, sd)) in names.iter().zip(&measured) {
        let _ = writeln!(out, "| {name} | {mean:.2} ± {sd:.2} |");
    }
    let _ = writeln!(
        out,
        "
Hiding every store adds {:+.2} ms to a workspace start (the two runs' σ: {:.2} and {:.2} ms).
",
        measured[2].0 - measured[1].0,
        measured[1].1,
        measured[2].1
    );
    let _ = writeln!(
        out,
        "| environment policy, 200 variables | median |
|---|---|"
    );
    let _ = writeln!(out, "| cloning them (baseline) | {clone:.1} µs |");
    let _ = writeln!(
        out,
        "| default policy (names and values checked) | {default:.1} µs |"
    );
    let _ = writeln!(
        out,
        "| configured (`exclude`, `include_only`, `set`) | {configured:.1} µs |"
    );
    Ok(out.trim_end().to_owned())
}

/// Runs one criterion benchmark (2 s warm-up, `seconds` of measurement).
pub(crate) fn criterion_bench(package: &str, bench: &str, seconds: &str) -> Result<(), String> {
    run(Command::new(crate::cargo_path()).args([
        "bench",
        "--quiet",
        "-p",
        package,
        "--bench",
        bench,
        "--",
        "--warm-up-time",
        "2",
        "--measurement-time",
        seconds,
    ]))
}

/// Median of a criterion benchmark, in nanoseconds.
pub(crate) fn criterion_median(id: &str) -> Result<f64, String> {
    let target = crate::target_dir()?;
    let path = target.join(format!("criterion/{id}/new/estimates.json"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    value["median"]["point_estimate"]
        .as_f64()
        .ok_or_else(|| format!("{}: no median", path.display()))
}

/// The exec policy: criterion on the shared workload, and `check` end to end.
fn exec_policy_section(bin: &Path, runs: &str) -> Result<String, String> {
    let target = crate::target_dir()?;
    // Codex's engine, measured on this machine on the same workload.
    const CODEX_LOAD_MS: f64 = 10.8;
    const CODEX_CHECK_NS: f64 = 160.0;
    criterion_bench("codex-execpolicy", "execpolicy", "8")?;
    let load = criterion_median("execpolicy_load_1000_prefix_rules")? / 1e6;
    let default = criterion_median("execpolicy_default_policy_ready")? / 1e6;
    let decide = criterion_median("execpolicy/decide_plain_argv")? / 1_000.0;
    let explain = criterion_median("execpolicy/check_plain_argv_with_explanation")? / 1_000.0;
    let wrapped = criterion_median("execpolicy/decide_bash_lc_wrapped")? / 1_000.0;
    let json = target.join("bench/check.json");
    let check = format!("{} check -- git status", bin.display());
    let e2e = hyperfine(
        &[
            ("true (bare)", "true".into()),
            ("codex-policy check -- git status", check),
        ],
        runs,
        &json,
        &[],
    )?;
    let met = |value: f64, goal: f64| if value <= goal { "met" } else { "NOT met" };
    let mut out = String::new();
    let _ = writeln!(out, "## Exec policy\n");
    let _ = writeln!(
        out,
        "Made by `cargo xtask bench` on {}: criterion medians (`cargo bench -p codex-execpolicy --bench execpolicy`) on the shared workload — `shared/bench/execpolicy_workload.py`, run by the benchmark into the target directory: 1,000 prefix rules (200 programs × 5, a two-way alternative in the second token, a third token in three rules of five, decisions mixed) and 1,000 four-token command lines, 800 naming those programs — per command line averaged over the 1,000; and hyperfine -N ({runs} runs) for the command. Goals are ratios of Codex's engine, reference on this machine (the same workload).\n",
        host_line()
    );
    let _ = writeln!(
        out,
        "| measure | codex-policy | Codex's engine, reference on this machine | goal |\n|---|---|---|---|"
    );
    let _ = writeln!(
        out,
        "| load 1,000 rules | {load:.2} ms | {CODEX_LOAD_MS} ms | ≤ 0.5× ({:.1} ms): {} |",
        CODEX_LOAD_MS * 0.5,
        met(load, CODEX_LOAD_MS * 0.5)
    );
    let _ = writeln!(
        out,
        "| decide, plain argv (`Policy::decide`) | {decide:.0} ns | {CODEX_CHECK_NS:.0} ns | ≤ 0.5× ({:.0} ns): {} |",
        CODEX_CHECK_NS * 0.5,
        met(decide, CODEX_CHECK_NS * 0.5)
    );
    let _ = writeln!(
        out,
        "| decide with the full explanation (`Policy::check`) | {explain:.0} ns | {CODEX_CHECK_NS:.0} ns | ≤ 1.0× ({CODEX_CHECK_NS:.0} ns): {} |",
        met(explain, CODEX_CHECK_NS)
    );
    let _ = writeln!(
        out,
        "| default policy: obtain a ready `Policy` (`PolicyLoader::with_default_policy`) | {:.3} ms | | ≤ 0.3 ms: {} |",
        default,
        met(default, 0.3)
    );
    let _ = writeln!(
        out,
        "| decide a `bash -lc '…'` wrapped command (shell parse + split) | {:.2} µs | | reported |",
        wrapped / 1_000.0
    );
    let _ = writeln!(out, "\n| command | mean ± σ (ms) |\n|---|---|");
    let _ = writeln!(out, "| true (bare) | {:.2} ± {:.2} |", e2e[0].0, e2e[0].1);
    let _ = writeln!(
        out,
        "| `codex-policy check -- git status` (default policy) | {:.2} ± {:.2} |",
        e2e[1].0, e2e[1].1
    );
    Ok(out.trim_end().to_owned())
}

/// Mean and standard deviation in ms of each command of one hyperfine run.
fn hyperfine(
    commands: &[(&str, String)],
    runs: &str,
    json: &Path,
    env: &[(&str, &Path)],
) -> Result<Vec<(f64, f64)>, String> {
    let mut command = Command::new("hyperfine");
    command
        .args(["-N", "--warmup", "50", "--runs", runs, "--export-json"])
        .arg(json);
    for (key, value) in env {
        command.env(key, value);
    }
    for (name, line) in commands {
        command.args(["-n", name, line]);
    }
    run(&mut command)?;
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(json).map_err(|e| format!("{}: {e}", json.display()))?,
    )
    .map_err(|e| format!("hyperfine JSON: {e}"))?;
    Ok(results["results"]
        .as_array()
        .ok_or("hyperfine JSON has no results")?
        .iter()
        .map(|r| {
            let ms = |key: &str| r[key].as_f64().unwrap_or(f64::NAN) * 1000.0;
            (ms("mean"), ms("stddev"))
        })
        .collect())
}

/// The config.toml `validate` is measured with.
const BENCH_CONFIG: &str = r#"model = "o4"
approval_policy = "on-request"
notify = ["notify-send"]
hide_agent_reasoning = true

[tui]

[profiles.review]
model = "o3"
approval_policy = "untrusted"

[permissions.workspace.network.domains]
"**.internal.example" = "deny"

[projects."/srv/repo"]
trust_level = "untrusted"
"#;

/// `validate` of a realistic production pair, managed requirements and a
/// config.toml with Codex's keys and a permission profile (whose tables
/// are also checked for misspelt policy keys).
fn validate_section(bin: &Path, root: &Path, runs: &str) -> Result<String, String> {
    let target = crate::target_dir()?;
    let case = root.join("policy-model/tests/corpus/valid-production-with-requirements");
    let arg = |name: &str| case.join(name).display().to_string();
    // Codex's own keys and tables (left alone, each checked against the
    // policy keys for a likely typo) beside tightening-only policy keys: a
    // file in the workspace may only tighten.
    let config = target.join("bench/config.toml");
    std::fs::create_dir_all(target.join("bench")).map_err(|e| e.to_string())?;
    std::fs::write(&config, BENCH_CONFIG).map_err(|e| format!("{}: {e}", config.display()))?;
    let files = format!(
        "validate --runtime {} --policy {} --requirements {}",
        arg(".codexrc.json"),
        arg("harness.policy.json"),
        arg("requirements.toml")
    );
    let json = target.join("bench/validate.json");
    let results = hyperfine(
        &[
            ("true (bare)", "true".into()),
            (
                "codex-policy validate (production pair + requirements)",
                format!("{} {files}", bin.display()),
            ),
            (
                "codex-policy validate (production pair + requirements + config.toml)",
                format!("{} --config {} {files}", bin.display(), config.display()),
            ),
        ],
        runs,
        &json,
        &[],
    )?;
    let (bare, without_config, validate) = (results[0], results[1], results[2]);
    let above = validate.0 - bare.0;
    let mut out = String::new();
    let _ = writeln!(out, "## `codex-policy validate`\n");
    let _ = writeln!(
        out,
        "Made by `cargo xtask bench` (or `cargo xtask bench validate`; hyperfine -N, {runs} runs, one session) on {}: the production pair and managed requirements of `policy-model/tests/corpus/valid-production-with-requirements`, and a config.toml with Codex's own keys, a profile, a permission profile and a project (`BENCH_CONFIG` in `xtask/src/bench.rs`).\n",
        host_line()
    );
    let _ = writeln!(out, "| command | mean ± σ (ms) |\n|---|---|");
    let _ = writeln!(out, "| true (bare) | {:.2} ± {:.2} |", bare.0, bare.1);
    let _ = writeln!(
        out,
        "| codex-policy validate, without config.toml | {:.2} ± {:.2} |",
        without_config.0, without_config.1
    );
    let _ = writeln!(
        out,
        "| codex-policy validate | {:.2} ± {:.2} |",
        validate.0, validate.1
    );
    let _ = writeln!(
        out,
        "\nGoal: under 2 ms above bare `true`. Measured: {above:.2} ms above — {}.",
        if above < 2.0 { "met" } else { "NOT met" }
    );
    Ok(out.trim_end().to_owned())
}

/// The criterion domain-matching benchmark, read from criterion's estimates.
fn domain_section() -> Result<String, String> {
    criterion_bench("codex-policy-model", "domain_matching", "5")?;
    let estimate = |id: &str| criterion_median(id);
    // Each iteration handles 1,000 names.
    let per_second = |ns: f64| 1_000.0 / (ns / 1e9);
    let lookup = estimate("domain_matching/lookup_normalized_10k_patterns")?;
    let normalize = estimate("domain_matching/normalize_only")?;
    let both = estimate("domain_matching/normalize_and_lookup")?;
    let build = estimate("domain_matcher_build_10k_patterns")?;
    let mut out = String::new();
    let _ = writeln!(out, "## Domain matching (criterion)\n");
    let _ = writeln!(
        out,
        "Made by `cargo xtask bench` (`cargo bench -p codex-policy-model --bench domain_matching`, medians) on {}. 10,000 patterns (exact, `*.x`, `**.x` in equal parts); 1,000 names per iteration, three quarters of them hits.\n",
        host_line()
    );
    let _ = writeln!(out, "| operation | per name | names/s |\n|---|---|---|");
    for (name, ns) in [
        ("lookup, already normalized", lookup),
        ("normalize only (UTS 46, IP detection)", normalize),
        ("normalize + lookup", both),
    ] {
        let _ = writeln!(
            out,
            "| {name} | {:.0} ns | {:.1} M |",
            ns / 1_000.0,
            per_second(ns) / 1e6
        );
    }
    let _ = writeln!(
        out,
        "\nBuilding the matcher from 10,000 patterns: {:.2} ms.",
        build / 1e6
    );
    let _ = writeln!(
        out,
        "Goal: ≥ 10 M lookups/s for normalized names. Measured: {:.1} M/s — {}.",
        per_second(lookup) / 1e6,
        if per_second(lookup) >= 10e6 {
            "met"
        } else {
            "NOT met"
        }
    );
    Ok(out.trim_end().to_owned())
}

pub(crate) fn run(command: &mut Command) -> Result<(), String> {
    let status = command.status().map_err(|e| format!("{command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed: {status}"))
    }
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// hyperfine and bubblewrap are benchmark tools only: installed here, never
/// needed by the product or its tests.
fn ensure_tools() -> Result<(), String> {
    let missing: Vec<&str> = [("hyperfine", "hyperfine"), ("bwrap", "bubblewrap")]
        .into_iter()
        .filter(|(tool, _)| !have(tool))
        .map(|(_, package)| package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q"])
            .args(&missing)
            .status()
    };
    if !install().is_ok_and(|s| s.success()) {
        run(Command::new("apt-get").args(["update", "-q"]))?;
        if !install().is_ok_and(|s| s.success()) {
            return Err(format!(
                "could not install {} (apt-get, as root)",
                missing.join(" ")
            ));
        }
    }
    Ok(())
}

/// Largest peak RSS over 50 runs of `argv`, from `wait4` (the process and the
/// descendants it waited for).
fn peak_rss_kib(argv: &[String], codex_home: &Path) -> Option<i64> {
    let mut peak = 0;
    for _ in 0..50 {
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .env("CODEX_HOME", codex_home)
            .spawn()
            .ok()?;
        let mut status = 0;
        // SAFETY: rusage is plain old data, filled by wait4.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: waiting on our own child with valid pointers.
        let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
        if pid < 0 {
            return None;
        }
        peak = peak.max(usage.ru_maxrss);
    }
    Some(peak)
}

pub(crate) fn host_line() -> String {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("Linux {}, {cpu}, {cores} cores", kernel.trim())
}

fn render(cases: &[Case], means: &[(f64, f64, f64)], rss: &[Option<i64>], runs: &str) -> String {
    let bare = means[0].0;
    let version = means[2].0;
    let (ws, off, bw_ws, bw_off) = (means[3].0, means[4].0, means[5].0, means[6].0);
    let mut out = String::new();
    let _ = writeln!(out, "## Sandbox start-up (`codex-policy run -- true`)\n");
    let _ = writeln!(
        out,
        "Made by `cargo xtask bench` (hyperfine -N, 50 warm-up runs, {runs} runs each, one \
         session) on {}.\n",
        host_line()
    );
    let _ = writeln!(
        out,
        "| command | mean ± σ (ms) | median (ms) | × bare `true` | peak RSS (KiB) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for ((case, (mean, sd, median)), rss) in cases.iter().zip(means).zip(rss) {
        let _ = writeln!(
            out,
            "| {} | {mean:.2} ± {sd:.2} | {median:.2} | {:.2} | {} |",
            case.name,
            mean / bare,
            rss.map_or("n/a".into(), |r| r.to_string())
        );
    }
    let _ = writeln!(out, "\n| goal | measured | |\n|---|---|---|");
    let goals = [
        ("`--version` ≤ 1.5× bare `true`", version / bare, 1.5),
        ("workspace `run -- true` ≤ 3× bare `true`", ws / bare, 3.0),
        ("workspace ≤ 0.33× bubblewrap", ws / bw_ws, 0.33),
        ("offline ≤ 0.5× bubblewrap", off / bw_off, 0.5),
    ];
    for (goal, ratio, limit) in goals {
        let verdict = if ratio <= limit { "met" } else { "NOT met" };
        let _ = writeln!(out, "| {goal} | {ratio:.2}× | {verdict} |");
    }
    let floor = means[1].0;
    let _ = writeln!(
        out,
        "\nThe floor row runs codex-policy with no sandbox at all: two `exec`s \
         (codex-policy, then `true`), {:.2}× bare `true`. Above it the workspace sandbox \
         costs {:.2} ms and the offline one {:.2} ms.{}",
        floor / bare,
        ws - floor,
        off - floor,
        if floor / bare > 3.0 {
            " The floor alone exceeds 3× bare `true`: no wrapper that is itself a \
             program can meet that goal on this host."
        } else {
            ""
        }
    );
    let _ = write!(out, "See \"Reading the numbers\" below.");
    out
}

/// Replaces the section between `<!-- bench:NAME:start -->` and `…:end -->`,
/// or appends it.
fn write_section(path: &PathBuf, name: &str, body: &str) -> Result<(), String> {
    let (start, end) = (
        format!("<!-- bench:{name}:start -->"),
        format!("<!-- bench:{name}:end -->"),
    );
    let section = format!("{start}\n{body}\n{end}");
    let current = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmarks\n".into());
    let updated = match (current.find(&start), current.find(&end)) {
        (Some(s), Some(e)) if e > s => {
            format!("{}{section}{}", &current[..s], &current[e + end.len()..])
        }
        _ => format!("{}\n\n{section}\n", current.trim_end()),
    };
    std::fs::write(path, updated).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn a_download_answer_carries_the_body_it_announces() {
        let mut client = std::io::Cursor::new(b"GET /small HTTP/1.1\r\n\r\nNEXT".to_vec());
        let head = super::read_head(&mut client).unwrap();
        // Nothing after the head is consumed.
        assert_eq!(head, b"GET /small HTTP/1.1\r\n\r\n");
        let mut out = Vec::new();
        super::answer_download(&mut out, &head, 7).unwrap();
        assert!(out.ends_with(b"Content-Length: 2\r\nConnection: close\r\n\r\nxx"));

        let big = (1 << 20) + 5;
        let mut out = Vec::new();
        super::answer_download(&mut out, b"GET /big HTTP/1.1\r\n\r\n", big).unwrap();
        let end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(String::from_utf8_lossy(&out[..end]).contains(&format!("Content-Length: {big}")));
        assert_eq!((out.len() - end) as u64, big);
    }
}
