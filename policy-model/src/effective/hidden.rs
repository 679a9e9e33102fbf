//! The paths hidden from the commands of one run: the defaults the caller
//! found (credential stores, the harness's own files) with the chosen
//! profile's `[permissions.<profile>.filesystem]` applied.

use std::path::Path;

use crate::files::ConfigError;
use crate::policy::{HiddenPaths, SandboxPolicy};
use crate::validate::LoadedConfig;

/// What `policy` hides: nothing under full access (it reads everything);
/// otherwise `defaults` plus `deny_read`, less `allow_read`, of the
/// `[permissions.<profile_name>.filesystem]` table of `config`. `~/` in an
/// entry is `home`. An entry that cannot apply (`allow_read` of a path that
/// is not hidden, inside a hidden directory, or always hidden; `~/` with no
/// home known) is an error located at the entry.
///
/// # Errors
///
/// [`ConfigError::Invalid`], located at the entry, when the profile's `deny_read` or
/// `allow_read` holds more than `MAX_READ_RULES` entries or an entry that is not an
/// absolute or `~/` path, or when an entry cannot apply as described above.
pub fn hidden_paths(
    policy: &SandboxPolicy,
    profile_name: &str,
    config: Option<&LoadedConfig>,
    defaults: HiddenPaths,
    home: Option<&Path>,
) -> Result<HiddenPaths, ConfigError> {
    if policy.has_full_disk_write_access() {
        return Ok(HiddenPaths::default());
    }
    let mut hidden = defaults;
    let Some(config) = config else {
        return Ok(hidden);
    };
    let Some(table) = config
        .config
        .permissions
        .get(profile_name)
        .and_then(|p| p.filesystem.as_ref())
    else {
        return Ok(hidden);
    };
    let source = &config.source;
    let no_home = |entry: &crate::files::ReadRuleEntry, key: &str| {
        source.error(
            Some(entry.span.clone()),
            Some(key.to_owned()),
            format!(
                "{} is under the home directory, and no home is known",
                entry.path
            ),
            Some("set HOME, or write an absolute path".to_owned()),
        )
    };
    let deny_key = format!("permissions.{profile_name}.filesystem.deny_read");
    for entry in table.deny_entries(source, profile_name)? {
        let path = entry
            .path
            .resolve(home)
            .ok_or_else(|| no_home(&entry, &deny_key))?;
        hidden.add(path, &entry.at, false);
    }
    let allow_key = format!("permissions.{profile_name}.filesystem.allow_read");
    for entry in table.allow_entries(source, profile_name)? {
        let path = entry
            .path
            .resolve(home)
            .ok_or_else(|| no_home(&entry, &allow_key))?;
        hidden.allow(&path, &entry.at).map_err(|e| {
            source.error(
                Some(entry.span.clone()),
                Some(allow_key.clone()),
                e.to_string(),
                Some(match e {
                    crate::policy::AllowReadError::NotHidden { .. } => {
                        "remove the entry; `explain` lists what is hidden".to_owned()
                    }
                    crate::policy::AllowReadError::InsideHidden { .. } => {
                        "allow the hidden directory itself".to_owned()
                    }
                    _ => "remove the entry".to_owned(),
                }),
            )
        })?;
    }
    Ok(hidden)
}
