//! Named profiles: `[profiles.<name>]` of config.toml and the built-in
//! templates, their `extends` chains, approval policies and errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use codex_policy_model::{ApprovalPolicy, SandboxPolicy};
use codex_profiles::{
    ProfileChoice, ProfileError, ProfileLink, ProfileResolver, ProfileSource, SecurityProfile,
    TEMPLATES,
};
use common::{codex_home, resolve_in};

fn named(name: &str) -> ProfileResolver {
    ProfileResolver::new().choice(Some(ProfileChoice::Named(name.into())), "--profile")
}

#[test]
fn a_config_profile_sets_mode_network_and_approval() {
    let home = codex_home(
        "[profiles.dev]\nsandbox_mode = \"workspace-write\"\napproval_policy = \"untrusted\"\n\
         [profiles.dev.sandbox_workspace_write]\nnetwork_access = true\nexclude_slash_tmp = true\n",
    );
    let project = tempfile::tempdir().unwrap();
    let resolved = resolve_in(home.path(), project.path(), named("dev")).unwrap();
    assert_eq!(resolved.profile, SecurityProfile::WorkspaceNet);
    assert_eq!(resolved.approval.policy, ApprovalPolicy::Untrusted);
    assert_eq!(
        resolved.approval.key.as_deref(),
        Some("profiles.dev.approval_policy")
    );
    assert!(matches!(
        resolved.sandbox_policy,
        SandboxPolicy::WorkspaceWrite {
            exclude_slash_tmp: true,
            network_access: true,
            ..
        }
    ));
    assert_eq!(
        resolved.source,
        ProfileSource::CommandLine {
            flag: "--profile dev".into()
        }
    );
}

#[test]
fn extends_inherits_what_a_profile_leaves_out() {
    let home = codex_home(
        "[profiles.base]\nsandbox_mode = \"workspace-write\"\napproval_policy = \"on-failure\"\n\
         [profiles.child]\nextends = \"base\"\napproval_policy = \"untrusted\"\n\
         [profiles.grandchild]\nextends = \"child\"\n",
    );
    let project = tempfile::tempdir().unwrap();
    let resolved = resolve_in(home.path(), project.path(), named("grandchild")).unwrap();
    assert_eq!(resolved.profile, SecurityProfile::Workspace);
    assert_eq!(resolved.approval.policy, ApprovalPolicy::Untrusted);
    let chain: Vec<String> = resolved
        .named
        .as_ref()
        .unwrap()
        .chain
        .iter()
        .map(ToString::to_string)
        .collect();
    println!("{chain:#?}");
    assert_eq!(chain.len(), 3);
    assert!(chain[0].starts_with("[profiles.grandchild]"));
    assert!(chain[2].starts_with("[profiles.base]"));
    assert_eq!(
        resolved.named.unwrap().profile_key,
        "profiles.base.sandbox_mode"
    );
}

#[test]
fn extends_a_security_profile() {
    let home = codex_home("[profiles.net]\nextends = \"net-read-only\"\n");
    let project = tempfile::tempdir().unwrap();
    let resolved = resolve_in(home.path(), project.path(), named("net")).unwrap();
    assert_eq!(resolved.profile, SecurityProfile::NetReadOnly);
    assert_eq!(
        resolved.named.as_ref().unwrap().profile_key,
        "profiles.net.extends = \"net-read-only\""
    );
    assert_eq!(
        resolved.named.unwrap().chain.last(),
        Some(&ProfileLink::Security {
            profile: SecurityProfile::NetReadOnly
        })
    );
}

#[test]
fn templates_resolve_without_configuration() {
    let project = tempfile::tempdir().unwrap();
    let home = codex_home("");
    for (name, profile, approval) in [
        (
            "review",
            SecurityProfile::Offline,
            ApprovalPolicy::Untrusted,
        ),
        (
            "research",
            SecurityProfile::NetReadOnly,
            ApprovalPolicy::OnRequest,
        ),
        ("ci", SecurityProfile::Workspace, ApprovalPolicy::Never),
    ] {
        let resolved = resolve_in(home.path(), project.path(), named(name)).unwrap();
        println!("{name}: {} {}", resolved.profile, resolved.approval.policy);
        assert_eq!(
            (resolved.profile, resolved.approval.policy),
            (profile, approval)
        );
        // Provenance names the template, as its approval key does: there is
        // no `[profiles.review]` table anywhere to look for.
        assert_eq!(
            resolved.named.unwrap().profile_key,
            format!("template {name}.extends = \"{profile}\"")
        );
    }
    assert_eq!(TEMPLATES.len(), 3);
}

#[test]
fn a_config_table_replaces_a_template_of_the_same_name() {
    let home = codex_home("[profiles.ci]\nextends = \"offline\"\n");
    let project = tempfile::tempdir().unwrap();
    let resolved = resolve_in(home.path(), project.path(), named("ci")).unwrap();
    assert_eq!(resolved.profile, SecurityProfile::Offline);
    assert_eq!(resolved.approval.policy, ApprovalPolicy::OnRequest);
}

#[test]
fn the_profile_key_of_config_toml_chooses_a_named_profile() {
    let home = codex_home(
        "profile = \"quiet\"\nsandbox_mode = \"workspace-write\"\n\
         [profiles.quiet]\napproval_policy = \"never\"\nsandbox_mode = \"read-only\"\n",
    );
    let project = tempfile::tempdir().unwrap();
    let resolved = resolve_in(home.path(), project.path(), ProfileResolver::new()).unwrap();
    // The profile's keys replace the top-level ones.
    assert_eq!(resolved.profile, SecurityProfile::Offline);
    assert_eq!(resolved.approval.policy, ApprovalPolicy::Never);
    let ProfileSource::ConfigFile { keys, .. } = &resolved.source else {
        panic!("{:?}", resolved.source);
    };
    assert_eq!(keys, &["profile", "profiles.quiet.sandbox_mode"]);
}

#[test]
fn a_named_profile_without_a_mode_falls_back_to_the_top_level_choice() {
    let home = codex_home(
        "profile = \"asking\"\nsandbox_mode = \"workspace-write\"\n\
         [profiles.asking]\napproval_policy = \"untrusted\"\n",
    );
    let project = tempfile::tempdir().unwrap();
    let resolved = resolve_in(home.path(), project.path(), ProfileResolver::new()).unwrap();
    assert_eq!(resolved.profile, SecurityProfile::Workspace);
    assert_eq!(resolved.approval.policy, ApprovalPolicy::Untrusted);
}

#[test]
fn approval_precedence_flag_then_profile_then_mode_table_then_top_level() {
    let home = codex_home(
        "approval_policy = \"never\"\nsandbox_mode = \"workspace-write\"\n\
         [sandbox_workspace_write]\nask_for_approval = \"untrusted\"\n",
    );
    let project = tempfile::tempdir().unwrap();
    let resolved = resolve_in(home.path(), project.path(), ProfileResolver::new()).unwrap();
    assert_eq!(resolved.approval.policy, ApprovalPolicy::Untrusted);
    // A read-only profile: the workspace table does not apply.
    let resolved = resolve_in(
        home.path(),
        project.path(),
        ProfileResolver::new().command_line(Some(SecurityProfile::Offline)),
    )
    .unwrap();
    assert_eq!(resolved.approval.policy, ApprovalPolicy::Never);
    let resolved = resolve_in(
        home.path(),
        project.path(),
        ProfileResolver::new().approval(Some(ApprovalPolicy::OnFailure), "-a"),
    )
    .unwrap();
    assert_eq!(resolved.approval.policy, ApprovalPolicy::OnFailure);
    assert_eq!(
        resolved.approval.source,
        ProfileSource::CommandLine { flag: "-a".into() }
    );
}

#[test]
fn default_approval_is_on_request() {
    let home = codex_home("");
    let project = tempfile::tempdir().unwrap();
    let resolved = resolve_in(home.path(), project.path(), ProfileResolver::new()).unwrap();
    assert_eq!(resolved.approval.policy, ApprovalPolicy::OnRequest);
    assert_eq!(resolved.approval.source, ProfileSource::Default);
}

#[test]
fn unknown_names_list_what_exists() {
    let home = codex_home("[profiles.mine]\nextends = \"workspace\"\n");
    let project = tempfile::tempdir().unwrap();
    let err = resolve_in(home.path(), project.path(), named("nope")).unwrap_err();
    let text = err.to_string();
    println!("{text}");
    assert!(matches!(err, ProfileError::UnknownName { .. }));
    for name in ["offline", "review", "research", "ci", "mine"] {
        assert!(text.contains(name), "{text}");
    }
}

#[test]
fn unknown_extends_is_located() {
    let home = codex_home("[profiles.a]\nextends = \"missing\"\n");
    let project = tempfile::tempdir().unwrap();
    let text = resolve_in(home.path(), project.path(), named("a"))
        .unwrap_err()
        .to_string();
    println!("{text}");
    assert!(text.contains("config.toml:2:11"), "{text}");
    assert!(text.contains("profiles.a.extends"), "{text}");
}

#[test]
fn cycles_in_extends_are_errors() {
    for config in [
        "[profiles.a]\nextends = \"a\"\n",
        "[profiles.a]\nextends = \"b\"\n[profiles.b]\nextends = \"a\"\n",
    ] {
        let home = codex_home(config);
        let project = tempfile::tempdir().unwrap();
        let text = resolve_in(home.path(), project.path(), named("a"))
            .unwrap_err()
            .to_string();
        println!("{text}");
        assert!(text.contains("cycle"), "{text}");
        assert!(text.contains("config.toml:"), "{text}");
    }
}

#[test]
fn too_long_chains_are_errors() {
    let mut config = String::new();
    for i in 0..20 {
        config.push_str(&format!("[profiles.p{i}]\nextends = \"p{}\"\n", i + 1));
    }
    config.push_str("[profiles.p20]\nextends = \"workspace\"\n");
    let home = codex_home(&config);
    let project = tempfile::tempdir().unwrap();
    let text = resolve_in(home.path(), project.path(), named("p0"))
        .unwrap_err()
        .to_string();
    assert!(text.contains("more than 16 deep"), "{text}");
}

#[test]
fn the_profile_key_naming_nothing_is_located() {
    let home = codex_home("profile = \"ghost\"\n");
    let project = tempfile::tempdir().unwrap();
    let text = resolve_in(home.path(), project.path(), ProfileResolver::new())
        .unwrap_err()
        .to_string();
    println!("{text}");
    assert!(
        text.contains("config.toml:1:11") && text.contains("`profile`"),
        "{text}"
    );
}

#[test]
fn bad_values_in_a_profile_are_located() {
    for (config, key) in [
        (
            "[profiles.a]\napproval_policy = \"sometimes\"\n",
            "profiles.a.approval_policy",
        ),
        (
            "[profiles.a]\nsandbox_mode = 3\n",
            "profiles.a.sandbox_mode",
        ),
        ("[profiles.a]\nextends = [\"x\"]\n", "profiles.a.extends"),
        (
            "[profiles.a.sandbox_workspace_write]\nnetwork = true\n",
            "profiles.a.sandbox_workspace_write",
        ),
        ("approval_policy = \"always\"\n", "approval_policy"),
    ] {
        let home = codex_home(config);
        let project = tempfile::tempdir().unwrap();
        let text = resolve_in(home.path(), project.path(), named("a"))
            .unwrap_err()
            .to_string();
        println!("{text}");
        assert!(
            text.contains(key) && text.contains("config.toml:"),
            "{config}: {text}"
        );
    }
}

#[test]
fn profile_choice_parses_names() {
    assert_eq!(
        "workspace".parse::<ProfileChoice>().unwrap(),
        ProfileChoice::Security(SecurityProfile::Workspace)
    );
    assert_eq!(
        "my-ci".parse::<ProfileChoice>().unwrap(),
        ProfileChoice::Named("my-ci".into())
    );
    for bad in ["", "a b", "../x", "x\n", &"a".repeat(65)] {
        assert!(bad.parse::<ProfileChoice>().is_err(), "{bad:?}");
    }
}

#[test]
fn a_name_close_to_a_known_one_gets_a_did_you_mean() {
    let home = codex_home("[profiles.nightly]\nextends = \"ci\"\n[profiles.devel]\n");
    let project = tempfile::tempdir().unwrap();
    let hint = |name: &str| {
        let err = resolve_in(home.path(), project.path(), named(name)).unwrap_err();
        assert!(matches!(err, ProfileError::UnknownName { .. }), "{err}");
        let text = err.to_string();
        println!("{text}");
        // The list stays, after the hint.
        assert!(text.contains("profiles: offline, "), "{text}");
        text.split_once("did you mean `")
            .map(|(_, rest)| rest.split_once('`').unwrap().0.to_owned())
    };
    // A security profile, a template, a table of config.toml.
    assert_eq!(hint("worksapce").as_deref(), Some("workspace"));
    assert_eq!(hint("Offline").as_deref(), Some("offline"));
    assert_eq!(hint("reveiw").as_deref(), Some("review"));
    assert_eq!(hint("nightyl").as_deref(), Some("nightly"));
    assert_eq!(hint("devl").as_deref(), Some("devel"));
    // Only when close: at most min(3, len / 4 + 1) edits.
    assert_eq!(hint("dev"), None); // 2 edits from `devel`, 1 allowed
    assert_eq!(hint("nope"), None);
    assert_eq!(hint("workspace-ntwrk"), None); // 4 edits, never more than 3
    assert_eq!(hint("wrkspce-nt").as_deref(), Some("workspace-net")); // 3 edits

    // config.toml's `profile = "…"`, located, with the hint as its help.
    let home = codex_home("profile = \"worksapce\"\n");
    let err = resolve_in(home.path(), project.path(), ProfileResolver::new()).unwrap_err();
    let text = err.to_string();
    println!("{text}");
    assert!(text.contains("config.toml:1:11"), "{text}");
    assert!(text.contains("did you mean `workspace`?"), "{text}");

    // An `extends` naming nothing.
    let home = codex_home("[profiles.a]\nextends = \"worksapce\"\n");
    let text = resolve_in(home.path(), project.path(), named("a"))
        .unwrap_err()
        .to_string();
    println!("{text}");
    assert!(text.contains("did you mean `workspace`?"), "{text}");

    // A `.codex-profile`.
    let home = codex_home("");
    std::fs::write(project.path().join(".codex-profile"), "oflfine\n").unwrap();
    let text = resolve_in(home.path(), project.path(), ProfileResolver::new())
        .unwrap_err()
        .to_string();
    println!("{text}");
    assert!(text.contains("did you mean `offline`?"), "{text}");
    std::fs::remove_file(project.path().join(".codex-profile")).unwrap();

    // CODEX_SECURITY_PROFILE, which takes security profiles only.
    let env = common::env(&[
        ("HOME", home.path()),
        ("CODEX_SECURITY_PROFILE", std::path::Path::new("worksapce")),
    ]);
    let text = ProfileResolver::new()
        .environment(env)
        .resolve()
        .unwrap_err()
        .to_string();
    println!("{text}");
    assert!(text.contains("did you mean `workspace`?"), "{text}");
}
