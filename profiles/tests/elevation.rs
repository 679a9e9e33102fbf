//! Elevation grants on real files: what a grant does, and each way an
//! attacker with a hand on the files could try to stretch, move or forge one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use codex_profiles::{
    ElevationError, ElevationStore, Grant, GrantStatus, MAX_ELEVATION, SecurityProfile,
    UnsafeEntry, format_duration, parse_duration,
};
use tempfile::TempDir;

const MINUTE: Duration = Duration::from_secs(60);

/// A store in a fresh Codex home, and a fixed "now" (the library never reads
/// the clock, so neither do the tests).
struct Fixture {
    home: TempDir,
    store: ElevationStore,
    now: SystemTime,
}

impl Fixture {
    fn new() -> Self {
        let home = tempfile::tempdir().unwrap();
        let store = ElevationStore::open(home.path()).unwrap();
        Self {
            home,
            store,
            now: UNIX_EPOCH + Duration::from_secs(1_750_000_000),
        }
    }

    fn dir(&self) -> PathBuf {
        self.home.path().join("elevations")
    }

    fn key(&self) -> PathBuf {
        self.dir().join(".key")
    }

    /// Grants `project` `trusted` for 15 minutes from `now`.
    fn grant(&self, project: &str) -> Grant {
        self.store
            .grant(
                Path::new(project),
                SecurityProfile::Trusted,
                15 * MINUTE,
                "deploy fix",
                self.now,
            )
            .unwrap()
    }

    /// The grant files in the store (not the key, not temporary files).
    fn grant_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(self.dir())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension() == Some(OsStr::new("json")))
            .collect();
        files.sort();
        files
    }

    /// Grants `project` and returns the file that holds its grant.
    fn grant_file(&self, project: &str) -> PathBuf {
        let before = self.grant_files();
        self.grant(project);
        let mut new: Vec<PathBuf> = self
            .grant_files()
            .into_iter()
            .filter(|path| !before.contains(path))
            .collect();
        assert_eq!(new.len(), 1, "one new grant file for {project}");
        new.remove(0)
    }

    fn lookup_err(&self, project: &str) -> ElevationError {
        self.store.lookup(Path::new(project), self.now).unwrap_err()
    }
}

/// Rewrites the JSON of a grant file in place (keeping its mode).
fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) {
    let mut json: serde_json::Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    edit(json.as_object_mut().unwrap());
    fs::write(path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

fn assert_unsafe(err: &ElevationError, path: &Path, expected: &UnsafeEntry) {
    match err {
        ElevationError::Unsafe { path: at, problem } if at == path && problem == expected => {}
        _ => panic!("expected {path:?} {expected:?}, got {err:?}: {err}"),
    }
}

fn is_root() -> bool {
    // A file we create is owned by our effective uid.
    let probe = tempfile::tempdir().unwrap();
    fs::metadata(probe.path()).unwrap().uid() == 0
}

// What a grant does.

#[test]
fn a_grant_is_active_with_its_remaining_time() {
    let f = Fixture::new();
    let grant = f.grant("/p");
    assert_eq!(grant.project, Path::new("/p"));
    assert_eq!(grant.profile, SecurityProfile::Trusted);
    assert_eq!(grant.reason, "deploy fix");
    assert_eq!(grant.granted_at, f.now);
    assert_eq!(grant.expires_at, f.now + 15 * MINUTE);
    assert_eq!(grant.id.len(), 32);
    assert!(grant.id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(grant.uid, fs::metadata(f.home.path()).unwrap().uid());

    assert_eq!(
        f.store.lookup(Path::new("/p"), f.now).unwrap(),
        GrantStatus::Active(grant.clone())
    );
    let later = f.now + 5 * MINUTE;
    let GrantStatus::Active(found) = f.store.lookup(Path::new("/p"), later).unwrap() else {
        panic!("not active 5 minutes in");
    };
    assert_eq!(found.remaining(later), Some(10 * MINUTE));
}

#[test]
fn a_grant_expires_at_its_end() {
    let f = Fixture::new();
    let grant = f.grant("/p");
    let just_before = grant.expires_at - Duration::from_nanos(1);
    assert!(matches!(
        f.store.lookup(Path::new("/p"), just_before).unwrap(),
        GrantStatus::Active(_)
    ));
    for at in [grant.expires_at, grant.expires_at + 60 * MINUTE] {
        assert_eq!(
            f.store.lookup(Path::new("/p"), at).unwrap(),
            GrantStatus::Expired(grant.clone())
        );
        assert_eq!(grant.remaining(at), None);
    }
}

#[test]
fn revoking_removes_the_grant_and_its_file() {
    let f = Fixture::new();
    let grant = f.grant("/p");
    assert_eq!(f.grant_files().len(), 1);
    assert_eq!(f.store.revoke(Path::new("/p")).unwrap(), Some(grant));
    assert_eq!(f.grant_files(), Vec::<PathBuf>::new());
    assert_eq!(
        f.store.lookup(Path::new("/p"), f.now).unwrap(),
        GrantStatus::None
    );
}

#[test]
fn revoking_an_expired_grant_returns_it() {
    let f = Fixture::new();
    let grant = f.grant("/p");
    assert!(matches!(
        f.store.lookup(Path::new("/p"), grant.expires_at).unwrap(),
        GrantStatus::Expired(_)
    ));
    assert_eq!(f.store.revoke(Path::new("/p")).unwrap(), Some(grant));
}

#[test]
fn revoking_without_a_grant_is_none() {
    let f = Fixture::new();
    assert_eq!(f.store.revoke(Path::new("/p")).unwrap(), None);
}

#[test]
fn a_new_grant_replaces_the_old_one() {
    let f = Fixture::new();
    let first = f.grant("/p");
    let later = f.now + MINUTE;
    let second = f
        .store
        .grant(
            Path::new("/p"),
            SecurityProfile::Workspace,
            2 * MINUTE,
            "smaller",
            later,
        )
        .unwrap();
    assert_ne!(first.id, second.id);
    assert_eq!(f.grant_files().len(), 1);
    assert_eq!(
        f.store.lookup(Path::new("/p"), later).unwrap(),
        GrantStatus::Active(second)
    );
    // The replacement's shorter end applies, not the first grant's.
    assert!(matches!(
        f.store.lookup(Path::new("/p"), later + 2 * MINUTE).unwrap(),
        GrantStatus::Expired(_)
    ));
}

#[test]
fn grants_of_two_projects_are_independent() {
    let f = Fixture::new();
    let a = f.grant("/a");
    let b = f
        .store
        .grant(
            Path::new("/b"),
            SecurityProfile::WorkspaceNet,
            MINUTE,
            "other",
            f.now,
        )
        .unwrap();
    assert_eq!(f.grant_files().len(), 2);
    assert_eq!(f.store.revoke(Path::new("/a")).unwrap(), Some(a));
    assert_eq!(
        f.store.lookup(Path::new("/a"), f.now).unwrap(),
        GrantStatus::None
    );
    assert_eq!(
        f.store.lookup(Path::new("/b"), f.now).unwrap(),
        GrantStatus::Active(b)
    );
}

#[test]
fn a_grant_applies_to_its_exact_project_only() {
    let f = Fixture::new();
    f.grant("/p");
    for other in ["/p/sub", "/other", "/", "/p2", "/P"] {
        assert_eq!(
            f.store.lookup(Path::new(other), f.now).unwrap(),
            GrantStatus::None,
            "{other}"
        );
    }
    // Spellings of the same path are the same project.
    for same in ["/p/", "/p/.", "//p"] {
        assert!(
            matches!(
                f.store.lookup(Path::new(same), f.now).unwrap(),
                GrantStatus::Active(_)
            ),
            "{same}"
        );
    }
}

#[test]
fn a_non_utf8_project_path_works() {
    let f = Fixture::new();
    let project = Path::new(OsStr::from_bytes(b"/proj/\xff\xfe"));
    let grant = f
        .store
        .grant(project, SecurityProfile::Workspace, MINUTE, "bytes", f.now)
        .unwrap();
    assert_eq!(
        f.store.lookup(project, f.now).unwrap(),
        GrantStatus::Active(grant.clone())
    );
    let json = serde_json::to_value(&grant).unwrap();
    assert_eq!(
        json["project"],
        serde_json::json!([47, 112, 114, 111, 106, 47, 255, 254])
    );
}

#[test]
fn the_largest_grant_fits_the_size_limit() {
    let f = Fixture::new();
    let reason = "🚀".repeat(500);
    // 4096 bytes, the longest path accepted, each byte as costly as JSON
    // makes it: a byte array for a non-UTF-8 path, `\u0001` for a UTF-8 one.
    for filler in [0xff, 0x01] {
        let mut bytes = vec![b'/'];
        bytes.resize(4096, filler);
        let project = Path::new(OsStr::from_bytes(&bytes));
        f.store
            .grant(project, SecurityProfile::Trusted, MINUTE, &reason, f.now)
            .unwrap();
        assert!(matches!(
            f.store.lookup(project, f.now).unwrap(),
            GrantStatus::Active(_)
        ));
    }
    let mut bytes = vec![b'/'];
    bytes.resize(4097, b'x');
    assert!(matches!(
        f.store.grant(
            Path::new(OsStr::from_bytes(&bytes)),
            SecurityProfile::Trusted,
            MINUTE,
            "why",
            f.now
        ),
        Err(ElevationError::InvalidProject { .. })
    ));
}

#[test]
fn files_are_private() {
    let f = Fixture::new();
    let file = f.grant_file("/p");
    assert_eq!(mode(&f.dir()), 0o700);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&f.key()), 0o600);
    assert_eq!(fs::metadata(f.key()).unwrap().len(), 32);
}

#[test]
fn status_serializes_for_the_command_line() {
    let f = Fixture::new();
    let grant = f.grant("/p");
    let json = serde_json::to_value(f.store.lookup(Path::new("/p"), f.now).unwrap()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "status": "active",
            "grant": {
                "project": "/p",
                "profile": "trusted",
                "reason": "deploy fix",
                "granted_at": "2025-06-15T15:06:40Z",
                "expires_at": "2025-06-15T15:21:40Z",
                "id": grant.id,
                "uid": grant.uid,
            }
        })
    );
    assert_eq!(
        serde_json::to_value(GrantStatus::None).unwrap(),
        serde_json::json!({"status": "none"})
    );
}

// Input validation.

#[test]
fn durations_parse_or_are_refused() {
    let good: &[(&str, u64)] = &[
        ("15m", 15 * 60),
        ("90s", 90),
        ("2h", 2 * 3600),
        ("1h30m", 90 * 60),
        ("45m30s", 45 * 60 + 30),
        ("1h1m1s", 3661),
        ("8h", 8 * 3600),
        ("480m", 8 * 3600),
        ("1h0m", 3600),
        ("007m", 7 * 60),
    ];
    for &(text, seconds) in good {
        let parsed = parse_duration(text);
        eprintln!("{text:?} -> {parsed:?}");
        assert_eq!(parsed.unwrap(), Duration::from_secs(seconds), "{text}");
    }
    let bad = [
        "",
        "0m",
        "0h0m0s",
        "15",
        "-5m",
        "+5m",
        "15x",
        "1.5h",
        "1,5h",
        "m",
        "15 m",
        " 15m",
        "15m ",
        "15M",
        "30m1h",
        "1h1h",
        "5m5m",
        "8h1s",
        "9h",
        "18446744073709551616s",
        "18446744073709551615h",
        "99999999999999999999999m",
        "1h\u{0}",
        "15m\n",
        "１５m",
    ];
    for text in bad {
        let err = parse_duration(text).unwrap_err();
        eprintln!("{text:?} -> {err}");
        assert!(
            matches!(
                err,
                ElevationError::InvalidDuration { .. }
                    | ElevationError::ZeroDuration
                    | ElevationError::DurationTooLong { .. }
            ),
            "{text:?}: {err:?}"
        );
    }
    assert!(matches!(
        parse_duration("0m"),
        Err(ElevationError::ZeroDuration)
    ));
    assert!(matches!(
        parse_duration("9h"),
        Err(ElevationError::DurationTooLong { requested }) if requested == 9 * 60 * MINUTE
    ));
    assert!(matches!(
        parse_duration("1.5h"),
        Err(ElevationError::InvalidDuration { problem, .. }) if problem.contains("fractions")
    ));
}

#[test]
fn durations_format_as_they_parse() {
    for (seconds, text) in [
        (0, "0s"),
        (45, "45s"),
        (60, "1m"),
        (3600, "1h"),
        (5430, "1h30m30s"),
    ] {
        assert_eq!(format_duration(Duration::from_secs(seconds)), text);
    }
    assert_eq!(format_duration(Duration::from_millis(1)), "1s");
    assert_eq!(format_duration(Duration::from_millis(59_500)), "1m");
    assert_eq!(
        parse_duration(&format_duration(MAX_ELEVATION)).unwrap(),
        MAX_ELEVATION
    );
}

#[test]
fn reasons_are_validated() {
    let f = Fixture::new();
    let grant = |reason: &str| {
        f.store.grant(
            Path::new("/p"),
            SecurityProfile::Trusted,
            MINUTE,
            reason,
            f.now,
        )
    };
    let long_ok = "é".repeat(500);
    for reason in ["x", "deploy fix", "déploiement 🚀", long_ok.as_str()] {
        grant(reason).unwrap();
    }
    let too_long = "x".repeat(501);
    for (reason, problem) in [
        ("", "empty"),
        ("   ", "empty"),
        ("\t", "empty"),
        (too_long.as_str(), "too long"),
        ("line one\nline two", "control"),
        ("tab\there", "control"),
        ("bell\u{7}", "control"),
        ("\u{1b}[2Jclear", "control"),
        ("c1 \u{9b}", "control"),
        ("rtl \u{202e}txt.exe", "control"),
        ("isolate \u{2067}x", "control"),
    ] {
        let err = grant(reason).unwrap_err();
        eprintln!("{reason:?} -> {err}");
        assert!(
            matches!(&err, ElevationError::InvalidReason { problem: p } if p.contains(problem)),
            "{reason:?}: {err:?}"
        );
    }
}

#[test]
fn durations_of_zero_and_above_eight_hours_are_refused() {
    let f = Fixture::new();
    let grant = |duration| {
        f.store.grant(
            Path::new("/p"),
            SecurityProfile::Trusted,
            duration,
            "why",
            f.now,
        )
    };
    assert!(matches!(
        grant(Duration::ZERO),
        Err(ElevationError::ZeroDuration)
    ));
    let over = MAX_ELEVATION + Duration::from_nanos(1);
    assert!(matches!(
        grant(over),
        Err(ElevationError::DurationTooLong { requested }) if requested == over
    ));
    assert!(matches!(
        grant(Duration::MAX),
        Err(ElevationError::DurationTooLong { .. })
    ));
    assert_eq!(f.grant_files(), Vec::<PathBuf>::new());
    grant(MAX_ELEVATION).unwrap();
}

#[test]
fn project_paths_must_be_absolute_and_canonical() {
    let f = Fixture::new();
    for (project, problem) in [
        ("p", "relative"),
        ("./p", "relative"),
        ("", "relative"),
        ("/a/../p", "canonical"),
        ("/p/..", "canonical"),
    ] {
        let err = f
            .store
            .grant(
                Path::new(project),
                SecurityProfile::Trusted,
                MINUTE,
                "why",
                f.now,
            )
            .unwrap_err();
        assert!(
            matches!(&err, ElevationError::InvalidProject { problem: p, .. }
                if p.contains(problem)),
            "{project:?}: {err:?}"
        );
        assert!(matches!(
            f.store.lookup(Path::new(project), f.now),
            Err(ElevationError::InvalidProject { .. })
        ));
        assert!(matches!(
            f.store.revoke(Path::new(project)),
            Err(ElevationError::InvalidProject { .. })
        ));
    }
}

#[test]
fn a_time_beyond_any_date_is_refused() {
    let f = Fixture::new();
    let far = UNIX_EPOCH + Duration::from_secs(400_000 * 366 * 86_400);
    let err = f
        .store
        .grant(
            Path::new("/p"),
            SecurityProfile::Trusted,
            MINUTE,
            "why",
            far,
        )
        .unwrap_err();
    assert!(
        matches!(err, ElevationError::TimeOutOfRange { .. }),
        "{err:?}"
    );
    assert_eq!(f.grant_files(), Vec::<PathBuf>::new());
}

// Tampering with a grant's content.

#[test]
fn an_extended_expiry_is_tampered() {
    let f = Fixture::new();
    let file = f.grant_file("/p");
    edit_json(&file, |json| {
        json["expires_at"] = "2025-06-15T17:00:00Z".into();
    });
    let err = f.lookup_err("/p");
    assert!(
        matches!(&err, ElevationError::Tampered { path, problem }
            if *path == file && problem.contains("integrity")),
        "{err:?}"
    );
    // Even long after the real expiry: refused, not reported as expired.
    assert!(matches!(
        f.store.lookup(Path::new("/p"), f.now + 60 * MINUTE),
        Err(ElevationError::Tampered { .. })
    ));
}

#[test]
fn a_changed_profile_is_tampered() {
    let f = Fixture::new();
    let file = f.grant_file("/p");
    edit_json(&file, |json| {
        json["profile"] = "workspace".into();
    });
    assert!(matches!(
        f.lookup_err("/p"),
        ElevationError::Tampered { .. }
    ));
}

#[test]
fn an_edited_mac_is_tampered() {
    let f = Fixture::new();
    let file = f.grant_file("/p");
    for mac in [
        "0".repeat(64),
        "zz".repeat(32),
        String::new(),
        "00".to_owned(),
        "+f".repeat(32),
    ] {
        edit_json(&file, |json| {
            json["mac"] = mac.clone().into();
        });
        assert!(
            matches!(f.lookup_err("/p"), ElevationError::Tampered { .. }),
            "{mac}"
        );
    }
}

#[test]
fn a_replaced_key_makes_grants_tampered() {
    let f = Fixture::new();
    f.grant("/p");
    let mut other = fs::read(f.key()).unwrap();
    for byte in &mut other {
        *byte ^= 0x5a;
    }
    fs::write(f.key(), &other).unwrap();
    assert_eq!(mode(&f.key()), 0o600);
    assert!(matches!(
        f.lookup_err("/p"),
        ElevationError::Tampered { .. }
    ));
}

#[test]
fn a_missing_key_is_refused_when_a_grant_exists() {
    let f = Fixture::new();
    let file = f.grant_file("/p");
    fs::remove_file(f.key()).unwrap();
    let err = f.lookup_err("/p");
    assert!(
        matches!(&err, ElevationError::KeyMissing { key, grant }
            if *key == f.key() && *grant == file),
        "{err:?}"
    );
}

#[test]
fn a_key_of_the_wrong_length_is_refused() {
    let f = Fixture::new();
    f.grant("/p");
    fs::write(f.key(), [7u8; 16]).unwrap();
    assert!(matches!(
        f.lookup_err("/p"),
        ElevationError::KeyCorrupt { len: 16, .. }
    ));
    // Nor is a new grant made with it.
    assert!(matches!(
        f.store.grant(
            Path::new("/q"),
            SecurityProfile::Trusted,
            MINUTE,
            "why",
            f.now
        ),
        Err(ElevationError::KeyCorrupt { .. })
    ));
}

#[test]
fn a_grant_copied_from_another_project_is_refused() {
    let f = Fixture::new();
    let a = f.grant_file("/a");
    let b = f.grant_file("/b");
    // Project A's grant, valid MAC and all, under project B's name.
    fs::copy(&a, &b).unwrap();
    let err = f.lookup_err("/b");
    assert!(
        matches!(&err, ElevationError::ProjectMismatch { path, expected, found }
            if *path == b && expected == Path::new("/b") && found == Path::new("/a")),
        "{err:?}"
    );
}

#[test]
fn a_grant_starting_in_the_future_is_refused() {
    let f = Fixture::new();
    let grant = f.grant("/p");
    let before = f.now - Duration::from_secs(1);
    let err = f.store.lookup(Path::new("/p"), before).unwrap_err();
    assert!(
        matches!(&err, ElevationError::GrantedInFuture { granted_at, now, .. }
            if *granted_at == grant.granted_at && *now == before),
        "{err:?}"
    );
    assert!(err.to_string().contains("2025-06-15T15:06:40Z"), "{err}");
    // Revoking still undoes it.
    assert_eq!(f.store.revoke(Path::new("/p")).unwrap(), Some(grant));
}

#[test]
fn garbage_is_malformed() {
    let f = Fixture::new();
    let file = f.grant_file("/p");
    for garbage in [
        &b"not json"[..],
        b"",
        b"{}",
        b"[]",
        b"{\"version\": 1}",
        b"\xff\xfe",
    ] {
        fs::write(&file, garbage).unwrap();
        let err = f.lookup_err("/p");
        assert!(
            matches!(&err, ElevationError::Malformed { path, .. } if *path == file),
            "{garbage:?}: {err:?}"
        );
    }
}

#[test]
fn an_unknown_field_is_malformed() {
    let f = Fixture::new();
    let file = f.grant_file("/p");
    edit_json(&file, |json| {
        json.insert("note".into(), "harmless?".into());
    });
    let err = f.lookup_err("/p");
    assert!(
        matches!(&err, ElevationError::Malformed { .. }) && err.to_string().contains("note"),
        "{err:?}"
    );
}

#[test]
fn an_unknown_version_is_refused() {
    let f = Fixture::new();
    let file = f.grant_file("/p");
    edit_json(&file, |json| {
        json["version"] = 2.into();
    });
    assert!(matches!(
        f.lookup_err("/p"),
        ElevationError::UnsupportedVersion { found: 2, .. }
    ));
}

#[test]
fn a_tampered_grant_survives_revocation_as_evidence() {
    let f = Fixture::new();
    let file = f.grant_file("/p");
    edit_json(&file, |json| {
        json["reason"] = "someone else's words".into();
    });
    assert!(matches!(
        f.store.revoke(Path::new("/p")),
        Err(ElevationError::Tampered { .. })
    ));
    assert!(file.exists());
}

// The files themselves.

#[test]
fn a_grant_readable_by_others_is_refused() {
    let f = Fixture::new();
    let file = f.grant_file("/p");
    for bits in [0o644, 0o640, 0o604, 0o620, 0o602] {
        fs::set_permissions(&file, fs::Permissions::from_mode(bits)).unwrap();
        assert_unsafe(
            &f.lookup_err("/p"),
            &file,
            &UnsafeEntry::AccessibleByOthers { mode: bits },
        );
    }
}

#[test]
fn a_grant_symlinked_to_a_valid_grant_is_refused() {
    let f = Fixture::new();
    let file = f.grant_file("/p");
    // The real grant, moved elsewhere, is valid; only the link is in place.
    let elsewhere = f.home.path().join("grant.json");
    fs::rename(&file, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
    assert_unsafe(&f.lookup_err("/p"), &file, &UnsafeEntry::SymbolicLink);
    // A dangling link is refused too, not taken for "no grant".
    fs::remove_file(&elsewhere).unwrap();
    assert_unsafe(&f.lookup_err("/p"), &file, &UnsafeEntry::SymbolicLink);
}

#[test]
fn a_grant_that_is_not_a_regular_file_is_refused() {
    let f = Fixture::new();
    let file = f.grant_file("/p");
    fs::remove_file(&file).unwrap();
    fs::create_dir(&file).unwrap();
    assert_unsafe(&f.lookup_err("/p"), &file, &UnsafeEntry::NotRegularFile);
    fs::remove_dir(&file).unwrap();
    // A FIFO with no writer: refused at once, not waited on.
    let c_path = std::ffi::CString::new(file.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    assert_unsafe(&f.lookup_err("/p"), &file, &UnsafeEntry::NotRegularFile);
}

#[test]
fn an_oversized_grant_is_refused() {
    let f = Fixture::new();
    let file = f.grant_file("/p");
    // Valid JSON up front, then padding: the size alone refuses it.
    let mut big = fs::read(&file).unwrap();
    big.extend(std::iter::repeat_n(b' ', 64 * 1024));
    fs::write(&file, big).unwrap();
    assert_unsafe(
        &f.lookup_err("/p"),
        &file,
        &UnsafeEntry::TooLarge { limit: 64 * 1024 },
    );
}

#[test]
fn a_key_that_is_a_symlink_is_refused() {
    let f = Fixture::new();
    f.grant("/p");
    let elsewhere = f.home.path().join("key");
    fs::rename(f.key(), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, f.key()).unwrap();
    assert_unsafe(&f.lookup_err("/p"), &f.key(), &UnsafeEntry::SymbolicLink);
    // Nor does a grant write through it.
    assert_unsafe(
        &f.store
            .grant(
                Path::new("/q"),
                SecurityProfile::Trusted,
                MINUTE,
                "why",
                f.now,
            )
            .unwrap_err(),
        &f.key(),
        &UnsafeEntry::SymbolicLink,
    );
}

#[test]
fn a_key_readable_by_others_is_refused() {
    let f = Fixture::new();
    f.grant("/p");
    fs::set_permissions(f.key(), fs::Permissions::from_mode(0o644)).unwrap();
    assert_unsafe(
        &f.lookup_err("/p"),
        &f.key(),
        &UnsafeEntry::AccessibleByOthers { mode: 0o644 },
    );
}

#[test]
fn a_foreign_grant_is_refused() {
    if !is_root() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED a_foreign_grant_is_refused: needs root to give a grant file to another \
             user (chown to uid 65534)"
        );
        return;
    }
    let f = Fixture::new();
    let file = f.grant_file("/p");
    std::os::unix::fs::chown(&file, Some(65534), None).unwrap();
    assert_unsafe(
        &f.lookup_err("/p"),
        &file,
        &UnsafeEntry::OwnedByOther {
            owner: 65534,
            user: 0,
        },
    );
}

#[test]
fn a_foreign_key_is_refused() {
    if !is_root() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED a_foreign_key_is_refused: needs root to give the key to another user \
             (chown to uid 65534)"
        );
        return;
    }
    let f = Fixture::new();
    f.grant("/p");
    std::os::unix::fs::chown(f.key(), Some(65534), None).unwrap();
    assert_unsafe(
        &f.lookup_err("/p"),
        &f.key(),
        &UnsafeEntry::OwnedByOther {
            owner: 65534,
            user: 0,
        },
    );
}

// The directories.

#[test]
fn a_group_writable_elevations_dir_is_refused() {
    let f = Fixture::new();
    for bits in [0o770, 0o702, 0o777] {
        fs::set_permissions(f.dir(), fs::Permissions::from_mode(bits)).unwrap();
        assert_unsafe(
            &ElevationStore::open(f.home.path()).unwrap_err(),
            &f.dir(),
            &UnsafeEntry::WritableByOthers { mode: bits },
        );
    }
    // Readable by others is not a risk for the directory: names only.
    fs::set_permissions(f.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    ElevationStore::open(f.home.path()).unwrap();
}

#[test]
fn a_group_writable_codex_home_is_refused() {
    let f = Fixture::new();
    fs::set_permissions(f.home.path(), fs::Permissions::from_mode(0o775)).unwrap();
    assert_unsafe(
        &ElevationStore::open(f.home.path()).unwrap_err(),
        f.home.path(),
        &UnsafeEntry::WritableByOthers { mode: 0o775 },
    );
}

#[test]
fn an_elevations_dir_that_is_a_symlink_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let target = tempfile::tempdir().unwrap();
    let dir = home.path().join("elevations");
    std::os::unix::fs::symlink(target.path(), &dir).unwrap();
    assert_unsafe(
        &ElevationStore::open(home.path()).unwrap_err(),
        &dir,
        &UnsafeEntry::SymbolicLink,
    );
}

#[test]
fn an_elevations_path_that_is_a_file_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("elevations");
    fs::write(&dir, "").unwrap();
    assert_unsafe(
        &ElevationStore::open(home.path()).unwrap_err(),
        &dir,
        &UnsafeEntry::NotDirectory,
    );
}

#[test]
fn a_foreign_elevations_dir_is_refused() {
    if !is_root() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED a_foreign_elevations_dir_is_refused: needs root to give the directory to \
             another user (chown to uid 65534)"
        );
        return;
    }
    let f = Fixture::new();
    std::os::unix::fs::chown(f.dir(), Some(65534), None).unwrap();
    assert_unsafe(
        &ElevationStore::open(f.home.path()).unwrap_err(),
        &f.dir(),
        &UnsafeEntry::OwnedByOther {
            owner: 65534,
            user: 0,
        },
    );
}

#[test]
fn open_creates_a_missing_codex_home_privately() {
    let parent = tempfile::tempdir().unwrap();
    let home = parent.path().join("new").join(".codex");
    let store = ElevationStore::open(&home).unwrap();
    assert_eq!(store.dir(), home.join("elevations"));
    assert_eq!(mode(&home.join("elevations")), 0o700);
    assert_eq!(mode(&home) & 0o077, 0);
}

// No partial state.

#[test]
fn a_failed_grant_leaves_nothing_behind() {
    let f = Fixture::new();
    let file = f.grant_file("/p");
    // Something the new grant cannot be renamed over: a non-empty directory.
    fs::remove_file(&file).unwrap();
    fs::create_dir(&file).unwrap();
    fs::write(file.join("x"), "").unwrap();
    let err = f
        .store
        .grant(
            Path::new("/p"),
            SecurityProfile::Trusted,
            MINUTE,
            "why",
            f.now,
        )
        .unwrap_err();
    assert!(matches!(err, ElevationError::Io { .. }), "{err:?}");
    let mut names: Vec<String> = fs::read_dir(f.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            ".key".to_owned(),
            file.file_name().unwrap().to_string_lossy().into_owned()
        ]
    );
}

#[test]
fn errors_say_what_is_wrong_and_how_to_fix_it() {
    let f = Fixture::new();
    let file = f.grant_file("/p");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(
        f.lookup_err("/p").to_string(),
        format!(
            "{}: has mode 0644, which lets its group or others read or write it; remove it, or \
             restrict it to its owner (mode 0600) if its contents are trusted",
            file.display()
        )
    );
    assert_eq!(
        parse_duration("9h").unwrap_err().to_string(),
        "an elevation of 9h is longer than the maximum of 8h; ask for 8h or less, or choose the \
         profile in config.toml for lasting trust"
    );
    assert_eq!(
        parse_duration("15").unwrap_err().to_string(),
        "invalid duration \"15\": the last number has no unit (h, m or s); write whole hours, \
         minutes and seconds, such as 90s, 15m, 2h or 1h30m"
    );
}

#[test]
fn a_hard_linked_grant_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let project = std::fs::canonicalize(project.path()).unwrap();
    let store = ElevationStore::open(home.path()).unwrap();
    let now = std::time::SystemTime::now();
    store
        .grant(
            &project,
            SecurityProfile::Workspace,
            Duration::from_secs(60),
            "r",
            now,
        )
        .unwrap();
    let grant = std::fs::read_dir(store.dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    std::fs::hard_link(&grant, home.path().join("second-name")).unwrap();
    let err = store.lookup(&project, now).unwrap_err();
    assert!(err.to_string().contains("hard links"), "{err}");
}
