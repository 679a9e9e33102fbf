//! Approval: what each approval policy does with each class of command
//! (the gate's table), and the approver a session asks.

use std::sync::Arc;

use codex_policy_model::ApprovalPolicy;

/// A command line shown to the session's approver.
///
/// # Examples
///
/// The approver a session is built with sees each request: here it approves
/// only `touch` of a file named `approved`.
///
/// ```
/// # #[cfg(all(target_os = "linux", feature = "exec-policy"))] {
/// use codex_policy::{ApprovalKind, ApprovalPolicy, AuditDestination, Session};
///
/// let project = tempfile::tempdir()?;
/// # let home = tempfile::tempdir()?;
/// let session = Session::builder()
///     .profile("workspace".parse()?)
///     .approval_policy(ApprovalPolicy::Untrusted, "--ask-for-approval untrusted")
///     .cwd(project.path())
/// #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
///     .audit(AuditDestination::Off)
///     .best_effort(true)
///     .approver(|request| {
///         request.kind == ApprovalKind::Run && request.argv == ["touch", "approved"]
///     })
///     .build()?;
/// assert!(session.command(["touch", "approved"]).status()?.success());
/// assert!(session.command(["touch", "declined"]).status().is_err());
/// assert!(project.path().join("approved").exists());
/// assert!(!project.path().join("declined").exists());
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct ApprovalRequest<'a> {
    /// The command line.
    pub argv: &'a [String],
    /// The rules that asked, in one line (or, for a rerun, why it is asked).
    pub explanation: &'a str,
    /// What is asked.
    pub kind: ApprovalKind,
}

/// What an approval request asks.
///
/// # Examples
///
/// Under `on-failure` a command runs in the sandbox without asking; when it
/// fails, the approver is asked whether to run it again without the
/// sandbox's restrictions.
///
/// ```
/// # #[cfg(all(target_os = "linux", feature = "exec-policy"))] {
/// use std::sync::{Arc, Mutex};
/// use codex_policy::{Approval, ApprovalKind, ApprovalPolicy, AuditDestination, Session};
///
/// let project = tempfile::tempdir()?;
/// # let home = tempfile::tempdir()?;
/// let asked = Arc::new(Mutex::new(Vec::new()));
/// let seen = Arc::clone(&asked);
/// let session = Session::builder()
///     .profile("workspace".parse()?)
///     .approval_policy(ApprovalPolicy::OnFailure, "--ask-for-approval on-failure")
///     .cwd(project.path())
/// #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
///     .audit(AuditDestination::Off)
///     .best_effort(true)
///     .approver(move |request| {
///         seen.lock().unwrap().push(request.kind);
///         Approval::Declined
///     })
///     .build()?;
/// let status = session.command(["false"]).status()?;
/// assert!(!status.success()); // declined: the sandboxed run's status
/// assert_eq!(*asked.lock().unwrap(), [ApprovalKind::RerunWithoutSandbox]);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApprovalKind {
    /// Whether to run the command (in the sandbox).
    Run,
    /// `on-failure`: the command failed in the sandbox; whether to run it
    /// again WITHOUT the sandbox's restrictions.
    RerunWithoutSandbox,
}

/// The exec policy's verdict on a command line, in the classes the approval
/// policies act on. Ordered from least to most strict.
///
/// # Examples
///
/// [`Check::class`](crate::Check::class) gives a command line's class; here
/// from a checker consulting the built-in default policy.
///
/// ```
/// # #[cfg(feature = "exec-policy")] {
/// use codex_policy::{AuditDestination, GateClass, Session};
///
/// let project = tempfile::tempdir()?;
/// # let home = tempfile::tempdir()?;
/// let checker = Session::builder()
///     .profile("workspace".parse()?)
///     .cwd(project.path())
/// #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
///     .audit(AuditDestination::Off)
///     .build_checker()?;
/// let class = checker.check(&["rm", "-rf", "/"])?.class();
/// assert_eq!(class, GateClass::Forbidden);
/// assert_eq!(class.as_str(), "forbidden");
/// assert!(GateClass::Safe < class); // ordered from least to most strict
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum GateClass {
    /// Known to only read (a program definition's Safe), or allowed by a rule.
    Safe,
    /// Writes, only to paths verified against the policy.
    Match,
    /// No rule or definition says anything about it.
    Unmatched,
    /// Its safety is unknown: an option a definition does not know, a
    /// write outside the writable roots, something that could change what
    /// runs (a variable such as `LD_PRELOAD`, a program at an unlisted path).
    Unverified,
    /// A rule asks for approval (`decision = "prompt"`).
    Prompt,
    /// A rule or definition forbids it.
    Forbidden,
}

impl GateClass {
    /// Every class, from the least to the most strict.
    pub const ALL: [Self; 6] = [
        Self::Safe,
        Self::Match,
        Self::Unmatched,
        Self::Unverified,
        Self::Prompt,
        Self::Forbidden,
    ];

    /// The class's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Safe => "safe",
            Self::Match => "match",
            Self::Unmatched => "unmatched",
            Self::Unverified => "unverified",
            Self::Prompt => "prompt",
            Self::Forbidden => "forbidden",
        }
    }
}

/// What the gate does with a command.
///
/// # Examples
///
/// [`gate_action`] says which one a command gets:
///
/// ```
/// use codex_policy::{ApprovalPolicy, GateAction, GateClass, gate_action};
///
/// let action = gate_action(GateClass::Unmatched, ApprovalPolicy::Untrusted, false);
/// assert_eq!(action, GateAction::Ask);
/// let action = gate_action(GateClass::Unmatched, ApprovalPolicy::OnRequest, false);
/// assert_eq!(action, GateAction::Run);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum GateAction {
    /// Run it (in the sandbox).
    Run,
    /// Ask the approver first.
    Ask,
    /// Refuse it (126).
    Refuse,
}

/// The gate's table: what `approval` does with a command of `class`.
/// `unsandboxed` is the `trusted` profile: there only `never` runs what
/// would ask, without asking (the `--yolo` preset). `forbidden` is refused
/// whatever the mode.
///
/// | class | untrusted | on-request, on-failure | never |
/// |---|---|---|---|
/// | safe | run | run | run |
/// | match, unmatched, unverified | ask | run | run |
/// | prompt | ask | ask | refuse (trusted: run) |
/// | forbidden | refuse | refuse | refuse |
///
/// # Examples
///
/// ```
/// use codex_policy::{ApprovalPolicy, GateAction, GateClass, gate_action};
///
/// // A rule's `prompt` asks, except under `never`, which refuses it...
/// assert_eq!(gate_action(GateClass::Prompt, ApprovalPolicy::OnRequest, false), GateAction::Ask);
/// assert_eq!(gate_action(GateClass::Prompt, ApprovalPolicy::Never, false), GateAction::Refuse);
/// // ...unless the profile is `trusted` (the `--yolo` preset).
/// assert_eq!(gate_action(GateClass::Prompt, ApprovalPolicy::Never, true), GateAction::Run);
/// // Forbidden stays forbidden.
/// assert_eq!(gate_action(GateClass::Forbidden, ApprovalPolicy::Never, true), GateAction::Refuse);
/// ```
pub fn gate_action(class: GateClass, approval: ApprovalPolicy, unsandboxed: bool) -> GateAction {
    match (class, approval) {
        (GateClass::Forbidden, _) => GateAction::Refuse,
        (GateClass::Safe, _) => GateAction::Run,
        (_, ApprovalPolicy::Untrusted) => GateAction::Ask,
        (GateClass::Prompt, ApprovalPolicy::Never) if unsandboxed => GateAction::Run,
        (GateClass::Prompt, ApprovalPolicy::Never) => GateAction::Refuse,
        (GateClass::Prompt, _) => GateAction::Ask,
        _ => GateAction::Run,
    }
}

/// An approver's answer.
///
/// # Examples
///
/// An approver may answer with a `bool` (`true` is [`Approval::Approved`])
/// or with an `Approval`; a declined command is refused and never starts.
///
/// ```
/// # #[cfg(all(target_os = "linux", feature = "exec-policy"))] {
/// use codex_policy::{Approval, ApprovalPolicy, AuditDestination, Error, Refusal, Session};
///
/// assert_eq!(Approval::from(true), Approval::Approved);
///
/// let project = tempfile::tempdir()?;
/// # let home = tempfile::tempdir()?;
/// let session = Session::builder()
///     .profile("workspace".parse()?)
///     .approval_policy(ApprovalPolicy::Untrusted, "--ask-for-approval untrusted")
///     .cwd(project.path())
/// #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
///     .audit(AuditDestination::Off)
///     .best_effort(true)
///     .approver(|_| Approval::Declined)
///     .build()?;
/// let err = session.command(["touch", "note"]).status().unwrap_err();
/// assert!(matches!(err, Error::Refused(Refusal::NotApproved { asked: true, .. })));
/// assert!(!project.path().join("note").exists());
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Approval {
    /// Run it.
    Approved,
    /// A person said no.
    Declined,
    /// Nobody could be asked (no terminal): a refusal that says how to approve.
    Unavailable,
}

impl From<bool> for Approval {
    fn from(approved: bool) -> Self {
        if approved {
            Self::Approved
        } else {
            Self::Declined
        }
    }
}

/// Decides on a command line the session asks approval for.
///
/// # Examples
///
/// An embedder can keep one approver and hand it to each session it builds.
///
/// ```
/// # #[cfg(all(target_os = "linux", feature = "exec-policy"))] {
/// use std::sync::Arc;
/// use codex_policy::{
///     Approval, ApprovalPolicy, ApprovalRequest, Approver, AuditDestination, Error, Refusal,
///     Session,
/// };
///
/// // Approves read-only git commands, declines everything else.
/// let approver: Approver = Arc::new(|request: &ApprovalRequest<'_>| match request.argv {
///     [git, sub, ..] if git == "git" && (sub == "status" || sub == "log") => Approval::Approved,
///     _ => Approval::Declined,
/// });
///
/// let project = tempfile::tempdir()?;
/// # let home = tempfile::tempdir()?;
/// let shared = Arc::clone(&approver);
/// let session = Session::builder()
///     .profile("workspace".parse()?)
///     .approval_policy(ApprovalPolicy::Untrusted, "--ask-for-approval untrusted")
///     .cwd(project.path())
/// #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
///     .audit(AuditDestination::Off)
///     .best_effort(true)
///     .approver(move |request| shared(request))
///     .build()?;
/// let err = session.command(["touch", "note"]).status().unwrap_err();
/// assert!(matches!(err, Error::Refused(Refusal::NotApproved { asked: true, .. })));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type Approver = Arc<dyn Fn(&ApprovalRequest<'_>) -> Approval + Send + Sync>;
