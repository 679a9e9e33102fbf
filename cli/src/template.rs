//! Writing a built-in profile template into `config.toml`, for editing:
//! what `codex-policy init --template` does.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use codex_policy_model::{CodexConfig, SourceFile};
use codex_profiles::ProfileTemplate;

use crate::error::ConfigurationError;

/// Appends `template`'s `[profiles.<name>]` table to the `config.toml` at
/// `path`, creating it (mode 0600, its directory 0700) when missing.
/// Refused, with nothing written, when the file is a link, not a regular
/// file, not writable, does not parse, already defines the profile, or
/// would not parse afterwards. Written beside and renamed: a reader sees
/// the old file or the new one.
///
/// # Examples
///
/// ```
/// use codex_policy::profiles::ProfileTemplate;
/// use codex_policy::{ConfigurationError, add_profile_template};
///
/// let codex_home = tempfile::tempdir()?;
/// let config = codex_home.path().join("config.toml");
/// let ci = ProfileTemplate::find("ci").ok_or("a built-in template")?;
/// add_profile_template(&config, ci)?;
/// assert!(std::fs::read_to_string(&config)?.contains("[profiles.ci]"));
///
/// // Never twice: the file is left as it is.
/// let err = add_profile_template(&config, ci).unwrap_err();
/// assert!(matches!(err, ConfigurationError::ConfigNotWritten { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`ConfigurationError`] for each refusal above; the file is unchanged.
pub fn add_profile_template(
    path: &Path,
    template: &ProfileTemplate,
) -> Result<(), ConfigurationError> {
    let refused = |reason: String| ConfigurationError::ConfigNotWritten {
        path: path.to_path_buf(),
        reason,
    };
    let mut text = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(refused(
                "is a symbolic link; the file is replaced whole, not written through a link: \
                 name the file itself"
                    .into(),
            ));
        }
        Ok(meta) if !meta.is_file() => return Err(refused("is not a regular file".into())),
        Ok(meta) if meta.permissions().readonly() || !writable(path) => {
            return Err(refused("is not writable".into()));
        }
        Ok(_) => {
            let (source, config) =
                CodexConfig::load(path).map_err(|e| ConfigurationError::Profile(e.into()))?;
            if config.profiles.contains_key(template.name) {
                return Err(refused(format!(
                    "already defines [profiles.{}]",
                    template.name
                )));
            }
            source.text().to_owned()
        }
        Err(_) => String::new(),
    };
    if !text.is_empty() {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push('\n');
    }
    text.push_str(&template.table_text());
    // The result must still be a config.toml codex-policy reads.
    let source = SourceFile::from_bytes(path, text.clone().into_bytes())
        .map_err(|e| ConfigurationError::Profile(e.into()))?;
    CodexConfig::parse(&source).map_err(|e| ConfigurationError::Profile(e.into()))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| refused(format!("its directory cannot be created: {e}")))?;
    }
    write_beside(path, &text).map_err(|e| refused(e.to_string()))
}

/// Whether this process may write `path` (as the kernel would judge it).
fn writable(path: &Path) -> bool {
    let Ok(name) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: a valid C string; access only inspects the file.
    unsafe { libc::access(name.as_ptr(), libc::W_OK) == 0 }
}

/// Writes `text` to a new file beside `path` (mode 0600, or `path`'s mode),
/// then renames it over `path`; the new file is removed on failure.
fn write_beside(path: &Path, text: &str) -> std::io::Result<()> {
    let mode = std::fs::metadata(path).map_or(0o600, |m| m.permissions().mode() & 0o7777);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(name);
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
