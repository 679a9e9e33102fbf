//! `.codex-profile` through the command line: it restricts, it is refused
//! when it asks for more (125 for `run`), a trusted directory may loosen,
//! and the sandbox keeps an existing one read-only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::codex_policy;

struct Setup {
    home: tempfile::TempDir,
    project: tempfile::TempDir,
}

impl Setup {
    fn new(config: &str) -> Self {
        // Outside /tmp, which workspace profiles may write: a config.toml
        // there could not mark anything trusted (CP0024).
        let home = tempfile::Builder::new()
            .prefix("codex-policy-profile-file-")
            .tempdir_in(common::escape::fixture_base().expect("a directory outside /tmp"))
            .unwrap();
        std::fs::create_dir(home.path().join(".codex")).unwrap();
        std::fs::write(home.path().join(".codex/config.toml"), config).unwrap();
        Self {
            home,
            project: tempfile::tempdir().unwrap(),
        }
    }

    fn file(&self, text: &str) {
        std::fs::write(self.project.path().join(".codex-profile"), text).unwrap();
    }

    fn cwd(&self) -> String {
        self.project.path().display().to_string()
    }

    fn run(&self, args: &[&str]) -> common::Run {
        codex_policy(self.home.path(), &[], args)
    }
}

#[test]
fn a_restricting_file_applies_to_run_and_is_shown() {
    let s = Setup::new("sandbox_mode = \"workspace-write\"\n");
    s.file("offline\n");
    let cwd = s.cwd();
    let run = s.run(&["run", "--cwd", &cwd, "--no-audit", "--", "touch", "x"]);
    assert_ne!(run.status, 0, "read-only: {}", run.stderr);
    assert!(!s.project.path().join("x").exists());
    let run = s.run(&["explain", "--cwd", &cwd]);
    println!("{}", run.stdout);
    assert!(
        run.stdout.contains("project file") && run.stdout.contains(".codex-profile"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_loosening_file_stops_run_with_125_and_its_location() {
    let s = Setup::new("");
    s.file("workspace-net\n");
    let cwd = s.cwd();
    let run = s.run(&["run", "--cwd", &cwd, "--no-audit", "--", "true"]);
    println!("{}", run.stderr);
    assert_eq!(run.status, 125);
    assert!(run.stderr.contains(".codex-profile:1:1"), "{}", run.stderr);
    assert!(run.stderr.contains("may only restrict"), "{}", run.stderr);
    let run = s.run(&["explain", "--cwd", &cwd]);
    assert_eq!(run.status, 1, "{}", run.stderr);
}

#[test]
fn a_trusted_directory_may_loosen() {
    let s = Setup::new("");
    let real = std::fs::canonicalize(s.project.path()).unwrap();
    std::fs::write(
        s.home.path().join(".codex/config.toml"),
        format!("[projects.{:?}]\ntrust_level = \"trusted\"\n", real),
    )
    .unwrap();
    s.file("workspace\n");
    let cwd = s.cwd();
    let run = s.run(&["run", "--cwd", &cwd, "--no-audit", "--", "touch", "x"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(s.project.path().join("x").exists());
}

#[test]
fn the_sandbox_keeps_the_file_read_only() {
    let s = Setup::new("sandbox_mode = \"workspace-write\"\n");
    s.file("workspace\n");
    let cwd = s.cwd();
    for script in [
        "echo trusted > .codex-profile",
        "mv .codex-profile gone",
        "rm -f .codex-profile",
        "ln -sf /etc/passwd .codex-profile",
    ] {
        let run = s.run(&["run", "--cwd", &cwd, "--no-audit", "--", "sh", "-c", script]);
        println!("{script}: {} {}", run.status, run.stderr);
        assert_ne!(run.status, 0, "{script}");
        assert_eq!(
            std::fs::read_to_string(s.project.path().join(".codex-profile")).unwrap(),
            "workspace\n",
            "{script}"
        );
    }
}

#[test]
fn a_trusted_file_the_run_could_rewrite_is_refused() {
    let s = Setup::new("");
    let real = std::fs::canonicalize(s.project.path()).unwrap();
    std::fs::write(
        s.home.path().join(".codex/config.toml"),
        format!("[projects.{real:?}]\ntrust_level = \"trusted\"\n"),
    )
    .unwrap();
    s.file("workspace\n");
    let sub = s.project.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let sub = sub.display().to_string();
    // From a subdirectory, with the project made writable by --writable-root.
    let run = s.run(&[
        "run",
        "--cwd",
        &sub,
        "--writable-root",
        &s.cwd(),
        "--no-audit",
        "--",
        "true",
    ]);
    println!("{}", run.stderr);
    assert_eq!(run.status, 125, "{}", run.stderr);
    assert!(run.stderr.contains("could rewrite it"), "{}", run.stderr);
}

#[test]
fn a_trusted_directorys_file_stays_read_only_for_a_run_from_its_parent() {
    let s = Setup::new("");
    let project = s.project.path().join("repo");
    std::fs::create_dir_all(project.join(".git")).unwrap();
    let real = std::fs::canonicalize(&project).unwrap();
    std::fs::write(
        s.home.path().join(".codex/config.toml"),
        format!("[projects.{real:?}]\ntrust_level = \"trusted\"\n"),
    )
    .unwrap();
    std::fs::write(project.join(".codex-profile"), "workspace\n").unwrap();
    let parent = s.cwd();
    let run = s.run(&[
        "--profile",
        "workspace",
        "run",
        "--cwd",
        &parent,
        "--no-audit",
        "--",
        "sh",
        "-c",
        "echo 'workspace-net never' > repo/.codex-profile",
    ]);
    assert_ne!(run.status, 0, "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(project.join(".codex-profile")).unwrap(),
        "workspace\n"
    );
}

#[test]
fn an_unreadable_file_is_an_error_for_an_unprivileged_user() {
    // Root reads a file of mode 000; the case needs an ordinary user: the
    // caller itself, or `nobody` when the tests run as root.
    let s = Setup::new("");
    s.file("offline\n");
    use std::os::unix::fs::PermissionsExt as _;
    let file = s.project.path().join(".codex-profile");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
    for dir in [
        s.project.path(),
        s.home.path(),
        &s.home.path().join(".codex"),
    ] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let cwd = s.cwd();
    let mut run = std::process::Command::new(common::codex_policy_bin());
    run.env("HOME", s.home.path())
        .args(["explain", "--cwd", &cwd]);
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let run = if root {
        let Some(as_nobody) = common::probe::as_nobody(&run) else {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED an_unreadable_file_is_an_error_for_an_unprivileged_user: running as \
                 root without setpriv to become nobody"
            );
            return;
        };
        as_nobody
    } else {
        run
    };
    let mut run = run;
    let out = run.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(".codex-profile: cannot read"), "{stderr}");
}
