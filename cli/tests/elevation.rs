//! `codex-policy elevate`: a grant bound to the project, used by `run` while
//! valid, shown, revoked, expired (with a controllable clock through the
//! library), refused when tampered with or forbidden; each step audited.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use codex_policy::profiles::{ElevationStore, SecurityProfile};
use common::codex_policy;
use common::pty::run_on_pty;

struct Setup {
    home: tempfile::TempDir,
    codex_home: tempfile::TempDir,
    project: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let project = tempfile::tempdir().unwrap();
        std::fs::create_dir(project.path().join(".git")).unwrap();
        std::fs::create_dir(project.path().join("src")).unwrap();
        Self {
            home: tempfile::tempdir().unwrap(),
            codex_home: tempfile::tempdir().unwrap(),
            project,
        }
    }

    fn root(&self) -> PathBuf {
        std::fs::canonicalize(self.project.path()).unwrap()
    }

    fn env(&self) -> [(&str, &str); 1] {
        [("CODEX_HOME", self.codex_home.path().to_str().unwrap())]
    }

    fn run(&self, args: &[&str]) -> common::Run {
        codex_policy(self.home.path(), &self.env(), args)
    }

    fn cwd(&self, sub: &str) -> String {
        self.project.path().join(sub).display().to_string()
    }

    fn audit(&self) -> String {
        self.codex_home
            .path()
            .join("audit.jsonl")
            .display()
            .to_string()
    }

    fn events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.codex_home.path().join("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|e: &serde_json::Value| e["operation"] == "elevation")
            .collect()
    }

    fn grant_file(&self) -> PathBuf {
        let dir = self.codex_home.path().join("elevations");
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "json"))
            .expect("a grant file")
    }

    fn profile_in(&self, sub: &str) -> serde_json::Value {
        let run = self.run(&["explain", "--json", "--cwd", &self.cwd(sub)]);
        assert_eq!(run.status, 0, "{}", run.stderr);
        run.json()["profile"].clone()
    }
}

#[test]
fn grant_use_status_and_revoke() {
    let s = Setup::new();
    let audit = s.audit();
    let run = s.run(&[
        "elevate",
        "--to",
        "workspace",
        "--for",
        "15m",
        "--reason",
        "build once",
        "--yes",
        "--cwd",
        &s.cwd("src"),
        "--audit-log",
        &audit,
    ]);
    println!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains(&format!("elevated {} to workspace", s.root().display()))
    );
    // The grant file is private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(s.grant_file())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Any directory of the project uses it, and says so.
    let json = s.profile_in("src");
    assert_eq!(json["profile"], "workspace");
    assert_eq!(json["source"]["kind"], "elevation");
    let run = s.run(&[
        "run",
        "--cwd",
        &s.cwd("src"),
        "--audit-log",
        &audit,
        "--",
        "touch",
        "made",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(s.project.path().join("src/made").exists());
    // An explicit --profile outranks it.
    let run = s.run(&[
        "--profile",
        "offline",
        "run",
        "--cwd",
        &s.cwd("src"),
        "--no-audit",
        "--",
        "touch",
        "not",
    ]);
    assert_ne!(run.status, 0);

    let run = s.run(&["elevate", "--status", "--cwd", &s.cwd("")]);
    assert!(
        run.stdout.contains("elevated to workspace until") && run.stdout.contains("build once"),
        "{}",
        run.stdout
    );
    let run = s.run(&["elevate", "--status", "--json", "--cwd", &s.cwd("")]);
    assert_eq!(run.json()["status"], "active");

    let run = s.run(&[
        "elevate",
        "--revoke",
        "--cwd",
        &s.cwd(""),
        "--audit-log",
        &audit,
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.contains("revoked"));
    assert_eq!(s.profile_in("src")["profile"], "offline");
    let run = s.run(&["elevate", "--status", "--cwd", &s.cwd("")]);
    assert!(run.stdout.contains("no elevation"), "{}", run.stdout);
    let run = s.run(&["elevate", "--revoke", "--cwd", &s.cwd("")]);
    assert!(run.stdout.contains("no elevation"));

    let reasons: Vec<String> = s
        .events()
        .iter()
        .map(|e| e["reason"].as_str().unwrap().to_owned())
        .collect();
    println!("{reasons:#?}");
    assert!(reasons[0].starts_with("granted: workspace for 15m"));
    assert!(reasons[1].starts_with("used: workspace"));
    assert!(reasons[2].starts_with("revoked: workspace"));
}

#[test]
fn another_project_does_not_use_the_grant() {
    let s = Setup::new();
    let other = tempfile::tempdir().unwrap();
    let run = s.run(&[
        "elevate",
        "--to",
        "workspace",
        "--for",
        "1m",
        "--reason",
        "r",
        "--yes",
        "--cwd",
        &s.cwd(""),
        "--no-audit",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let run = s.run(&[
        "explain",
        "--json",
        "--cwd",
        &other.path().display().to_string(),
    ]);
    assert_eq!(
        run.json()["profile"]["profile"],
        "offline",
        "{}",
        run.stdout
    );
}

#[test]
fn confirmation_is_asked_on_the_terminal() {
    let s = Setup::new();
    let env = s.env();
    let cwd = s.cwd("");
    let args = [
        "elevate",
        "--to",
        "trusted",
        "--for",
        "5m",
        "--reason",
        "r",
        "--cwd",
        &cwd,
        "--no-audit",
    ];
    // No terminal, no --yes: nothing granted.
    let run = s.run(&args);
    assert_eq!(run.status, 1);
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);
    assert!(!s.codex_home.path().join("elevations").exists());
    let run = run_on_pty(s.home.path(), &env, &args, &["n"]);
    println!("{}", run.screen);
    assert_eq!(run.status, 1);
    assert!(run.screen.contains("elevate") && run.screen.contains("anywhere"));
    let run = run_on_pty(s.home.path(), &env, &args, &["y"]);
    assert_eq!(run.status, 0, "{}", run.screen);
    assert_eq!(s.profile_in("")["profile"], "trusted");
}

#[test]
fn an_expired_grant_is_ignored_noted_removed_and_audited() {
    let s = Setup::new();
    let store = ElevationStore::open(s.codex_home.path()).unwrap();
    let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
    store
        .grant(
            &s.root(),
            SecurityProfile::Workspace,
            Duration::from_secs(900),
            "old",
            two_hours_ago,
        )
        .unwrap();
    let run = s.run(&[
        "run",
        "--cwd",
        &s.cwd(""),
        "--audit-log",
        &s.audit(),
        "--",
        "touch",
        "x",
    ]);
    println!("{}", run.stderr);
    assert_ne!(run.status, 0, "offline again: the write fails");
    assert!(
        run.stderr.contains("expired at") && run.stderr.contains("ignored"),
        "{}",
        run.stderr
    );
    let events = s.events();
    assert!(
        events[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("expired at"),
        "{events:?}"
    );
    assert_eq!(events[0]["decision"], "denied");
    let run = s.run(&["elevate", "--status", "--cwd", &s.cwd("")]);
    assert!(
        run.stdout.contains("no elevation"),
        "removed: {}",
        run.stdout
    );
}

#[test]
fn a_tampered_grant_is_refused() {
    let s = Setup::new();
    let run = s.run(&[
        "elevate",
        "--to",
        "workspace",
        "--for",
        "1m",
        "--reason",
        "r",
        "--yes",
        "--cwd",
        &s.cwd(""),
        "--no-audit",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let file = s.grant_file();
    let text = std::fs::read_to_string(&file).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["profile"] = "trusted".into();
    std::fs::write(&file, serde_json::to_string(&json).unwrap()).unwrap();
    let run = s.run(&["run", "--cwd", &s.cwd(""), "--no-audit", "--", "true"]);
    println!("{}", run.stderr);
    assert_eq!(run.status, 125);
    assert!(run.stderr.contains("elevation:"), "{}", run.stderr);
    // Group-readable: refused too.
    std::fs::write(&file, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let run = s.run(&["run", "--cwd", &s.cwd(""), "--no-audit", "--", "true"]);
    assert_eq!(run.status, 125, "{}", run.stderr);
}

#[test]
fn managed_requirements_can_forbid_elevation() {
    let s = Setup::new();
    let req_dir = tempfile::tempdir().unwrap();
    let requirements = req_dir.path().join("requirements.toml");
    let req = requirements.display().to_string();
    // A grant made before the requirement.
    let run = s.run(&[
        "elevate",
        "--to",
        "workspace",
        "--for",
        "5m",
        "--reason",
        "r",
        "--yes",
        "--cwd",
        &s.cwd(""),
        "--no-audit",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    std::fs::write(&requirements, "allow_elevation = false\n").unwrap();
    let run = s.run(&[
        "elevate",
        "--to",
        "workspace",
        "--for",
        "5m",
        "--reason",
        "r",
        "--yes",
        "--cwd",
        &s.cwd(""),
        "--requirements",
        &req,
        "--no-audit",
    ]);
    println!("{}", run.stderr);
    assert_eq!(run.status, 1);
    assert!(
        run.stderr.contains("requirements.toml:1:19") && run.stderr.contains("allow_elevation"),
        "{}",
        run.stderr
    );
    let run = s.run(&[
        "run",
        "--cwd",
        &s.cwd(""),
        "--requirements",
        &req,
        "--audit-log",
        &s.audit(),
        "--",
        "touch",
        "y",
    ]);
    println!("{}", run.stderr);
    assert_ne!(run.status, 0, "the grant is not used: offline");
    assert!(run.stderr.contains("is not used"), "{}", run.stderr);
    assert_eq!(s.events()[0]["decision"], "denied");
    // A mode outside allowed_sandbox_modes cannot be granted.
    std::fs::write(
        &requirements,
        "allowed_sandbox_modes = [\"read-only\", \"workspace-write\"]\n",
    )
    .unwrap();
    let run = s.run(&[
        "elevate",
        "--to",
        "trusted",
        "--for",
        "5m",
        "--reason",
        "r",
        "--yes",
        "--cwd",
        &s.cwd(""),
        "--requirements",
        &req,
        "--no-audit",
    ]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("allowed_sandbox_modes"),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_elevate_flags() {
    let s = Setup::new();
    let cwd = s.cwd("");
    for (args, status, expect) in [
        (&["elevate"][..], 2, "required"),
        (&["elevate", "--to", "trusted"], 2, "--for"),
        (
            &[
                "elevate", "--to", "trusted", "--for", "0m", "--reason", "r", "--yes",
            ],
            2,
            "at least one second",
        ),
        (
            &[
                "elevate", "--to", "trusted", "--for", "9h", "--reason", "r", "--yes",
            ],
            2,
            "8h",
        ),
        (
            &[
                "elevate", "--to", "trusted", "--for", "15", "--reason", "r", "--yes",
            ],
            2,
            "15",
        ),
        (
            &[
                "elevate", "--to", "root", "--for", "1m", "--reason", "r", "--yes",
            ],
            2,
            "unknown security profile",
        ),
        (
            &[
                "elevate", "--to", "trusted", "--for", "1m", "--reason", "", "--yes",
            ],
            1,
            "reason",
        ),
        (
            &[
                "elevate",
                "--to",
                "trusted",
                "--for",
                "1m",
                "--reason",
                "a\u{1b}[2Kb",
                "--yes",
            ],
            1,
            "reason",
        ),
        (
            &["elevate", "--status", "--revoke"],
            2,
            "cannot be used with",
        ),
    ] {
        let mut all = args.to_vec();
        all.extend(["--cwd", &cwd, "--no-audit"]);
        let run = s.run(&all);
        println!("{args:?}: {}", run.stderr);
        assert_eq!(run.status, status, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.to_lowercase().contains(&expect.to_lowercase()),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert!(
        !Path::new(&s.codex_home.path().join("elevations"))
            .join("x")
            .exists()
    );
}
