//! Named profiles: the `[profiles.<name>]` tables of `config.toml` and the
//! built-in templates, each possibly building on another (`extends`).

use std::path::{Path, PathBuf};

use codex_policy_model::{ApprovalPolicy, CodexConfig, CodexProfileTable, SandboxMode, SourceFile};
use serde::Serialize;

use crate::{ProfileError, SecurityProfile};

/// A built-in profile template: a `[profiles.<name>]` table that needs no
/// configuration, usable as `--profile <name>` and written into
/// `config.toml` by `codex-policy init --template <name>` for editing.
///
/// # Examples
///
/// ```
/// use codex_profiles::{ProfileTemplate, TEMPLATES};
///
/// let ci = ProfileTemplate::find("ci").ok_or("no template named ci")?;
/// assert_eq!(ci.body, "extends = \"workspace\"\napproval_policy = \"never\"\n");
/// // What `codex-policy init --template ci` writes: a comment, then the table.
/// assert!(ci.table_text().starts_with("# unattended builds and tests"));
/// assert!(ci.table_text().ends_with("[profiles.ci]\nextends = \"workspace\"\napproval_policy = \"never\"\n"));
/// assert_eq!(TEMPLATES.map(|t| t.name), ["review", "research", "ci"]);
/// assert!(ProfileTemplate::find("deploy").is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProfileTemplate {
    /// The name (`--profile review`).
    pub name: &'static str,
    /// What it is for, in one line.
    pub description: &'static str,
    /// The body of its `[profiles.<name>]` table.
    pub body: &'static str,
}

/// The built-in templates. A `[profiles.<name>]` table of the same name in
/// `config.toml` replaces one.
pub const TEMPLATES: [ProfileTemplate; 3] = [
    ProfileTemplate {
        name: "review",
        description: "read and review code: nothing written, no network; asks before \
                      anything the exec policy does not know to be safe",
        body: "extends = \"offline\"\napproval_policy = \"untrusted\"\n",
    },
    ProfileTemplate {
        name: "research",
        description: "read code and the web: nothing written; network read-only \
                      (GET, HEAD, OPTIONS) through the egress proxy",
        body: "extends = \"net-read-only\"\napproval_policy = \"on-request\"\n",
    },
    ProfileTemplate {
        name: "ci",
        description: "unattended builds and tests: workspace writes, no network; never \
                      asks, so what would ask is refused",
        body: "extends = \"workspace\"\napproval_policy = \"never\"\n",
    },
];

impl ProfileTemplate {
    /// The template by name.
    pub fn find(name: &str) -> Option<&'static Self> {
        TEMPLATES.iter().find(|t| t.name == name)
    }

    /// The table as it is written into `config.toml`.
    pub fn table_text(&self) -> String {
        format!(
            "# {}\n[profiles.{}]\n{}",
            self.description, self.name, self.body
        )
    }
}

/// One profile of a chain, in the order they were followed.
///
/// # Examples
///
/// A `[profiles.nightly]` table of `config.toml` that extends the built-in
/// `ci` template, which extends the `workspace` security profile:
///
/// ```
/// use codex_profiles::{ProfileChoice, ProfileLink, ProfileResolver, SecurityProfile};
///
/// # let dir = tempfile::tempdir()?;
/// let config = dir.path().join("config.toml");
/// std::fs::write(&config, "[profiles.nightly]\nextends = \"ci\"\n")?;
/// let resolved = ProfileResolver::new()
///     .environment(|_| None)
///     .config_file(Some(config.clone()))
///     .choice(Some("nightly".parse::<ProfileChoice>()?), "--profile")
///     .resolve()?;
/// let chain = resolved.named.ok_or("no named profile")?.chain;
/// assert_eq!(chain, [
///     ProfileLink::Config { name: "nightly".into(), path: config },
///     ProfileLink::Template { name: "ci".into() },
///     ProfileLink::Security { profile: SecurityProfile::Workspace },
/// ]);
/// assert_eq!(chain[1].to_string(), "built-in template ci");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ProfileLink {
    /// A `[profiles.<name>]` table.
    Config {
        /// Its name.
        name: String,
        /// The file that holds it.
        path: PathBuf,
    },
    /// A built-in template.
    Template {
        /// Its name.
        name: String,
    },
    /// A security profile, where a chain ends.
    Security {
        /// The profile.
        profile: SecurityProfile,
    },
}

impl std::fmt::Display for ProfileLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Config { name, path } => write!(f, "[profiles.{name}] of {}", path.display()),
            Self::Template { name } => write!(f, "built-in template {name}"),
            Self::Security { profile } => write!(f, "security profile {profile}"),
        }
    }
}

/// What a named profile resolves to.
///
/// # Examples
///
/// `--profile review` names a built-in template: no `config.toml` is needed.
///
/// ```
/// use codex_policy_model::ApprovalPolicy;
/// use codex_profiles::{ProfileChoice, ProfileResolver, SecurityProfile};
///
/// let resolved = ProfileResolver::new()
///     .environment(|_| None)
///     .choice(Some("review".parse::<ProfileChoice>()?), "--profile")
///     .resolve()?;
/// let named = resolved.named.ok_or("no named profile")?;
/// assert_eq!(named.name, "review");
/// assert_eq!(named.chain.len(), 2); // the template, then `offline`
/// assert_eq!(named.profile, SecurityProfile::Offline);
/// let (policy, key) = named.approval.ok_or("no approval policy")?;
/// assert_eq!((policy, key.as_str()), (ApprovalPolicy::Untrusted, "template review.approval_policy"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NamedProfile {
    /// The name asked for.
    pub name: String,
    /// The profiles followed through `extends`, the asked one first.
    pub chain: Vec<ProfileLink>,
    /// The security profile it comes to.
    pub profile: SecurityProfile,
    /// What decided the security profile (`profiles.ci.sandbox_mode`, a
    /// template's `extends`, …).
    pub profile_key: String,
    /// Its approval policy and the key that set it, if any link sets one.
    pub approval: Option<(ApprovalPolicy, String)>,
    /// The `[permissions.<name>]` table that applies: the first link that
    /// has one.
    pub permissions: Option<String>,
    /// The first link with a `[profiles.<name>.sandbox_workspace_write]`
    /// table: its settings replace the top-level ones.
    pub workspace_settings_of: Option<String>,
}

/// How many profiles a chain may follow.
const MAX_CHAIN: usize = 16;

/// Resolves `name`, a `[profiles.<name>]` table of `config` or a template,
/// following `extends`. `fallback` is what a chain that never sets a mode
/// comes to (the file's top-level choice, else the default).
pub(crate) fn resolve(
    name: &str,
    config: Option<(&SourceFile, &CodexConfig)>,
    fallback: SecurityProfile,
) -> Result<NamedProfile, ProfileError> {
    let mut chain: Vec<ProfileLink> = Vec::new();
    let mut profile: Option<(SecurityProfile, String)> = None;
    let mut approval: Option<(ApprovalPolicy, String)> = None;
    let mut permissions: Option<String> = None;
    let mut workspace: Option<String> = None;
    let has_permissions = |n: &str| config.is_some_and(|(_, c)| c.permissions.contains_key(n));
    let mut current = name.to_owned();
    // Where the current name was written (an `extends` value), for errors.
    let mut named_at: Option<(&SourceFile, std::ops::Range<usize>)> = None;
    loop {
        let names: Vec<String> = chain.iter().filter_map(link_name).collect();
        if names.contains(&current) {
            let (source, span) = named_at.ok_or_else(|| unknown(name, config))?;
            let mut cycle = names.clone();
            cycle.push(current.clone());
            return Err(source
                .error(
                    Some(span),
                    Some(format!(
                        "profiles.{}.extends",
                        names.last().map_or("", |n| n)
                    )),
                    format!(
                        "profiles extend each other in a cycle: {}",
                        cycle.join(" -> ")
                    ),
                    Some("make one of them extend a security profile or nothing".into()),
                )
                .into());
        }
        if chain.len() >= MAX_CHAIN {
            let (source, span) = named_at.ok_or_else(|| unknown(name, config))?;
            return Err(source
                .error(
                    Some(span),
                    None,
                    format!("profiles extend each other more than {MAX_CHAIN} deep"),
                    Some("shorten the chain of extends".into()),
                )
                .into());
        }
        let template_source;
        let template_config;
        let (table, key_prefix): (&CodexProfileTable, String) = if let Some((source, table)) =
            config.and_then(|(s, c)| c.profiles.get(&current).map(|t| (s, t)))
        {
            chain.push(ProfileLink::Config {
                name: current.clone(),
                path: source.path().to_path_buf(),
            });
            (table, format!("profiles.{current}"))
        } else if let Some(template) = ProfileTemplate::find(&current) {
            template_source = SourceFile::from_bytes(
                Path::new(&format!("<built-in template {}>", template.name)),
                template.table_text().into_bytes(),
            )?;
            template_config = CodexConfig::parse(&template_source)?;
            let Some(table) = template_config.profiles.get(template.name) else {
                return Err(unknown(&current, config));
            };
            chain.push(ProfileLink::Template {
                name: current.clone(),
            });
            (table, format!("template {current}"))
        } else if let (Ok(security), false) = (current.parse::<SecurityProfile>(), chain.is_empty())
        {
            chain.push(ProfileLink::Security { profile: security });
            if permissions.is_none() && has_permissions(&current) {
                permissions = Some(current.clone());
            }
            // Spelled as the table's other keys are: `template review.extends`
            // for a built-in template, `profiles.dev.extends` for config.toml.
            let extended = match chain.iter().rev().nth(1) {
                Some(ProfileLink::Config { name, .. }) => {
                    format!("profiles.{name}.extends = \"{security}\"")
                }
                Some(ProfileLink::Template { name }) => {
                    format!("template {name}.extends = \"{security}\"")
                }
                _ => String::new(),
            };
            profile.get_or_insert((security, extended));
            break;
        } else {
            return Err(match named_at {
                Some((source, span)) => source
                    .error(
                        Some(span),
                        Some(format!(
                            "profiles.{}.extends",
                            names.last().map_or("", |n| n)
                        )),
                        format!("extends names {current:?}, which is no profile"),
                        Some(known_help(&current, config)),
                    )
                    .into(),
                None => unknown(&current, config),
            });
        };
        if permissions.is_none() && has_permissions(&current) {
            permissions = Some(current.clone());
        }
        if profile.is_none()
            && let Some(mode) = &table.sandbox_mode
        {
            let network = table
                .sandbox_workspace_write
                .as_ref()
                .filter(|_| *mode.get_ref() == SandboxMode::WorkspaceWrite)
                .and_then(|t| t.network_access.as_ref())
                .is_some_and(|n| *n.get_ref());
            let security = SecurityProfile::from_mode(
                *mode.get_ref(),
                network || *mode.get_ref() == SandboxMode::DangerFullAccess,
            )
            .unwrap_or(SecurityProfile::Offline);
            profile = Some((security, format!("{key_prefix}.sandbox_mode")));
        }
        if approval.is_none()
            && let Some(policy) = &table.approval_policy
        {
            approval = Some((*policy.get_ref(), format!("{key_prefix}.approval_policy")));
        }
        if workspace.is_none() && table.sandbox_workspace_write.is_some() {
            workspace = Some(current.clone());
        }
        let Some(next) = &table.extends else {
            break;
        };
        current = next.get_ref().clone();
        named_at = match chain.last() {
            Some(ProfileLink::Config { .. }) => config.map(|(s, _)| (s, next.span())),
            // A template's extends names a security profile: always found.
            _ => None,
        };
    }
    let (profile, profile_key) = profile.unwrap_or((
        fallback,
        "nothing in the chain sets a mode: the top-level choice".to_owned(),
    ));
    Ok(NamedProfile {
        name: name.to_owned(),
        chain,
        profile,
        profile_key,
        approval,
        permissions,
        workspace_settings_of: workspace,
    })
}

fn link_name(link: &ProfileLink) -> Option<String> {
    match link {
        ProfileLink::Config { name, .. } | ProfileLink::Template { name } => Some(name.clone()),
        ProfileLink::Security { profile } => Some(profile.to_string()),
    }
}

/// Every name `--profile` accepts: the security profiles, the templates,
/// then `config.toml`'s other `[profiles.<name>]` tables.
fn known_names(config: Option<(&SourceFile, &CodexConfig)>) -> Vec<String> {
    let mut names: Vec<String> = SecurityProfile::ALL.iter().map(|p| p.to_string()).collect();
    names.extend(TEMPLATES.iter().map(|t| t.name.to_owned()));
    if let Some((_, config)) = config {
        names.extend(
            config
                .profiles
                .keys()
                .filter(|n| ProfileTemplate::find(n).is_none())
                .cloned(),
        );
    }
    names
}

/// Every name `--profile` accepts, for the error refusing `given`: a "did
/// you mean" first when one of them is a likely typo of it.
fn known_help(given: &str, config: Option<(&SourceFile, &CodexConfig)>) -> String {
    let names = known_names(config);
    let list = format!("profiles: {}", names.join(", "));
    match codex_policy_model::closest_name(given, &names) {
        Some(best) => format!("did you mean `{best}`? {list}"),
        None => list,
    }
}

fn unknown(name: &str, config: Option<(&SourceFile, &CodexConfig)>) -> ProfileError {
    ProfileError::UnknownName {
        name: name.to_owned(),
        known: known_help(name, config),
    }
}
