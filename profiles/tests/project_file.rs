//! `.codex-profile`: found in the working directory or its nearest ancestor,
//! it may only restrict what the user would otherwise get, unless its
//! directory is trusted in config.toml.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use codex_policy_model::ApprovalPolicy;
use codex_profiles::{ProfileError, ProfileResolver, ProfileSource, SecurityProfile};
use common::{codex_home, resolve_in};

fn write(dir: &Path, text: &str) {
    std::fs::write(dir.join(".codex-profile"), text).unwrap();
}

fn plain() -> ProfileResolver {
    ProfileResolver::new()
}

#[test]
fn a_restricting_file_chooses_and_is_shown_with_its_path() {
    let home = codex_home("sandbox_mode = \"workspace-write\"\n");
    let project = tempfile::tempdir().unwrap();
    write(project.path(), "# read only here\noffline untrusted\n");
    let resolved = resolve_in(home.path(), project.path(), plain()).unwrap();
    assert_eq!(resolved.profile, SecurityProfile::Offline);
    assert_eq!(resolved.approval.policy, ApprovalPolicy::Untrusted);
    let path = project.path().join(".codex-profile");
    assert_eq!(
        resolved.source,
        ProfileSource::ProjectFile {
            path: path.clone(),
            trusted_loosening: false
        }
    );
    assert_eq!(resolved.project_file, Some(path));
    assert!(resolved.source.to_string().contains(".codex-profile"));
    // config.toml's choice lost and is listed.
    assert_eq!(resolved.overridden[0].profile, SecurityProfile::Workspace);
}

#[test]
fn the_nearest_ancestor_counts() {
    let home = codex_home("sandbox_mode = \"workspace-write\"\n");
    let project = tempfile::tempdir().unwrap();
    let deep = project.path().join("a/b/c");
    std::fs::create_dir_all(&deep).unwrap();
    write(project.path(), "workspace\n");
    write(&project.path().join("a"), "offline\n");
    let resolved = resolve_in(home.path(), &deep, plain()).unwrap();
    assert_eq!(resolved.profile, SecurityProfile::Offline);
    assert_eq!(
        resolved.project_file,
        Some(project.path().join("a/.codex-profile"))
    );
}

#[test]
fn the_search_stops_at_the_repository_top() {
    let home = codex_home("sandbox_mode = \"workspace-write\"\n");
    let outer = tempfile::tempdir().unwrap();
    let repo = outer.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(repo.join("src")).unwrap();
    write(outer.path(), "offline\n");
    let resolved = resolve_in(home.path(), &repo.join("src"), plain()).unwrap();
    assert_eq!(resolved.profile, SecurityProfile::Workspace);
    assert_eq!(resolved.project_file, None);
}

#[test]
fn the_search_stops_at_home() {
    let home = codex_home("sandbox_mode = \"workspace-write\"\n");
    let above = tempfile::tempdir().unwrap();
    let user_home = above.path().join("me");
    let project = user_home.join("project");
    std::fs::create_dir_all(&project).unwrap();
    write(above.path(), "offline\n");
    let resolved = plain()
        .environment(common::env(&[
            ("CODEX_HOME", home.path()),
            ("HOME", &user_home),
        ]))
        .project_dir(Some(project))
        .resolve()
        .unwrap();
    assert_eq!(resolved.profile, SecurityProfile::Workspace);
}

#[test]
fn a_file_asking_for_more_is_refused_with_its_location() {
    let home = codex_home("sandbox_mode = \"workspace-write\"\n");
    let project = tempfile::tempdir().unwrap();
    for (text, at) in [
        ("workspace-net\n", "1:1"),
        ("trusted\n", "1:1"),
        ("net-read-only\n", "1:1"),
        ("workspace never\n", "1:11"),
        ("workspace on-failure\n", "1:11"),
        ("research\n", "1:1"),
    ] {
        write(project.path(), text);
        let err = resolve_in(home.path(), project.path(), plain()).unwrap_err();
        let message = err.to_string();
        println!("{text:?} -> {message}");
        assert!(
            message.contains(&format!(".codex-profile:{at}")),
            "{message}"
        );
        assert!(message.contains("may only restrict"), "{message}");
        assert!(message.contains("trust_level"), "{message}");
    }
}

#[test]
fn a_named_profile_with_more_writable_roots_is_refused() {
    let extra = tempfile::tempdir().unwrap();
    let home = codex_home(&format!(
        "sandbox_mode = \"workspace-write\"\n\
         [profiles.wide]\nsandbox_mode = \"workspace-write\"\n\
         [profiles.wide.sandbox_workspace_write]\nwritable_roots = [{:?}]\n",
        extra.path()
    ));
    let project = tempfile::tempdir().unwrap();
    write(project.path(), "wide\n");
    let message = resolve_in(home.path(), project.path(), plain())
        .unwrap_err()
        .to_string();
    println!("{message}");
    assert!(message.contains("writable root"), "{message}");
}

#[test]
fn a_named_profile_whose_permissions_allow_more_is_refused() {
    let home = codex_home(
        "sandbox_mode = \"workspace-write\"\n[sandbox_workspace_write]\nnetwork_access = true\n\
         [profiles.open]\nextends = \"workspace-net\"\n\
         [permissions.open.network.unix_sockets]\n\"/var/run/docker.sock\" = \"allow\"\n",
    );
    let project = tempfile::tempdir().unwrap();
    write(project.path(), "open\n");
    let message = resolve_in(home.path(), project.path(), plain())
        .unwrap_err()
        .to_string();
    println!("{message}");
    assert!(message.contains("permissions.open"), "{message}");
}

#[test]
fn a_trusted_directory_may_loosen() {
    let project = tempfile::tempdir().unwrap();
    let home = codex_home(&format!(
        "[projects.{:?}]\ntrust_level = \"trusted\"\n",
        project.path()
    ));
    write(project.path(), "workspace-net on-failure\n");
    let resolved = resolve_in(home.path(), project.path(), plain()).unwrap();
    assert_eq!(resolved.profile, SecurityProfile::WorkspaceNet);
    assert_eq!(resolved.approval.policy, ApprovalPolicy::OnFailure);
    assert!(matches!(
        resolved.source,
        ProfileSource::ProjectFile {
            trusted_loosening: true,
            ..
        }
    ));
    assert!(resolved.source.to_string().contains("trusted"));
}

#[test]
fn trust_is_for_that_directory_only() {
    let parent = tempfile::tempdir().unwrap();
    let project = parent.path().join("project");
    std::fs::create_dir(&project).unwrap();
    let home = codex_home(&format!(
        "[projects.{:?}]\ntrust_level = \"trusted\"\n[projects.{:?}]\ntrust_level = \"untrusted\"\n",
        parent.path(),
        project
    ));
    write(&project, "workspace\n");
    assert!(resolve_in(home.path(), &project, plain()).is_err());
}

#[test]
fn a_trusted_loosening_the_commands_could_rewrite_is_refused() {
    // The extra writable root holds the trusted directory: a command of the
    // profile the file grants could rewrite the file.
    let outer = tempfile::tempdir().unwrap();
    let project = outer.path().join("project");
    std::fs::create_dir(&project).unwrap();
    let home = codex_home(&format!(
        "[projects.{:?}]\ntrust_level = \"trusted\"\n\
         [profiles.wide]\nsandbox_mode = \"workspace-write\"\n\
         [profiles.wide.sandbox_workspace_write]\nwritable_roots = [{:?}]\n",
        project,
        outer.path()
    ));
    let cwd = project.join("src");
    std::fs::create_dir(&cwd).unwrap();
    write(&project, "wide\n");
    let message = resolve_in(home.path(), &cwd, plain())
        .unwrap_err()
        .to_string();
    println!("{message}");
    assert!(message.contains("could rewrite it"), "{message}");
}

#[test]
fn higher_sources_win_but_the_file_is_still_validated() {
    let home = codex_home("");
    let project = tempfile::tempdir().unwrap();
    write(project.path(), "offline\n");
    let resolved = resolve_in(
        home.path(),
        project.path(),
        plain().command_line(Some(SecurityProfile::Workspace)),
    )
    .unwrap();
    assert_eq!(resolved.profile, SecurityProfile::Workspace);
    assert!(matches!(
        resolved.overridden[0].source,
        ProfileSource::ProjectFile { .. }
    ));
    write(project.path(), "offline sometimes\n");
    let err = resolve_in(
        home.path(),
        project.path(),
        plain().command_line(Some(SecurityProfile::Workspace)),
    )
    .unwrap_err();
    assert!(err.to_string().contains(".codex-profile:1:9"), "{err}");
}

#[test]
fn an_unknown_profile_name_is_located() {
    let home = codex_home("");
    let project = tempfile::tempdir().unwrap();
    write(project.path(), "  nonesuch\n");
    let message = resolve_in(home.path(), project.path(), plain())
        .unwrap_err()
        .to_string();
    println!("{message}");
    assert!(
        message.contains(".codex-profile:1:3") && message.contains("nonesuch"),
        "{message}"
    );
}

#[test]
fn a_symlink_is_refused() {
    let home = codex_home("");
    let project = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    write(elsewhere.path(), "offline\n");
    std::os::unix::fs::symlink(
        elsewhere.path().join(".codex-profile"),
        project.path().join(".codex-profile"),
    )
    .unwrap();
    let err = resolve_in(home.path(), project.path(), plain()).unwrap_err();
    assert!(matches!(err, ProfileError::ProjectFileLink { .. }), "{err}");
}

#[test]
fn a_directory_or_fifo_is_refused_not_skipped() {
    let home = codex_home("");
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir(project.path().join(".codex-profile")).unwrap();
    let err = resolve_in(home.path(), project.path(), plain()).unwrap_err();
    println!("{err}");
    assert!(err.to_string().contains("not a regular file"), "{err}");
    std::fs::remove_dir(project.path().join(".codex-profile")).unwrap();
    let fifo = std::ffi::CString::new(
        project
            .path()
            .join(".codex-profile")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .unwrap();
    // SAFETY: a valid C string; mkfifo only creates a node.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let err = resolve_in(home.path(), project.path(), plain()).unwrap_err();
    assert!(err.to_string().contains("FIFO"), "{err}");
}

#[test]
fn an_unreadable_file_is_an_error() {
    use std::os::unix::fs::PermissionsExt;
    let home = codex_home("");
    let project = tempfile::tempdir().unwrap();
    write(project.path(), "offline\n");
    std::fs::set_permissions(
        project.path().join(".codex-profile"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    // Root reads a file of mode 000; without the two capabilities that let
    // it (in this thread only: capabilities are per thread) it cannot.
    let err =
        without_dac_override(|| resolve_in(home.path(), project.path(), plain())).unwrap_err();
    assert!(err.to_string().contains("cannot read"), "{err}");
}

/// Runs `f` with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH out of this
/// thread's effective set (a no-op for a user without them), then puts
/// them back.
fn without_dac_override<T>(f: impl FnOnce() -> T) -> T {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    const DAC: u32 = (1 << 1) | (1 << 2); // CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget/capset with a version-3 header and two data words, as
    // the kernel expects; pid 0 is the calling thread.
    unsafe {
        assert_eq!(
            libc::syscall(libc::SYS_capget, &raw mut header, data.as_mut_ptr()),
            0
        );
        let saved = data;
        data[0].effective &= !DAC;
        assert_eq!(
            libc::syscall(libc::SYS_capset, &raw mut header, data.as_ptr()),
            0
        );
        let result = f();
        assert_eq!(
            libc::syscall(libc::SYS_capset, &raw mut header, saved.as_ptr()),
            0
        );
        result
    }
}

#[test]
fn oversized_and_binary_files_are_refused() {
    let home = codex_home("");
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join(".codex-profile"), vec![b'#'; 2 << 20]).unwrap();
    let err = resolve_in(home.path(), project.path(), plain()).unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
    std::fs::write(project.path().join(".codex-profile"), b"off\xffline\n").unwrap();
    assert!(resolve_in(home.path(), project.path(), plain()).is_err());
}

#[test]
fn a_nearer_file_may_only_restrict_the_one_above_it() {
    let home = codex_home("sandbox_mode = \"workspace-write\"\n");
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir(project.path().join(".git")).unwrap();
    let sub = project.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    write(project.path(), "workspace untrusted\n");
    // What a command could create: a file asking for what config.toml gives.
    write(&sub, "workspace on-request\n");
    let err = resolve_in(home.path(), &sub, plain())
        .unwrap_err()
        .to_string();
    println!("{err}");
    assert!(
        err.contains("sub/.codex-profile:1:11") && err.contains("may only restrict"),
        "{err}"
    );
    // Restricting further is fine.
    write(&sub, "offline\n");
    let resolved = resolve_in(home.path(), &sub, plain()).unwrap();
    assert_eq!(resolved.profile, SecurityProfile::Offline);
    assert_eq!(resolved.approval.policy, ApprovalPolicy::Untrusted);
}

#[test]
fn a_planted_git_directory_does_not_hide_the_files_above() {
    let home = codex_home("sandbox_mode = \"workspace-write\"\n");
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir(project.path().join(".git")).unwrap();
    let sub = project.path().join("sub");
    std::fs::create_dir_all(sub.join(".git")).unwrap();
    write(project.path(), "offline\n");
    let resolved = resolve_in(home.path(), &sub, plain()).unwrap();
    assert_eq!(resolved.profile, SecurityProfile::Offline);
}

#[test]
fn a_hard_linked_file_is_refused() {
    let home = codex_home("");
    let project = tempfile::tempdir().unwrap();
    write(project.path(), "offline\n");
    std::fs::hard_link(
        project.path().join(".codex-profile"),
        project.path().join("other"),
    )
    .unwrap();
    let err = resolve_in(home.path(), project.path(), plain()).unwrap_err();
    assert!(
        matches!(err, ProfileError::ProjectFileHardLinked { .. }),
        "{err}"
    );
}

#[test]
fn trust_names_the_real_directory_not_a_link_to_it() {
    let project = tempfile::tempdir().unwrap();
    let links = tempfile::tempdir().unwrap();
    let link = links.path().join("link");
    std::os::unix::fs::symlink(project.path(), &link).unwrap();
    let home = codex_home(&format!("[projects.{link:?}]\ntrust_level = \"trusted\"\n"));
    write(project.path(), "workspace\n");
    assert!(resolve_in(home.path(), project.path(), plain()).is_err());
}

#[test]
fn a_named_profile_may_not_shadow_a_security_profile() {
    let home = codex_home("[profiles.offline]\nsandbox_mode = \"danger-full-access\"\n");
    let project = tempfile::tempdir().unwrap();
    let err = resolve_in(home.path(), project.path(), plain()).unwrap_err();
    println!("{err}");
    assert!(
        matches!(err, ProfileError::ShadowingProfile { .. }),
        "{err}"
    );
}
