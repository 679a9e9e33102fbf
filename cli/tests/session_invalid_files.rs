//! A session over invalid configuration fails at build, naming the file,
//! and starts nothing. The cases are the runtime-file corpus `validate` is
//! tested with.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use codex_policy::{AuditDestination, ConfigurationError, Environment, Error, ExecRules, Session};

fn corpus() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policy-model/tests/corpus")
}

/// A session over one corpus case copied into a fresh project directory.
fn build_case(case: &Path) -> (tempfile::TempDir, Result<Session, Error>) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    let home = dir.path().join("home");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::create_dir_all(home.join(".codex")).unwrap();
    let mut files = codex_policy::RuntimeFiles::default();
    for entry in std::fs::read_dir(case).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let target = project.join(&name);
        std::fs::copy(entry.path(), &target).unwrap();
        match name.to_str().unwrap() {
            "config.toml" => files.config = Some(target),
            "requirements.toml" => files.requirements = Some(target),
            _ => {}
        }
    }
    let session = Session::builder()
        .profile("offline".parse().unwrap())
        .cwd(&project)
        .runtime_files(files)
        .environment(Environment::from_vars([
            ("HOME", home.into_os_string()),
            ("PATH", "/usr/bin:/bin".into()),
        ]))
        .audit(AuditDestination::File(dir.path().join("audit.jsonl")))
        .best_effort(true)
        .build();
    (dir, session)
}

#[test]
fn every_corpus_case_with_errors_fails_at_build_and_writes_nothing() {
    let mut checked = 0;
    for case in std::fs::read_dir(corpus()).unwrap() {
        let case = case.unwrap().path();
        let expected = std::fs::read_to_string(case.join("expected")).unwrap();
        let errors: Vec<&str> = expected
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some("error"))
            .collect();
        if errors.is_empty() {
            continue;
        }
        let (dir, result) = build_case(&case);
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        match result {
            Err(Error::Configuration(ConfigurationError::InvalidFiles { findings })) => {
                let codes: Vec<&str> = findings.iter().map(|f| f.code).collect();
                for line in &errors {
                    let code = line.split_whitespace().next().unwrap();
                    assert!(codes.contains(&code), "{name}: {code} not in {codes:?}");
                }
                let err = Error::Configuration(ConfigurationError::InvalidFiles { findings });
                assert_eq!(err.exit_status(), 125);
                // file:line:column in the message, as `validate` prints it.
                let location = errors[0].split_whitespace().nth(2).unwrap();
                assert!(err.to_string().contains(location), "{name}: {err}");
            }
            // config.toml is read by profile resolution first, with the same
            // located diagnostics.
            Err(err @ Error::Configuration(ConfigurationError::Profile(_))) => {
                let location = errors[0].split_whitespace().nth(2).unwrap();
                assert!(err.to_string().contains(location), "{name}: {err}");
                assert_eq!(err.exit_status(), 125);
            }
            other => panic!("{name}: expected invalid files, got {other:?}"),
        }
        assert!(
            !dir.path().join("audit.jsonl").exists(),
            "{name}: an event was written"
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} corpus cases with errors");
}

#[test]
fn bad_rules_and_bad_options_fail_at_build() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("bad.rules");
    std::fs::write(
        &rules,
        "prefix_rule(pattern = [\"x\"], decision = \"maybe\")\n",
    )
    .unwrap();
    let env = Environment::from_vars([("HOME", dir.path().as_os_str().to_owned())]);
    let err = Session::builder()
        .profile("workspace".parse().unwrap())
        .cwd(dir.path())
        .environment(env.clone())
        .audit(AuditDestination::Off)
        .rules(ExecRules::Files(vec![rules]))
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::Configuration(ConfigurationError::Rules(_))),
        "{err:?}"
    );
    assert!(err.to_string().contains("bad.rules:1:"), "{err}");

    let err = Session::builder()
        .profile("offline".parse().unwrap())
        .cwd(dir.path())
        .environment(env.clone())
        .writable_root(dir.path())
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Configuration(ConfigurationError::ExtraRootsNeedWrites { .. })
        ),
        "{err:?}"
    );

    let err = Session::builder()
        .cwd(dir.path())
        .environment(Environment::from_vars([
            ("HOME", dir.path().as_os_str().to_owned()),
            ("CODEX_SECURITY_PROFILE", "nonsense".into()),
        ]))
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::Configuration(ConfigurationError::Profile(_))),
        "{err:?}"
    );
    assert!(err.to_string().contains("CODEX_SECURITY_PROFILE"), "{err}");
}

#[test]
fn a_writable_root_that_does_not_exist_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let notices = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = notices.clone();
    let built = Session::builder()
        .profile("workspace".parse().unwrap())
        .cwd(dir.path())
        .environment(Environment::from_vars([(
            "HOME",
            dir.path().as_os_str().to_owned(),
        )]))
        .audit(AuditDestination::Off)
        .writable_root(dir.path().join("missing"))
        .best_effort(true)
        .on_notice(move |notice| seen.lock().unwrap().push(notice.to_string()))
        .build();
    assert!(built.is_ok(), "{built:?}");
    let notices = notices.lock().unwrap();
    assert!(
        notices
            .iter()
            .any(|n| n.contains("left out of the writable roots") && n.contains("missing")),
        "{notices:?}"
    );
}
