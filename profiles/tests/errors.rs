//! Each way resolution fails is a typed `ProfileError` variant whose text
//! names the source and the fix in the library's own terms.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use codex_policy_model::SandboxMode;
use codex_profiles::{ProfileError, ProfileResolver, SecurityProfile};

fn resolve(pairs: Vec<(&'static str, OsString)>) -> ProfileError {
    ProfileResolver::new()
        .environment(move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.clone())
        })
        .resolve()
        .unwrap_err()
}

const VALID: &str = "offline, net-read-only, workspace, workspace-net, trusted";

#[test]
fn an_unknown_profile_name_keeps_the_name() {
    let err = "Workspace".parse::<SecurityProfile>().unwrap_err();
    assert_eq!(err.name(), "Workspace");
    assert_eq!(
        err.to_string(),
        format!(
            "unknown security profile \"Workspace\"; did you mean `workspace`? valid \
             profiles: {VALID}"
        )
    );
    // Nothing close: the list alone.
    let err = "bogus".parse::<SecurityProfile>().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("unknown security profile \"bogus\"; valid profiles: {VALID}")
    );
}

#[test]
fn environment_errors_name_the_variable() {
    let err = resolve(vec![("CODEX_SECURITY_PROFILE", "Workspace".into())]);
    assert_eq!(
        err.to_string(),
        format!(
            "environment variable CODEX_SECURITY_PROFILE: unknown security profile \"Workspace\"; \
             did you mean `workspace`? valid profiles: {VALID}"
        )
    );
    let ProfileError::InvalidEnvironment { variable, source } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(
        (*variable, source.name()),
        ("CODEX_SECURITY_PROFILE", "Workspace")
    );
    assert!(std::error::Error::source(&err).is_some());

    let err = resolve(vec![("CODEX_SECURITY_PROFILE", OsString::new())]);
    assert!(
        matches!(
            err,
            ProfileError::UnusableEnvironment {
                variable: "CODEX_SECURITY_PROFILE",
                problem: "empty",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "environment variable CODEX_SECURITY_PROFILE is set but empty; unset it or set one of: {VALID}"
        )
    );

    let err = resolve(vec![(
        "CODEX_SECURITY_PROFILE",
        OsString::from_vec(b"work\xffspace".to_vec()),
    )]);
    assert_eq!(
        err.to_string(),
        format!(
            "environment variable CODEX_SECURITY_PROFILE is set but not valid UTF-8; unset it or set one of: {VALID}"
        )
    );

    let err = resolve(vec![("CODEX_HOME", OsString::new())]);
    assert_eq!(
        err.to_string(),
        "environment variable CODEX_HOME is set but empty; unset it or point it at Codex's home directory"
    );

    let err = resolve(vec![("CODEX_HOME", "rel/codex".into())]);
    assert!(
        matches!(&err, ProfileError::RelativeHome { variable: "CODEX_HOME", value } if value.as_os_str() == "rel/codex"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "environment variable CODEX_HOME is the relative path \"rel/codex\"; Codex's home would depend on the directory a command starts in; set it to an absolute path"
    );

    // HOME decides when CODEX_HOME is unset: set but empty is not unset.
    let err = resolve(vec![("HOME", OsString::new())]);
    assert!(
        matches!(
            err,
            ProfileError::UnusableEnvironment {
                variable: "HOME",
                problem: "empty",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.variable(), Some("HOME"));
    assert_eq!(
        err.to_string(),
        "environment variable HOME is set but empty; unset it or point it at your home directory \
         (or set CODEX_HOME)"
    );
    // When CODEX_HOME decides, HOME is not needed for Codex's home.
    let codex_home = tempfile::tempdir().unwrap();
    let resolved = ProfileResolver::new()
        .environment(|key| match key {
            "CODEX_HOME" => Some(codex_home.path().into()),
            "HOME" => Some(OsString::new()),
            _ => None,
        })
        .resolve()
        .unwrap();
    assert_eq!(resolved.profile, SecurityProfile::Offline);
}

/// Configuration files reject the combination before resolution sees it;
/// the variant is typed for the mode, and says it as `config.toml` does.
#[test]
fn a_mode_no_profile_has_is_typed() {
    let err = ProfileError::NoMatchingProfile {
        path: "/etc/codex/config.toml".into(),
        mode: SandboxMode::DangerFullAccess,
        network_access: false,
    };
    assert_eq!(
        err.to_string(),
        "/etc/codex/config.toml: sandbox mode danger-full-access with network_access = false matches no security profile"
    );
}

/// A library cannot know the flags of the program that embeds it: no error
/// tells the user to pass one.
#[test]
fn no_error_gives_command_line_advice() {
    let errors = [
        resolve(vec![("CODEX_SECURITY_PROFILE", "x".into())]),
        resolve(vec![("CODEX_SECURITY_PROFILE", OsString::new())]),
        resolve(vec![("CODEX_HOME", OsString::new())]),
        resolve(vec![("CODEX_HOME", "rel".into())]),
        resolve(vec![("HOME", "rel".into())]),
        resolve(vec![("HOME", OsString::new())]),
    ];
    for err in errors {
        assert!(!err.to_string().contains("--"), "{err}");
    }
}
