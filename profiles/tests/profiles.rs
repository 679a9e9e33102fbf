//! Every profile against every capability method and its sandbox policy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_policy_model::SandboxPolicy;
use codex_profiles::{FileWrites, SecurityProfile};

#[test]
fn capability_table_matches_the_profiles() {
    // (profile, network, write, full write, sandbox policy)
    let table = [
        (
            SecurityProfile::Offline,
            false,
            false,
            false,
            SandboxPolicy::read_only(),
        ),
        (
            SecurityProfile::NetReadOnly,
            true,
            false,
            false,
            SandboxPolicy::ReadOnly {
                network_access: true,
            },
        ),
        (
            SecurityProfile::Workspace,
            false,
            true,
            false,
            SandboxPolicy::workspace_write(false),
        ),
        (
            SecurityProfile::WorkspaceNet,
            true,
            true,
            false,
            SandboxPolicy::workspace_write(true),
        ),
        (
            SecurityProfile::Trusted,
            true,
            true,
            true,
            SandboxPolicy::DangerFullAccess,
        ),
    ];
    assert_eq!(table.len(), SecurityProfile::ALL.len());
    for (profile, network, write, full, policy) in table {
        assert_eq!(profile.allows_network(), network, "{profile} network");
        assert_eq!(profile.allows_write(), write, "{profile} write");
        assert_eq!(profile.allows_full_write(), full, "{profile} full write");
        assert_eq!(profile.to_sandbox_policy(), policy, "{profile} policy");
        // The policy agrees with the profile's own answers.
        assert_eq!(policy.has_network_access(), network, "{profile}");
        assert_eq!(policy.allows_any_write(), write, "{profile}");
        assert_eq!(policy.has_full_disk_write_access(), full, "{profile}");
        // The capability summary agrees too.
        let caps = profile.capabilities();
        assert_eq!(
            (caps.network, caps.write, caps.full_write),
            (network, write, full)
        );
        // And the mapping back from mode + network is the inverse.
        assert_eq!(
            SecurityProfile::from_mode(policy.mode(), network),
            Some(profile)
        );
    }
}

#[test]
fn default_is_offline() {
    assert_eq!(SecurityProfile::default(), SecurityProfile::Offline);
    assert_eq!(
        SecurityProfile::Offline.capabilities().file_writes,
        FileWrites::None
    );
}

#[test]
fn names_round_trip_in_kebab_case() {
    let names = [
        "offline",
        "net-read-only",
        "workspace",
        "workspace-net",
        "trusted",
    ];
    for (profile, name) in SecurityProfile::ALL.into_iter().zip(names) {
        assert_eq!(profile.to_string(), name);
        assert_eq!(name.parse::<SecurityProfile>().unwrap(), profile);
        assert_eq!(
            serde_json::to_string(&profile).unwrap(),
            format!("\"{name}\"")
        );
        assert_eq!(
            serde_json::from_str::<SecurityProfile>(&format!("\"{name}\"")).unwrap(),
            profile
        );
    }
}

#[test]
fn unknown_names_are_refused_with_the_valid_list() {
    for bad in [
        "",
        "bogus",
        "Offline",
        "OFFLINE",
        " offline",
        "offline ",
        "workspace_net",
        "read-only",
        "danger-full-access",
        "trusted\n",
        "wörkspace",
        "workspace-net-",
    ] {
        let err = bad.parse::<SecurityProfile>().unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&format!("{bad:?}")), "{text}");
        for valid in [
            "offline",
            "net-read-only",
            "workspace",
            "workspace-net",
            "trusted",
        ] {
            assert!(text.contains(valid), "{text} lacks {valid}");
        }
    }
}

#[test]
fn danger_full_access_without_network_has_no_profile() {
    assert_eq!(
        SecurityProfile::from_mode(codex_policy_model::SandboxMode::DangerFullAccess, false),
        None
    );
}
