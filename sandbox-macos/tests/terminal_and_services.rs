//! What a command may do with terminals and with the system services that
//! would act for it: every terminal of the machine closed but the one it
//! was given (by parameter), no new pseudo-terminals, and no trustd behind
//! a filtered network (it fetches certificates itself, outside the proxy).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use codex_sandbox_macos::SeatbeltNetwork;
use common::{Fixture, check_profile, param, workspace};

/// Every terminal, /dev/tty, serial line (`cu.*`) and old-style pty.
const TTY_DENY: &str =
    r#"(deny file-read* file-write* file-ioctl (regex #"^/dev/(tty|cu\.|pty)"))"#;
const OWN_TTY_ALLOW: &str = r#"(allow file-read-data file-read-metadata file-write-data file-ioctl (literal (param "TERMINAL")))"#;

#[test]
fn only_the_terminal_the_command_was_given_opens() {
    let f = Fixture::new();
    let terminal = PathBuf::from("/dev/ttys004");
    let profile = f
        .builder(&workspace(vec![], false), &f.root)
        .terminal(Some(terminal.clone()))
        .build()
        .expect("profile");
    check_profile(&profile);
    let text = profile.text();
    assert_eq!(
        param(&profile, "TERMINAL"),
        Some(&terminal.into_os_string())
    );
    // The denials come after `(allow file-read*)`, the one allow after them.
    let read_all = text.find("(allow file-read*)").unwrap();
    let deny = text.find(TTY_DENY).expect("ttys denied");
    let allow = text.find(OWN_TTY_ALLOW).expect("own terminal allowed");
    assert!(read_all < deny && deny < allow, "{text}");
    assert!(
        !text.contains("/dev/ttys004"),
        "the path is a parameter only"
    );
    for gone in ["(allow pseudo-tty)", "/dev/ptmx"] {
        assert!(!text.contains(gone), "{gone}:\n{text}");
    }
}

#[test]
fn without_a_terminal_none_opens() {
    let f = Fixture::new();
    let profile = f
        .builder(&workspace(vec![], false), &f.root)
        .build()
        .expect("profile");
    let text = profile.text();
    assert!(text.contains(TTY_DENY), "{text}");
    assert!(!text.contains("(param \"TERMINAL\")"), "{text}");
    assert!(param(&profile, "TERMINAL").is_none());
}

#[test]
fn a_filtered_network_does_not_reach_trustd() {
    let f = Fixture::new();
    let proxied = f
        .builder(&workspace(vec![], false), &f.root)
        .network(SeatbeltNetwork::Proxy {
            http: 3128,
            socks: 1080,
        })
        .build()
        .expect("profile");
    assert!(
        !proxied
            .text()
            .contains("(global-name \"com.apple.trustd.agent\")"),
        "{}",
        proxied.text()
    );
    // A full network has no proxy to bypass: trust evaluation may fetch.
    let full = f
        .builder(&workspace(vec![], true), &f.root)
        .build()
        .expect("profile");
    assert!(
        full.text()
            .contains("(global-name \"com.apple.trustd.agent\")")
    );
}
