//! Every profile the builder makes, over the combinations of policy,
//! network, sockets, hidden and protected paths, is read by the test's own
//! s-expression reader: balanced, strings well formed, only rules at the top,
//! parameters read and passed one for one, and no parameter's value in the text.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use codex_policy_model::SandboxPolicy;
use codex_sandbox_macos::{SeatbeltNetwork, UnixSockets};
use common::{Fixture, Sexp, check_profile, parse, workspace};

#[test]
fn every_combination_parses() {
    let f = Fixture::new();
    let cwd = f.mkdir("project");
    f.mkdir("project/.git");
    f.mkdir("other");
    let policies = [
        SandboxPolicy::read_only(),
        workspace(vec![], false),
        workspace(vec![f.root.join("other")], true),
        SandboxPolicy::workspace_write(false),
    ];
    let sockets = [
        UnixSockets::None,
        UnixSockets::Allow(vec![f.root.join("s.sock")]),
        UnixSockets::AllowAll,
    ];
    let mut count = 0;
    for policy in &policies {
        let networks: &[Option<SeatbeltNetwork>] = if policy.has_network_access() {
            &[
                None,
                Some(SeatbeltNetwork::Off),
                Some(SeatbeltNetwork::Full),
                Some(SeatbeltNetwork::Proxy {
                    http: 1,
                    socks: 65535,
                }),
            ]
        } else {
            &[
                None,
                Some(SeatbeltNetwork::Proxy {
                    http: 8080,
                    socks: 8080,
                }),
            ]
        };
        for network in networks {
            for socket in &sockets {
                for hidden in [vec![], vec![f.root.join("h1"), cwd.join("in/h2")]] {
                    for protected in [vec![], vec![cwd.join("log/audit.jsonl")]] {
                        let mut b = f
                            .builder(policy, &cwd)
                            .unix_sockets(socket.clone())
                            .hidden_paths(hidden.clone())
                            .protected_paths(protected.clone());
                        if let Some(n) = network {
                            b = b.network(*n);
                        }
                        let profile = b.build().expect("profile");
                        check_profile(&profile);
                        count += 1;
                    }
                }
            }
        }
    }
    assert!(count > 50, "{count}");
}

#[test]
fn the_reader_refuses_what_it_must() {
    assert!(parse("(allow file-read*").is_err());
    assert!(parse("(allow file-read*))").is_err());
    assert!(parse("(allow (literal \"/a))").is_err());
    assert!(parse("(allow (literal \"/a\nb\"))").is_err());
    assert!(parse("(allow #| x |#)").is_err());
    assert!(parse("(allow a'b)").is_err());
    assert_eq!(
        parse("(a \"x\\\"y\") ; (\n").expect("parses"),
        vec![Sexp::List(vec![
            Sexp::Atom("a".into()),
            Sexp::Str("x\"y".into())
        ])]
    );
}
