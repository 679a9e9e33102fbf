//! `LinuxSandbox::hide_paths`: credential stores planted in a temporary
//! directory are empty and read-only for real commands in the sandbox —
//! directly, through symlinks, `/proc/self/root`, `..`, another mount of
//! the same directory — and cannot be carried out of a writable root; the
//! plan refuses what cannot work and says what is not enforced.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use codex_policy_model::{Protection, ProtectionStatus, SandboxPolicy};
use codex_sandbox_linux::{
    Compatibility, HostCapabilities, LinuxSandbox, LinuxSandboxError, PreparedSandbox,
};

const SECRET: &str = "SECRET-7f3a";

fn usable_host() -> Option<String> {
    let host = HostCapabilities::probe(true);
    if host.landlock_abi.unwrap_or(0) < 3 || host.namespaces != Some(true) || !host.seccomp {
        return Some(format!(
            "needs Landlock ABI >= 3, seccomp and user namespaces: {host:?}"
        ));
    }
    None
}

fn skip(test: &str, reason: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
}

/// A workspace, and a directory `secrets` outside every writable root of
/// the workspace-write policy (/tmp included) holding `dir/file` and
/// `token`, both with [`SECRET`] in them.
struct Fixture {
    _base: tempfile::TempDir,
    base: PathBuf,
    workspace: PathBuf,
    secrets: PathBuf,
}

impl Fixture {
    fn new() -> Option<Self> {
        let policy = SandboxPolicy::workspace_write(false);
        [env!("CARGO_TARGET_TMPDIR"), "/var/tmp"]
            .into_iter()
            .find_map(|dir| {
                let temp = tempfile::tempdir_in(dir).ok()?;
                let base = temp.path().canonicalize().ok()?;
                let workspace = base.join("ws");
                let secrets = base.join("secrets");
                std::fs::create_dir_all(&workspace).ok()?;
                std::fs::create_dir_all(secrets.join("dir")).ok()?;
                std::fs::write(secrets.join("dir/file"), SECRET).ok()?;
                std::fs::write(secrets.join("token"), SECRET).ok()?;
                let roots = policy.writable_roots(&workspace, None).ok()?;
                (!roots.allows_write_to(&secrets.join("x"))).then_some(Self {
                    _base: temp,
                    base,
                    workspace,
                    secrets,
                })
            })
    }

    fn prepare(&self, hidden: &[PathBuf]) -> PreparedSandbox {
        prepare_with(
            LinuxSandbox::new(),
            &SandboxPolicy::workspace_write(false),
            &self.workspace,
            hidden,
        )
    }
}

fn prepare_with(
    sandbox: LinuxSandbox,
    policy: &SandboxPolicy,
    cwd: &Path,
    hidden: &[PathBuf],
) -> PreparedSandbox {
    let sandbox = sandbox.hide_paths(hidden.iter().cloned());
    let plan = sandbox.plan(policy, cwd, None).unwrap();
    sandbox.prepare(plan).unwrap()
}

/// `bash -c script` in `prepared`: its output (and the start's report
/// lines, for messages).
fn run(prepared: &PreparedSandbox, script: &str) -> (Output, Vec<String>) {
    let mut command = Command::new("bash");
    command
        .args(["-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = prepared.spawn(&mut command).unwrap();
    (
        started.child.wait_with_output().unwrap(),
        started.report.rules,
    )
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `script`, which prints one `NAME=VALUE` line per check, and asserts
/// the secret never appears and every check has its expected value.
fn expect(prepared: &PreparedSandbox, script: &str, expected: &[(&str, &str)]) {
    let (output, rules) = run(prepared, script);
    let all = text(&output);
    assert!(
        !all.contains(SECRET),
        "the secret leaked:\n{all}\nrules: {rules:#?}"
    );
    assert!(output.status.success(), "{all}\nrules: {rules:#?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    for (name, value) in expected {
        let line = format!("{name}={value}");
        assert!(
            stdout.lines().any(|l| l == line),
            "expected {line}:\n{all}\nrules: {rules:#?}"
        );
    }
}

fn hidden_rule(path: &Path) -> String {
    format!("mount: hidden (empty, read-only) {}", path.display())
}

#[test]
fn a_hidden_directory_lists_empty_and_its_file_is_unreadable() {
    if let Some(reason) = usable_host() {
        return skip("a_hidden_directory_lists_empty", &reason);
    }
    let Some(fx) = Fixture::new() else {
        return skip("a_hidden_directory_lists_empty", "no fixture directory");
    };
    let dir = fx.secrets.join("dir");
    let prepared = fx.prepare(std::slice::from_ref(&dir));
    assert!(
        matches!(
            prepared.report().status(Protection::HiddenPaths),
            Some(ProtectionStatus::Enforced { .. })
        ),
        "{}",
        prepared.report()
    );
    assert!(
        prepared.report().rules.contains(&hidden_rule(&dir)),
        "{:#?}",
        prepared.report().rules
    );
    let d = dir.display();
    let s = fx.secrets.display();
    let script = format!(
        "echo list=$(ls -A {d} | wc -l)\n\
         cat {d}/file 2>/dev/null; echo cat=$?\n\
         cat /proc/self/root{d}/file 2>/dev/null; echo proc_root=$?\n\
         cat {d}/../dir/file 2>/dev/null; echo dotdot=$?\n\
         cd {d}/.. && cat dir/file 2>/dev/null; echo relative=$?\n\
         cd {d} && cat ./file 2>/dev/null; echo inside=$?\n\
         cat {s}/./dir/../dir/file 2>/dev/null; echo dots=$?\n\
         touch {d}/new 2>/dev/null; echo touch=$?\n\
         echo mode=$(stat -c %a {d})\n\
         grep -rl {SECRET} {s}/dir 2>/dev/null; echo grep=$?\n"
    );
    expect(
        &prepared,
        &script,
        &[
            ("list", "0"),
            ("cat", "1"),
            ("proc_root", "1"),
            ("dotdot", "1"),
            ("relative", "1"),
            ("inside", "1"),
            ("dots", "1"),
            ("touch", "1"),
            ("mode", "555"),
            ("grep", "1"),
        ],
    );
    // The host's files are untouched.
    assert_eq!(std::fs::read_to_string(dir.join("file")).unwrap(), SECRET);
}

#[test]
fn a_hidden_file_reads_empty_and_cannot_be_written() {
    if let Some(reason) = usable_host() {
        return skip("a_hidden_file_reads_empty", &reason);
    }
    let Some(fx) = Fixture::new() else {
        return skip("a_hidden_file_reads_empty", "no fixture directory");
    };
    // One outside the roots, one inside (writable but for the hiding).
    let token = fx.secrets.join("token");
    let env = fx.workspace.join(".env");
    std::fs::write(&env, SECRET).unwrap();
    let prepared = fx.prepare(&[token.clone(), env.clone()]);
    let script = format!(
        "echo token=$(cat {t} | wc -c)\n\
         echo size=$(stat -c %s {t})\n\
         echo env=$(cat .env | wc -c)\n\
         echo x >> .env 2>/dev/null; echo append=$?\n\
         echo x > {t} 2>/dev/null; echo write=$?\n\
         rm -f .env 2>/dev/null; echo rm=$?\n\
         mv .env moved 2>/dev/null; echo mv=$?\n\
         echo kind=$(stat -c %F .env)\n",
        t = token.display()
    );
    expect(
        &prepared,
        &script,
        &[
            ("token", "0"),
            ("size", "0"),
            ("env", "0"),
            ("append", "1"),
            ("write", "1"),
            ("rm", "1"),
            ("mv", "1"),
            ("kind", "regular empty file"),
        ],
    );
    assert_eq!(std::fs::read_to_string(&env).unwrap(), SECRET);
    assert_eq!(std::fs::read_to_string(&token).unwrap(), SECRET);
}

#[test]
fn symlinks_into_a_hidden_directory_read_nothing() {
    if let Some(reason) = usable_host() {
        return skip("symlinks_into_a_hidden_directory", &reason);
    }
    let Some(fx) = Fixture::new() else {
        return skip("symlinks_into_a_hidden_directory", "no fixture directory");
    };
    let dir = fx.secrets.join("dir");
    // Made outside the sandbox, before it starts: to the file, to the
    // directory, from inside the workspace and from elsewhere.
    std::os::unix::fs::symlink(dir.join("file"), fx.base.join("to-file")).unwrap();
    std::os::unix::fs::symlink(&dir, fx.workspace.join("to-dir")).unwrap();
    // The hidden path given through a link: hidden at its target.
    let alias = fx.base.join("alias");
    std::os::unix::fs::symlink(&dir, &alias).unwrap();
    let prepared = fx.prepare(&[alias]);
    assert!(
        prepared.report().rules.contains(&hidden_rule(&dir)),
        "{:#?}",
        prepared.report().rules
    );
    let script = format!(
        "cat {b}/to-file 2>/dev/null; echo file=$?\n\
         cat to-dir/file 2>/dev/null; echo dir=$?\n\
         cat {b}/alias/file 2>/dev/null; echo alias=$?\n\
         cat {d}/file 2>/dev/null; echo target=$?\n",
        b = fx.base.display(),
        d = dir.display()
    );
    expect(
        &prepared,
        &script,
        &[("file", "1"), ("dir", "1"), ("alias", "1"), ("target", "1")],
    );
}

#[test]
fn a_hidden_path_that_does_not_exist_is_skipped() {
    if let Some(reason) = usable_host() {
        return skip("a_hidden_path_that_does_not_exist", &reason);
    }
    let Some(fx) = Fixture::new() else {
        return skip("a_hidden_path_that_does_not_exist", "no fixture directory");
    };
    let missing = fx.secrets.join("not-there");
    let prepared = fx.prepare(std::slice::from_ref(&missing));
    assert!(prepared.report().is_complete(), "{}", prepared.report());
    assert!(
        !prepared
            .report()
            .rules
            .iter()
            .any(|r| r.starts_with("mount: hidden")),
        "{:#?}",
        prepared.report().rules
    );
    let (output, _) = run(&prepared, "echo ran");
    assert!(output.status.success(), "{}", text(&output));
}

#[test]
fn a_hidden_path_inside_a_writable_root_cannot_be_moved_out() {
    if let Some(reason) = usable_host() {
        return skip("a_hidden_path_inside_a_writable_root", &reason);
    }
    let Some(fx) = Fixture::new() else {
        return skip(
            "a_hidden_path_inside_a_writable_root",
            "no fixture directory",
        );
    };
    let creds = fx.workspace.join("config/cloud/creds");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(creds.join("key"), SECRET).unwrap();
    let prepared = fx.prepare(std::slice::from_ref(&creds));
    let rules = &prepared.report().rules;
    for pin in ["config", "config/cloud"] {
        let line = format!(
            "mount: pinned (cannot be moved) {}",
            fx.workspace.join(pin).display()
        );
        assert!(rules.contains(&line), "{line} in {rules:#?}");
    }
    let script = "mv config elsewhere 2>/dev/null; echo mv_top=$?\n\
         mv config/cloud config/other 2>/dev/null; echo mv_parent=$?\n\
         mv config/cloud/creds creds2 2>/dev/null; echo mv_hidden=$?\n\
         rmdir config/cloud/creds 2>/dev/null; echo rmdir=$?\n\
         rm -rf config/cloud/creds 2>/dev/null; echo rm=$?\n\
         ln config/cloud/creds/key k 2>/dev/null; echo link=$?\n\
         cat config/cloud/creds/key 2>/dev/null; echo cat=$?\n\
         touch config/cloud/sibling; echo sibling=$?\n";
    expect(
        &prepared,
        script,
        &[
            ("mv_top", "1"),
            ("mv_parent", "1"),
            ("mv_hidden", "1"),
            ("rmdir", "1"),
            ("rm", "1"),
            ("link", "1"),
            ("cat", "1"),
            // The rest of the root stays writable.
            ("sibling", "0"),
        ],
    );
    // The next start still hides it where it was.
    expect(
        &prepared,
        "cat config/cloud/creds/key 2>/dev/null; echo again=$?\n",
        &[("again", "1")],
    );
    assert_eq!(std::fs::read_to_string(creds.join("key")).unwrap(), SECRET);
}

#[test]
fn a_hidden_path_containing_the_working_directory_or_a_root_is_refused() {
    let Some(fx) = Fixture::new() else {
        return skip("a_hidden_path_containing", "no fixture directory");
    };
    let policy = SandboxPolicy::workspace_write(false);
    let host = HostCapabilities::assumed("6.12.0")
        .with_landlock_abi(Some(6))
        .with_seccomp(true)
        .with_seccomp_user_notification(true)
        .with_namespaces(Some(true));
    for (hidden, role) in [
        (fx.base.clone(), "the working directory"),
        (fx.workspace.clone(), "the working directory"),
        (PathBuf::from("/tmp"), "a writable root"),
    ] {
        let sandbox = LinuxSandbox::with_host(Compatibility::Strict, host.clone())
            .hide_paths([hidden.clone()]);
        let err = sandbox.plan(&policy, &fx.workspace, None).unwrap_err();
        assert_eq!(err.exit_status(), 125, "{err}");
        let LinuxSandboxError::HiddenPathContainsRoot {
            hidden: named,
            role: said,
            ..
        } = &err
        else {
            panic!("{hidden:?}: {err}");
        };
        assert_eq!(*named, hidden.canonicalize().unwrap(), "{err}");
        assert_eq!(*said, role, "{err}");
        assert!(err.to_string().contains("un-hide it"), "{err}");
    }
    // Inside a writable root is fine.
    let inside = fx.workspace.join("secret-dir");
    std::fs::create_dir(&inside).unwrap();
    let sandbox = LinuxSandbox::with_host(Compatibility::Strict, host).hide_paths([inside]);
    sandbox.plan(&policy, &fx.workspace, None).unwrap();
}

#[test]
fn without_namespaces_strict_refuses_and_best_effort_hides_nothing() {
    let Some(fx) = Fixture::new() else {
        return skip("without_namespaces", "no fixture directory");
    };
    let policy = SandboxPolicy::workspace_write(false);
    let host = HostCapabilities::assumed("6.12.0")
        .with_landlock_abi(Some(6))
        .with_seccomp(true)
        .with_seccomp_user_notification(true)
        .with_namespaces(Some(false));
    let hidden = [fx.secrets.join("dir")];
    let strict =
        LinuxSandbox::with_host(Compatibility::Strict, host.clone()).hide_paths(hidden.clone());
    // The workspace has no `.git`: only the hidden paths need namespaces
    // among the file protections.
    match strict.plan(&policy, &fx.workspace, None) {
        Err(err @ LinuxSandboxError::Unenforceable { .. }) => {
            assert_eq!(err.exit_status(), 125);
            let LinuxSandboxError::Unenforceable { report } = &err else {
                unreachable!()
            };
            assert!(
                report
                    .missing()
                    .any(|p| p.protection == Protection::HiddenPaths),
                "{err}"
            );
            assert!(
                err.to_string().contains(Protection::HiddenPaths.describe()),
                "{err}"
            );
        }
        other => panic!("{other:?}"),
    }
    let best =
        LinuxSandbox::with_host(Compatibility::BestEffort, host.clone()).hide_paths(hidden.clone());
    let plan = best.plan(&policy, &fx.workspace, None).unwrap();
    let entry = plan
        .report
        .protections
        .iter()
        .find(|p| p.protection == Protection::HiddenPaths)
        .unwrap();
    assert!(entry.required);
    match &entry.status {
        ProtectionStatus::NotEnforced { reason } => {
            assert!(reason.contains("nothing is hidden"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // Namespaces but no Landlock: /proc/<pid>/root of the host's processes
    // would show them.
    let no_landlock = HostCapabilities::assumed("6.12.0")
        .with_seccomp(true)
        .with_namespaces(Some(true));
    let plan = LinuxSandbox::with_host(Compatibility::BestEffort, no_landlock)
        .hide_paths(hidden.clone())
        .plan(&policy, &fx.workspace, None)
        .unwrap();
    assert!(matches!(
        plan.report.status(Protection::HiddenPaths),
        Some(ProtectionStatus::NotEnforced { .. })
    ));
    // Nothing given, or nothing restricted: not needed.
    let plan = LinuxSandbox::with_host(Compatibility::Strict, host.clone())
        .plan(&SandboxPolicy::read_only(), &fx.workspace, None)
        .map(|p| p.report);
    if let Ok(report) = plan {
        assert_eq!(
            report.status(Protection::HiddenPaths),
            Some(&ProtectionStatus::NotNeeded)
        );
    }
    let plan = LinuxSandbox::with_host(Compatibility::Strict, host)
        .hide_paths(hidden)
        .plan(&SandboxPolicy::DangerFullAccess, &fx.workspace, None)
        .unwrap();
    assert_eq!(
        plan.report.status(Protection::HiddenPaths),
        Some(&ProtectionStatus::NotNeeded)
    );
}

#[test]
fn a_file_created_after_prepare_is_hidden_at_the_next_start() {
    if let Some(reason) = usable_host() {
        return skip("a_file_created_after_prepare", &reason);
    }
    let Some(fx) = Fixture::new() else {
        return skip("a_file_created_after_prepare", "no fixture directory");
    };
    let late = fx.secrets.join("late-token");
    let prepared = fx.prepare(std::slice::from_ref(&late));
    let script = format!(
        "test -e {l}; echo exists=$?\ncat {l} 2>/dev/null | wc -c\n",
        l = late.display()
    );
    expect(&prepared, &script, &[("exists", "1")]);
    std::fs::write(&late, SECRET).unwrap();
    let (output, rules) = run(&prepared, &script);
    assert!(rules.contains(&hidden_rule(&late)), "{rules:#?}");
    assert!(!text(&output).contains(SECRET), "{}", text(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "exists=0\n0\n",
        "{}",
        text(&output)
    );
}

#[test]
fn danger_full_access_reads_the_hidden_path() {
    if let Some(reason) = usable_host() {
        return skip("danger_full_access_reads", &reason);
    }
    let Some(fx) = Fixture::new() else {
        return skip("danger_full_access_reads", "no fixture directory");
    };
    let prepared = prepare_with(
        LinuxSandbox::new(),
        &SandboxPolicy::DangerFullAccess,
        &fx.workspace,
        &[fx.secrets.join("dir")],
    );
    assert_eq!(
        prepared.report().status(Protection::HiddenPaths),
        Some(&ProtectionStatus::NotNeeded)
    );
    let (output, _) = run(&prepared, &format!("cat {}/dir/file", fx.secrets.display()));
    assert_eq!(String::from_utf8_lossy(&output.stdout), SECRET);
}

#[test]
fn a_hidden_file_with_another_hard_link_is_reported() {
    if let Some(reason) = usable_host() {
        return skip("a_hidden_file_with_another_hard_link", &reason);
    }
    let Some(fx) = Fixture::new() else {
        return skip(
            "a_hidden_file_with_another_hard_link",
            "no fixture directory",
        );
    };
    let token = fx.secrets.join("token");
    std::fs::hard_link(&token, fx.base.join("other-name")).unwrap();
    let prepared = fx.prepare(std::slice::from_ref(&token));
    let warning = format!(
        "warning: another name of {} exists elsewhere and is not hidden",
        token.display()
    );
    assert!(
        prepared
            .report()
            .rules
            .iter()
            .any(|r| r.starts_with(&warning)),
        "{:#?}",
        prepared.report().rules
    );
}

/// Whether the process is root.
fn as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Set for a copy of this binary started by [`run_copy`]: the name of the
/// one test it runs. An entry test without it returns at once (it is a part
/// of another test, whose result counts), so the totals count no skips for
/// them.
const COPY_ENTRY: &str = "CODEX_HIDDEN_PATHS_COPY_ENTRY";

/// Whether this process is the copy that runs entry test `name`.
fn is_copy_for(name: &str) -> bool {
    std::env::var(COPY_ENTRY).is_ok_and(|entry| entry == name)
}

/// Runs the entry test `name` of a copy of this binary (which `nobody`
/// can execute), as `wrapper` says; its verdict. `None` when the copy could
/// not run at all (why, in the string).
fn run_copy(wrapper: &[&str], name: &str, env: &[(&str, &str)]) -> Result<Output, String> {
    let dir = tempfile::Builder::new()
        .prefix("codex-hidden-paths-")
        .tempdir_in(std::env::temp_dir())
        .map_err(|e| e.to_string())?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    let copy = dir.path().join("hidden_paths");
    std::fs::copy(std::env::current_exe().unwrap(), &copy).map_err(|e| e.to_string())?;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    let mut command = Command::new(wrapper[0]);
    command
        .args(&wrapper[1..])
        .arg(&copy)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env(COPY_ENTRY, name)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if matches!(output.status.code(), Some(126 | 127)) {
        return Err(format!("the copy could not run: {}", text(&output)));
    }
    Ok(output)
}

fn setpriv() -> Option<&'static str> {
    ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// The verdict of a copy's run: passed (and did not skip), or panics.
fn passed(test: &str, output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprint!("{stderr}");
    assert!(output.status.success(), "{test}: {}", text(output));
    if stderr.contains("SKIPPED") {
        return skip(test, "the copy skipped (see above)");
    }
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "{test}: {}",
        text(output)
    );
}

#[test]
fn as_nobody_a_hidden_directory_is_empty() {
    if !as_root() {
        // Unprivileged already: the test proper runs here.
        return hidden_directory_as_this_user();
    }
    let Some(setpriv) = setpriv() else {
        return skip("as_nobody_a_hidden_directory_is_empty", "no setpriv");
    };
    let wrapper = [
        setpriv,
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
    ];
    match run_copy(&wrapper, "hidden_directory_as_this_user", &[]) {
        Ok(output) => passed("as_nobody_a_hidden_directory_is_empty", &output),
        Err(why) => skip("as_nobody_a_hidden_directory_is_empty", &why),
    }
}

/// Run by `as_nobody_a_hidden_directory_is_empty` as `nobody`.
#[test]
fn hidden_directory_as_this_user() {
    if !is_copy_for("hidden_directory_as_this_user") {
        return;
    }
    if let Some(reason) = usable_host() {
        return skip("hidden_directory_as_this_user", &reason);
    }
    let Some(fx) = Fixture::new() else {
        return skip("hidden_directory_as_this_user", "no fixture directory");
    };
    let dir = fx.secrets.join("dir");
    let token = fx.secrets.join("token");
    let prepared = fx.prepare(&[dir.clone(), token.clone()]);
    let script = format!(
        "echo list=$(ls -A {d} | wc -l)\n\
         cat {d}/file 2>/dev/null; echo cat=$?\n\
         cat /proc/self/root{d}/file 2>/dev/null; echo proc_root=$?\n\
         echo token=$(cat {t} | wc -c)\n",
        d = dir.display(),
        t = token.display()
    );
    expect(
        &prepared,
        &script,
        &[
            ("list", "0"),
            ("cat", "1"),
            ("proc_root", "1"),
            ("token", "0"),
        ],
    );
}

#[test]
fn another_mount_of_the_same_directory_is_hidden_too() {
    if !as_root() {
        return skip(
            "another_mount_of_the_same_directory",
            "needs root to bind-mount the fixture in a mount namespace of its own",
        );
    }
    let Some(unshare) = ["/usr/bin/unshare", "/bin/unshare"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        return skip("another_mount_of_the_same_directory", "no unshare");
    };
    // The copy runs in a private mount namespace of its own, where the
    // test proper bind-mounts its fixture a second time.
    match run_copy(
        &[unshare, "--mount", "--propagation", "private"],
        "second_mount_in_own_namespace",
        &[],
    ) {
        Ok(output) => passed("another_mount_of_the_same_directory", &output),
        Err(why) => skip("another_mount_of_the_same_directory", &why),
    }
}

/// Run by `another_mount_of_the_same_directory_is_hidden_too` in a mount
/// namespace of its own (it mounts).
#[test]
fn second_mount_in_own_namespace() {
    if !is_copy_for("second_mount_in_own_namespace") {
        return;
    }
    if let Some(reason) = usable_host() {
        return skip("second_mount_in_own_namespace", &reason);
    }
    let Some(fx) = Fixture::new() else {
        return skip("second_mount_in_own_namespace", "no fixture directory");
    };
    // A second view of `secrets`, under a name with a space (escaped in
    // mountinfo), and one of `secrets/dir` alone.
    let mirror = fx.base.join("mirror with space");
    let part = fx.base.join("part");
    std::fs::create_dir(&mirror).unwrap();
    std::fs::create_dir(&part).unwrap();
    for (from, to) in [
        (fx.secrets.clone(), &mirror),
        (fx.secrets.join("dir"), &part),
    ] {
        let status = Command::new("mount")
            .arg("--bind")
            .arg(&from)
            .arg(to)
            .status()
            .unwrap();
        assert!(status.success(), "mount --bind {from:?} {to:?}");
    }
    let dir = fx.secrets.join("dir");
    let prepared = fx.prepare(std::slice::from_ref(&dir));
    let rules = &prepared.report().rules;
    assert!(
        rules.contains(&hidden_rule(&mirror.join("dir"))),
        "{rules:#?}"
    );
    assert!(rules.contains(&hidden_rule(&part)), "{rules:#?}");
    let script = format!(
        "cat '{m}/dir/file' 2>/dev/null; echo mirror=$?\n\
         cat {p}/file 2>/dev/null; echo part=$?\n\
         echo token=$(cat '{m}/token' | wc -c)\n",
        m = mirror.display(),
        p = part.display()
    );
    // The token is not hidden: its mirror still reads it.
    let (output, rules) = run(&prepared, &script);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("mirror=1\n") && stdout.contains("part=1\n"),
        "{}\n{rules:#?}",
        text(&output)
    );
    assert!(
        stdout.contains(&format!("token={}\n", SECRET.len())),
        "{}",
        text(&output)
    );
    for view in [&mirror, &part] {
        let _ = Command::new("umount").arg(view).status();
    }
}
