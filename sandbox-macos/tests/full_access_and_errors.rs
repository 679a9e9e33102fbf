//! What the builder refuses, and `danger-full-access`, which has no profile.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::OsString;
use std::path::PathBuf;

use codex_policy_model::{SandboxPolicy, WritableRootsError};
use codex_sandbox_macos::{PathRole, SeatbeltError, SeatbeltNetwork, SeatbeltProfile, UnixSockets};
use common::{Fixture, workspace};

#[test]
fn full_access_has_no_profile() {
    let f = Fixture::new();
    let err = f
        .builder(&SandboxPolicy::DangerFullAccess, &f.root)
        .hidden_paths([f.root.join("x")])
        .build()
        .expect_err("no profile");
    assert!(matches!(err, SeatbeltError::FullAccess), "{err}");
    assert!(err.to_string().contains("no sandbox"));
    // Even with a relative cwd: the policy decides first.
    assert!(matches!(
        SeatbeltProfile::builder(&SandboxPolicy::DangerFullAccess, "rel".as_ref()).build(),
        Err(SeatbeltError::FullAccess)
    ));
}

type Attempt<'a> = Box<dyn Fn() -> Result<SeatbeltProfile, SeatbeltError> + 'a>;

#[test]
fn relative_paths_are_refused() {
    let f = Fixture::new();
    let cases: Vec<(PathRole, Attempt<'_>)> = vec![
        (
            PathRole::WorkingDirectory,
            Box::new(|| {
                SeatbeltProfile::builder(&SandboxPolicy::read_only(), "project".as_ref()).build()
            }),
        ),
        (
            PathRole::Hidden,
            Box::new(|| {
                f.builder(&SandboxPolicy::read_only(), &f.root)
                    .hidden_paths([PathBuf::from(".ssh")])
                    .build()
            }),
        ),
        (
            PathRole::Protected,
            Box::new(|| {
                f.builder(&SandboxPolicy::read_only(), &f.root)
                    .protected_paths([PathBuf::from("")])
                    .build()
            }),
        ),
        (
            PathRole::UnixSocket,
            Box::new(|| {
                f.builder(&SandboxPolicy::read_only(), &f.root)
                    .unix_sockets(UnixSockets::Allow(vec!["run/x.sock".into()]))
                    .build()
            }),
        ),
    ];
    for (expected, make) in cases {
        match make() {
            Err(SeatbeltError::RelativePath { role, .. }) => assert_eq!(role, expected),
            other => panic!("{expected}: {other:?}"),
        }
    }
}

#[cfg(unix)]
#[test]
fn nul_bytes_are_refused() {
    use std::os::unix::ffi::OsStringExt;
    let f = Fixture::new();
    let nul = PathBuf::from(OsString::from_vec(b"/a\0b".to_vec()));
    let err = f
        .builder(&SandboxPolicy::read_only(), &f.root)
        .hidden_paths([nul.clone()])
        .build()
        .expect_err("NUL");
    assert!(
        matches!(&err, SeatbeltError::NulByte { role: PathRole::Hidden, path } if *path == nul),
        "{err:?}"
    );
    let err = f
        .builder(&SandboxPolicy::read_only(), &f.root)
        .unix_sockets(UnixSockets::Allow(vec![nul]))
        .build()
        .expect_err("NUL");
    assert!(matches!(
        err,
        SeatbeltError::NulByte {
            role: PathRole::UnixSocket,
            ..
        }
    ));
}

#[test]
fn a_hidden_path_holding_a_root_is_refused() {
    let f = Fixture::new();
    let cwd = f.mkdir("home/project");
    for hidden in [f.root.join("home"), cwd.clone()] {
        let err = f
            .builder(&workspace(vec![], false), &cwd)
            .hidden_paths([hidden.clone()])
            .build()
            .expect_err("refused");
        assert!(
            matches!(&err, SeatbeltError::HiddenContainsRoot { hidden: h, root } if *h == hidden && *root == cwd),
            "{err:?}"
        );
    }
    // Read-only: no root, nothing to hold.
    f.builder(&SandboxPolicy::read_only(), &cwd)
        .hidden_paths([f.root.join("home")])
        .build()
        .expect("read-only has no root");
}

#[test]
fn the_network_is_narrowed_never_widened() {
    let f = Fixture::new();
    let off = workspace(vec![], false);
    let err = f
        .builder(&off, &f.root)
        .network(SeatbeltNetwork::Full)
        .build()
        .expect_err("wider");
    assert!(
        matches!(err, SeatbeltError::NetworkWiderThanPolicy { .. }),
        "{err}"
    );

    // net-read-only: a limited network only the proxy enforces.
    let limited = SandboxPolicy::ReadOnly {
        network_access: true,
    };
    for asked in [None, Some(SeatbeltNetwork::Full)] {
        let mut b = f.builder(&limited, &f.root);
        if let Some(n) = asked {
            b = b.network(n);
        }
        assert!(matches!(
            b.build(),
            Err(SeatbeltError::LimitedNetworkNeedsProxy)
        ));
    }
    for narrower in [
        SeatbeltNetwork::Off,
        SeatbeltNetwork::Proxy {
            http: 3128,
            socks: 1080,
        },
    ] {
        f.builder(&limited, &f.root)
            .network(narrower)
            .build()
            .expect("narrower");
        f.builder(&workspace(vec![], true), &f.root)
            .network(narrower)
            .build()
            .expect("narrower");
    }
    let err = f
        .builder(&off, &f.root)
        .network(SeatbeltNetwork::Proxy {
            http: 0,
            socks: 1080,
        })
        .build()
        .expect_err("port 0");
    assert!(matches!(err, SeatbeltError::ProxyPortZero));

    // Defaults follow the policy.
    let p = f.builder(&off, &f.root).build().expect("off");
    assert!(!p.text().contains("(allow network") && !p.text().contains("AF_INET"));
    let p = f
        .builder(&workspace(vec![], true), &f.root)
        .build()
        .expect("full");
    assert!(p.text().contains("(allow network*)"));
}

#[test]
fn a_missing_working_directory_is_the_models_error() {
    let f = Fixture::new();
    let err = f
        .builder(&workspace(vec![], false), &f.root.join("nope"))
        .build()
        .expect_err("missing");
    assert!(
        matches!(
            err,
            SeatbeltError::WritableRoots(WritableRootsError::Cwd { .. })
        ),
        "{err}"
    );
}
