//! Profile precedence: --profile > CODEX_SECURITY_PROFILE > config.toml > offline,
//! with every present source validated.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use codex_policy_model::SandboxPolicy;
use codex_profiles::{ProfileError, ProfileResolver, ProfileSource, SecurityProfile};

/// A fake environment; never the process's, so tests cannot leak into each other.
fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
    let map: HashMap<String, OsString> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
        .collect();
    move |key| map.get(key).cloned()
}

fn codex_home(config: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    if let Some(text) = config {
        std::fs::write(dir.path().join("config.toml"), text).unwrap();
    }
    dir
}

fn home_str(dir: &Path) -> &str {
    dir.to_str().unwrap()
}

#[test]
fn default_is_offline_with_empty_codex_home() {
    let home = codex_home(None);
    let resolved = ProfileResolver::new()
        .environment(env(&[("CODEX_HOME", home_str(home.path()))]))
        .resolve()
        .unwrap();
    assert_eq!(resolved.profile, SecurityProfile::Offline);
    assert_eq!(resolved.source, ProfileSource::Default);
    assert_eq!(resolved.config_file, None);
    assert!(resolved.overridden.is_empty());
}

#[test]
fn environment_beats_config_and_command_line_beats_both() {
    let home = codex_home(Some("[sandbox]\nmode = \"read-only\"\n"));
    let vars = [
        ("CODEX_HOME", home_str(home.path())),
        ("CODEX_SECURITY_PROFILE", "workspace-net"),
    ];
    let resolved = ProfileResolver::new()
        .environment(env(&vars))
        .resolve()
        .unwrap();
    assert_eq!(resolved.profile, SecurityProfile::WorkspaceNet);
    assert_eq!(
        resolved.source,
        ProfileSource::Environment {
            variable: "CODEX_SECURITY_PROFILE".into()
        }
    );
    assert_eq!(resolved.overridden.len(), 1);
    assert_eq!(resolved.overridden[0].profile, SecurityProfile::Offline);

    let resolved = ProfileResolver::new()
        .command_line(Some(SecurityProfile::Trusted))
        .environment(env(&vars))
        .resolve()
        .unwrap();
    assert_eq!(resolved.profile, SecurityProfile::Trusted);
    assert_eq!(
        resolved.source,
        ProfileSource::CommandLine {
            flag: "--profile".into()
        }
    );
    assert_eq!(resolved.overridden.len(), 2);
}

#[test]
fn config_file_chooses_when_nothing_else_does() {
    let home = codex_home(Some(
        "[sandbox]\nmode = \"workspace-write\"\nnetwork_access = true\n",
    ));
    let resolved = ProfileResolver::new()
        .environment(env(&[("CODEX_HOME", home_str(home.path()))]))
        .resolve()
        .unwrap();
    assert_eq!(resolved.profile, SecurityProfile::WorkspaceNet);
    assert_eq!(
        resolved.source,
        ProfileSource::ConfigFile {
            path: home.path().join("config.toml"),
            keys: vec!["sandbox.mode".into(), "sandbox.network_access".into()],
        }
    );
}

#[test]
fn every_config_combination_maps_to_its_profile() {
    let cases = [
        ("sandbox_mode = \"read-only\"", SecurityProfile::Offline),
        (
            "sandbox_mode = \"read-only\"\n[sandbox_read_only]\nnetwork_access = true",
            SecurityProfile::NetReadOnly,
        ),
        (
            "sandbox_mode = \"workspace-write\"",
            SecurityProfile::Workspace,
        ),
        (
            "sandbox_mode = \"workspace-write\"\n[sandbox_workspace_write]\nnetwork_access = true",
            SecurityProfile::WorkspaceNet,
        ),
        (
            "sandbox_mode = \"danger-full-access\"",
            SecurityProfile::Trusted,
        ),
        (
            "[sandbox]\nmode = \"read-only\"\nnetwork_access = true",
            SecurityProfile::NetReadOnly,
        ),
    ];
    for (text, expected) in cases {
        let home = codex_home(Some(text));
        let resolved = ProfileResolver::new()
            .environment(env(&[("CODEX_HOME", home_str(home.path()))]))
            .resolve()
            .unwrap();
        assert_eq!(resolved.profile, expected, "{text}");
    }
}

#[test]
fn default_location_is_home_dot_codex() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".codex")).unwrap();
    std::fs::write(
        home.path().join(".codex/config.toml"),
        "sandbox_mode = \"workspace-write\"\n",
    )
    .unwrap();
    let resolved = ProfileResolver::new()
        .environment(env(&[("HOME", home_str(home.path()))]))
        .resolve()
        .unwrap();
    assert_eq!(resolved.profile, SecurityProfile::Workspace);
    assert_eq!(
        resolved.config_file,
        Some(home.path().join(".codex/config.toml"))
    );
}

#[test]
fn explicit_config_replaces_the_default_and_must_exist() {
    let home = codex_home(Some("sandbox_mode = \"workspace-write\""));
    let other = codex_home(Some(
        "sandbox_mode = \"read-only\"\n[sandbox_read_only]\nnetwork_access = true",
    ));
    let resolved = ProfileResolver::new()
        .environment(env(&[("CODEX_HOME", home_str(home.path()))]))
        .config_file(Some(other.path().join("config.toml")))
        .resolve()
        .unwrap();
    assert_eq!(resolved.profile, SecurityProfile::NetReadOnly);

    let err = ProfileResolver::new()
        .config_file(Some(PathBuf::from("/nonexistent/codex-policy/config.toml")))
        .resolve()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("/nonexistent/codex-policy/config.toml"),
        "{err}"
    );
}

#[test]
fn invalid_environment_value_is_an_error_naming_the_variable() {
    for (value, needle) in [
        ("bogus", "unknown security profile \"bogus\""),
        ("", "is set but empty"),
        ("Workspace", "unknown security profile"),
    ] {
        let err = ProfileResolver::new()
            .environment(env(&[("CODEX_SECURITY_PROFILE", value)]))
            .resolve()
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("CODEX_SECURITY_PROFILE"), "{text}");
        assert!(text.contains(needle), "{text}");
        assert!(
            text.contains("net-read-only"),
            "{text} lacks the valid names"
        );
    }
}

#[test]
fn non_utf8_environment_value_is_an_error() {
    use std::os::unix::ffi::OsStringExt;
    let err = ProfileResolver::new()
        .environment(|k| (k == "CODEX_SECURITY_PROFILE").then(|| OsString::from_vec(vec![0xff])))
        .resolve()
        .unwrap_err();
    assert!(matches!(err, ProfileError::UnusableEnvironment { .. }));
    assert!(err.to_string().contains("not valid UTF-8"));
}

#[test]
fn invalid_lower_sources_are_errors_even_when_a_higher_one_decides() {
    // A broken environment value is not skipped because --profile is given.
    assert!(
        ProfileResolver::new()
            .command_line(Some(SecurityProfile::Offline))
            .environment(env(&[("CODEX_SECURITY_PROFILE", "bogus")]))
            .resolve()
            .is_err()
    );
    // Nor is a broken config file.
    let home = codex_home(Some("[sandbox]\nmode = \"yolo\"\n"));
    let err = ProfileResolver::new()
        .command_line(Some(SecurityProfile::Offline))
        .environment(env(&[("CODEX_HOME", home_str(home.path()))]))
        .resolve()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("config.toml:2:8: key `sandbox.mode`"),
        "{text}"
    );
}

#[test]
fn empty_codex_home_is_an_error() {
    let err = ProfileResolver::new()
        .environment(env(&[("CODEX_HOME", "")]))
        .resolve()
        .unwrap_err();
    assert!(
        err.to_string().contains("CODEX_HOME is set but empty"),
        "{err}"
    );
}

#[test]
fn relative_codex_home_or_home_is_an_error() {
    for (vars, variable) in [
        (&[("CODEX_HOME", "rel/codex")][..], "CODEX_HOME"),
        (&[("CODEX_HOME", ".")][..], "CODEX_HOME"),
        (&[("HOME", "relative-home")][..], "HOME"),
        // CODEX_HOME decides; a relative one is refused even with a good HOME.
        (
            &[("CODEX_HOME", "x"), ("HOME", "/home/me")][..],
            "CODEX_HOME",
        ),
    ] {
        let err = ProfileResolver::new()
            .command_line(Some(SecurityProfile::Offline))
            .environment(env(vars))
            .resolve()
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "environment variable {variable} is the relative path"
            )),
            "{text}"
        );
        assert!(text.contains("absolute path"), "{text}");
        let err = codex_profiles::codex_home(env(vars)).unwrap_err();
        assert!(matches!(err, ProfileError::RelativeHome { .. }), "{err}");
    }
    // An absolute CODEX_HOME wins, so a relative HOME does not matter then.
    let home = codex_home(None);
    let found = codex_profiles::codex_home(env(&[
        ("CODEX_HOME", home_str(home.path())),
        ("HOME", "relative"),
    ]))
    .unwrap();
    assert_eq!(found.as_deref(), Some(home.path()));
    // An --config file needs no home at all.
    assert!(
        ProfileResolver::new()
            .environment(env(&[("HOME", "relative")]))
            .config_file(Some(home.path().join("missing.toml")))
            .config_location()
            .is_ok()
    );
}

#[test]
fn config_workspace_settings_apply_to_a_workspace_profile_from_any_source() {
    let home = codex_home(Some(
        "[sandbox_workspace_write]\nwritable_roots = [\"/srv/cache\"]\nexclude_slash_tmp = true\n",
    ));
    let resolved = ProfileResolver::new()
        .command_line(Some(SecurityProfile::Workspace))
        .environment(env(&[("CODEX_HOME", home_str(home.path()))]))
        .resolve()
        .unwrap();
    assert_eq!(
        resolved.sandbox_policy,
        SandboxPolicy::WorkspaceWrite {
            writable_roots: vec![PathBuf::from("/srv/cache")],
            network_access: false,
            exclude_tmpdir_env_var: false,
            exclude_slash_tmp: true,
        }
    );
    // A config without a mode chooses nothing.
    assert_eq!(resolved.overridden, vec![]);
}

#[test]
fn unreadable_config_location_is_an_error_not_a_skip() {
    // A CODEX_HOME that is a file makes `config.toml` under it impossible to stat.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let result = ProfileResolver::new()
        .environment(env(&[("CODEX_HOME", file.to_str().unwrap())]))
        .resolve();
    // ENOTDIR from try_exists is reported, never read as "no config".
    let err = result.unwrap_err();
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}
