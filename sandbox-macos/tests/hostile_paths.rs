//! Paths that would break a profile if they were ever spliced into it:
//! quotes, backslashes, parentheses, `;`, newlines, spaces, `#|`, bytes that
//! are not UTF-8, 4096-byte names. The text never holds them and still
//! parses; the parameters carry them byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

mod common;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use codex_policy_model::SandboxPolicy;
use codex_sandbox_macos::{SeatbeltNetwork, UnixSockets};
use common::{Fixture, check_profile, workspace};
use proptest::prelude::*;

const NASTY: &[&str] = &[
    "\"",
    "\\",
    "(",
    ")",
    ";",
    "\n",
    " ",
    "#|",
    "|#",
    "\")) (allow default) ;",
    "$(x)",
    "'",
    "\t",
    "#\"",
    "\r",
];

fn component() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::sample::select(NASTY).prop_map(|s| s.as_bytes().to_vec()),
        // Any bytes but NUL and '/': not necessarily UTF-8.
        prop::collection::vec(1u8..=255, 1..12)
            .prop_map(|v| v.into_iter().filter(|b| *b != b'/').collect::<Vec<u8>>()),
    ]
}

fn hostile_path() -> impl Strategy<Value = PathBuf> {
    prop::collection::vec(component(), 1..5).prop_map(|parts| {
        // A prefix no constant of the profile contains, so that "the value
        // is not in the text" tests the splicing, not a coincidence.
        let mut bytes = b"/codex-hostile-".to_vec();
        for part in parts {
            bytes.extend(part);
            bytes.push(b'/');
        }
        bytes.extend(b"end");
        PathBuf::from(OsString::from_vec(bytes))
    })
}

fn long_path() -> PathBuf {
    let mut bytes = b"/codex-hostile-long/".to_vec();
    while bytes.len() < 4096 {
        bytes.extend(b"\"(;#|\xff\n");
    }
    bytes.truncate(4096);
    PathBuf::from(OsString::from_vec(bytes))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn hostile_paths_stay_parameters(
        hidden in prop::collection::vec(hostile_path(), 0..4),
        protected in prop::collection::vec(hostile_path(), 0..4),
        sockets in prop::collection::vec(hostile_path(), 0..3),
    ) {
        let f = Fixture::new();
        let profile = f
            .builder(&workspace(vec![], false), &f.root)
            .network(SeatbeltNetwork::Proxy { http: 3128, socks: 1080 })
            .hidden_paths(hidden.iter().cloned().chain([long_path()]))
            .protected_paths(protected.clone())
            .unix_sockets(UnixSockets::Allow(sockets.clone()))
            .build()
            .expect("profile");
        check_profile(&profile);
        for path in hidden.iter().chain(&protected).chain(&sockets).chain([&long_path()]) {
            prop_assert!(
                profile.parameters().iter().any(|(_, v)| v == path.as_os_str()),
                "{path:?} not passed exactly"
            );
        }
        // And in the argument vector, as one `NAME=VALUE` argument each.
        let argv = profile.sandbox_exec_argv(&["true".into()]);
        for (name, value) in profile.parameters() {
            let mut def = OsString::from(name);
            def.push("=");
            def.push(value);
            prop_assert!(argv.contains(&def));
        }
    }
}

/// A working directory whose own name is hostile: the roots come from the
/// model, canonical, and still travel as parameters only.
#[test]
fn hostile_working_directories() {
    for name in [
        b"q\"uote".to_vec(),
        b"back\\slash".to_vec(),
        b"pa(re)n".to_vec(),
        b"semi;colon".to_vec(),
        b"new\nline".to_vec(),
        b"sp ace".to_vec(),
        b"#|block".to_vec(),
        b"bad\xff\xfeutf8".to_vec(),
    ] {
        let f = Fixture::new();
        let cwd = f.root.join(OsString::from_vec(name));
        std::fs::create_dir(&cwd).expect("mkdir");
        std::fs::create_dir(cwd.join(".git")).expect("mkdir .git");
        for policy in [SandboxPolicy::read_only(), workspace(vec![], true)] {
            let profile = f.builder(&policy, &cwd).build().expect("profile");
            check_profile(&profile);
            if policy.allows_any_write() {
                assert_eq!(
                    common::param(&profile, "WRITABLE_ROOT_0"),
                    Some(&cwd.clone().into_os_string())
                );
            }
        }
    }
}
