//! The `codex-policy` command-line tool. See `docs/cli.md` for the contract.

mod audit;
mod config_files;
mod exec_rules;
mod explain;
mod profile;
mod sandbox;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use codex_policy::model::{CodexRc, HarnessPolicy, Requirements, RuntimePattern};
use codex_policy::{
    CodexConfig, ConfigurationError, Error, Refusal, SandboxPolicy, SecurityProfile, SessionBuilder,
};
use serde::Serialize;

/// Exit statuses of the contract.
mod exit {
    /// The inputs (environment, config files) are invalid.
    pub(crate) const INVALID_INPUT: u8 = 1;
    /// The command line itself is wrong (clap uses the same status).
    pub(crate) const USAGE: u8 = 2;
    /// codex-policy could not start the command under the requested restrictions,
    /// or failed itself.
    pub(crate) const CANNOT_START: u8 = 125;
}

/// Decide and enforce what an AI agent's child processes may do.
#[derive(Debug, Parser)]
#[command(name = "codex-policy", version, about, max_term_width = 100)]
struct Cli {
    /// Security profile: offline, net-read-only, workspace, workspace-net or trusted.
    /// Wins over CODEX_SECURITY_PROFILE and config.toml.
    #[arg(long, global = true, value_name = "PROFILE", value_parser = parse_profile)]
    profile: Option<SecurityProfile>,

    /// config.toml to read instead of $CODEX_HOME/config.toml (default ~/.codex/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Print the resolved profile, its capabilities and the source that chose it.
    #[arg(long)]
    show_profile: bool,

    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a command under the effective policy's sandbox.
    Run(RunArgs),
    /// The launcher: validate the runtime files (errors: 125, nothing
    /// started), export CODEX_* and AWS_* for the command, then `run` it.
    Launch(RunArgs),
    /// Show the effective policy and the source that decided each field.
    Explain(PolicyInputs),
    /// Read the audit log: `tail` (the last events) or `query` (filtered).
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Decide on a command line with the exec policy (the default policy
    /// without --rules); prints Codex's {"decision", "matchedRules"} with --json.
    Check {
        /// A rules file (Starlark); may be repeated. Default: the built-in policy.
        #[arg(long = "rules", value_name = "FILE")]
        rules: Vec<PathBuf>,
        /// The command line to decide on.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
        #[command(flatten)]
        audit: AuditArgs,
    },
    /// Show what this host can enforce, for every profile.
    Doctor,
    /// Codex-compatible debugging: `run` plus a report of the rules applied.
    Debug {
        /// Which sandbox (only `landlock` exists on Linux).
        backend: DebugBackend,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Check .codexrc.json, harness.policy.json, config.toml and requirements.toml.
    Validate {
        #[command(flatten)]
        files: RuntimeFiles,
        /// Fail on warnings too.
        #[arg(long)]
        strict: bool,
    },
    /// Write one of the environment patterns (.codexrc.json + harness.policy.json).
    Init {
        /// development, sandbox, production or air-gapped.
        #[arg(long, value_parser = parse_pattern)]
        pattern: RuntimePattern,
        /// Where to write (default: the current directory).
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
    /// Run the egress proxy in the foreground, on this host's loopback, for
    /// the effective policy (the inputs of `run`); one line per listener.
    Proxy(ProxyArgs),
    /// Print the JSON Schema of a configuration type, generated from the code.
    Schema {
        /// Which schema.
        name: SchemaName,
    },
}

fn parse_pattern(name: &str) -> Result<RuntimePattern, String> {
    name.parse::<RuntimePattern>().map_err(|e| e.to_string())
}

/// What the effective policy is composed from, besides profile and config.toml.
#[derive(Debug, Args)]
struct PolicyInputs {
    /// Directory to run in (and the main writable root); default: the current one.
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,
    /// Extra writable directory (workspace profiles only); may be repeated.
    #[arg(long = "writable-root", value_name = "DIR")]
    writable_roots: Vec<PathBuf>,
    #[command(flatten)]
    files: RuntimeFiles,
}

/// The runtime-control files (config.toml is the global `--config`).
#[derive(Debug, Clone, Args)]
struct RuntimeFiles {
    /// .codexrc.json (default: $CODEX_RUNTIME_CONFIG, else ./.codexrc.json if present).
    #[arg(long, value_name = "FILE")]
    runtime: Option<PathBuf>,
    /// harness.policy.json (default: $CODEX_POLICY_FILE, else ./harness.policy.json if present).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Managed requirements.toml (default: /etc/codex/requirements.toml if present).
    #[arg(long, value_name = "FILE")]
    requirements: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    inputs: PolicyInputs,
    /// Run even if this host cannot enforce everything, and say what is not enforced.
    #[arg(long)]
    best_effort: bool,
    /// Consult these exec-policy rules first (forbidden: 126; prompt: ask on the
    /// terminal, 126 without one); may be repeated.
    #[arg(long = "rules", value_name = "FILE")]
    rules: Vec<PathBuf>,
    #[command(flatten)]
    audit: AuditArgs,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<OsString>,
}

#[derive(Debug, Args)]
struct ProxyArgs {
    /// Where the HTTP proxy listens (a loopback address; port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:3128", value_parser = parse_listen)]
    listen: std::net::SocketAddr,
    /// Where the SOCKS5 proxy listens (a loopback address; port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1080", value_parser = parse_listen)]
    socks: std::net::SocketAddr,
    /// Also print the variables to export, in shell syntax.
    #[arg(long)]
    print_env: bool,
    #[command(flatten)]
    inputs: PolicyInputs,
    /// Exec-policy rules whose network_rule entries filter the network too; may be repeated.
    #[arg(long = "rules", value_name = "FILE")]
    rules: Vec<PathBuf>,
    #[command(flatten)]
    audit: AuditArgs,
}

/// An address and port; whether the proxy may listen there (loopback only)
/// is the library's to decide.
fn parse_listen(text: &str) -> Result<std::net::SocketAddr, String> {
    text.parse()
        .map_err(|e| format!("{text:?} is not an address and port (127.0.0.1:3128): {e}"))
}

/// Where the audit events of one command go.
#[derive(Debug, Args)]
struct AuditArgs {
    /// Audit log file (default: [audit] path of config.toml, else $CODEX_HOME/audit/audit.jsonl).
    #[arg(long, value_name = "FILE")]
    audit_log: Option<PathBuf>,
    /// Session id of the events (default: a new random id per run).
    #[arg(long, value_name = "ID")]
    session_id: Option<String>,
    /// Write no audit events.
    #[arg(long, conflicts_with = "audit_log")]
    no_audit: bool,
}

#[derive(Debug, Subcommand)]
enum AuditAction {
    /// The last events.
    Tail {
        /// The log (default: $CODEX_HOME/audit/audit.jsonl).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// How many.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
    },
    /// Events matching filters, across rotated files.
    Query {
        /// The log (default: $CODEX_HOME/audit/audit.jsonl).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// allowed, denied or requires_approval.
        #[arg(long, value_parser = parse_enum::<codex_policy::audit::AuditDecision>)]
        decision: Option<codex_policy::audit::AuditDecision>,
        /// file_read, file_write, command_exec, network_connect, sandbox_start, sandbox_exit, policy_load, elevation.
        #[arg(long, value_parser = parse_enum::<codex_policy::audit::Operation>)]
        operation: Option<codex_policy::audit::Operation>,
        /// The deciding component (execpolicy, sandbox, config).
        #[arg(long)]
        source: Option<String>,
        /// One session.
        #[arg(long)]
        session: Option<String>,
        /// At or after this RFC 3339 time.
        #[arg(long, value_parser = parse_time)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Before this RFC 3339 time.
        #[arg(long, value_parser = parse_time)]
        until: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Append events read from standard input (one JSON object per line with
    /// operation, target, decision, source, and optionally reason and
    /// session_id), redacted, each in one write.
    Append {
        /// The log (default: $CODEX_HOME/audit/audit.jsonl).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

fn parse_enum<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|e| e.to_string())
}

fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{text:?} is not an RFC 3339 time (2026-11-23T18:30:00Z): {e}"))
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DebugBackend {
    /// The Linux backend: Landlock, seccomp and namespaces.
    Landlock,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SchemaName {
    /// .codexrc.json.
    Codexrc,
    /// harness.policy.json.
    HarnessPolicy,
    /// The keys of config.toml that codex-policy reads.
    Config,
    /// Managed requirements.toml.
    Requirements,
    /// A sandbox policy (`{"mode": "workspace-write", ...}`).
    SandboxPolicy,
    /// One line of the audit log.
    AuditEvent,
}

fn parse_profile(name: &str) -> Result<SecurityProfile, String> {
    name.parse()
        .map_err(|e: codex_policy::profiles::UnknownProfile| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(&cli) {
        Ok(status) => ExitCode::from(status),
        Err(failure) => {
            // Messages quote file names, programs and arguments: line by line,
            // control characters are shown, not obeyed by the terminal.
            let message: Vec<_> = failure
                .message
                .lines()
                .map(codex_policy::audit::escape_for_terminal)
                .collect();
            eprintln!("codex-policy: error: {}", message.join("\n"));
            ExitCode::from(failure.status)
        }
    }
}

/// An error message and the exit status it maps to.
struct Failure {
    status: u8,
    message: String,
}

impl Failure {
    fn new(status: u8, err: impl std::fmt::Display) -> Self {
        Self {
            status,
            message: err.to_string(),
        }
    }

    fn internal(err: impl std::fmt::Display) -> Self {
        Self::new(exit::CANNOT_START, format!("internal error: {err}"))
    }
}

/// Runs the requested command; `Ok` carries the exit status.
fn dispatch(cli: &Cli) -> Result<u8, Failure> {
    if !cli.show_profile && cli.command.is_none() {
        return Err(Failure::new(
            exit::USAGE,
            "nothing to do: give --show-profile or a command (see --help)",
        ));
    }
    // Commands that start a process report bad configuration as 125 (the contract).
    let config_status = match cli.command {
        Some(Command::Run(_) | Command::Launch(_) | Command::Debug { .. } | Command::Proxy(_)) => {
            exit::CANNOT_START
        }
        _ => exit::INVALID_INPUT,
    };
    if cli.show_profile {
        let no_inputs = PolicyInputs {
            cwd: None,
            writable_roots: Vec::new(),
            files: RuntimeFiles {
                runtime: None,
                policy: None,
                requirements: None,
            },
        };
        let resolved = session_builder(cli, &no_inputs)
            .resolve()
            .map_err(|e| failure(e, config_status))?;
        print_out(&profile::render(&resolved, cli.json)?)?;
    }
    match &cli.command {
        None => Ok(0),
        Some(Command::Schema { name }) => {
            print_out(&schema_json(*name)?)?;
            Ok(0)
        }
        Some(Command::Doctor) => sandbox::doctor(cli.json),
        Some(Command::Validate { files, strict }) => {
            config_files::run_validate(cli, files, *strict)
        }
        Some(Command::Init {
            pattern,
            dir,
            force,
        }) => config_files::run_init(*pattern, dir, *force),
        Some(Command::Run(args)) => sandbox::run(cli, args, sandbox::Mode::Run),
        Some(Command::Proxy(args)) => sandbox::proxy(cli, args),
        Some(Command::Launch(args)) => sandbox::run(cli, args, sandbox::Mode::Launch),
        Some(Command::Debug {
            backend: DebugBackend::Landlock,
            run,
        }) => sandbox::run(cli, run, sandbox::Mode::Debug),
        Some(Command::Check {
            rules,
            command,
            audit,
        }) => exec_rules::check(cli, rules, command, audit, cli.json),
        Some(Command::Audit { action }) => match action {
            AuditAction::Tail { file, lines } => audit::show(
                file.as_deref(),
                &Default::default(),
                Some(*lines),
                cli.json,
                audit_keep(cli)?,
            ),
            AuditAction::Query {
                file,
                decision,
                operation,
                source,
                session,
                since,
                until,
            } => {
                let filter = codex_policy::audit::Filter::default()
                    .with_decision(*decision)
                    .with_operation(*operation)
                    .with_source(source.clone())
                    .with_session(session.clone())
                    .with_since(*since)
                    .with_until(*until);
                audit::show(file.as_deref(), &filter, None, cli.json, audit_keep(cli)?)
            }
            AuditAction::Append { file } => audit::append(file.as_deref()),
        },
        Some(Command::Explain(inputs)) => {
            let composition = session_builder(cli, inputs)
                .compose()
                .map_err(|e| failure(e, exit::INVALID_INPUT))?;
            print_out(&explain::render(&composition, cli.json)?)?;
            Ok(0)
        }
    }
}

/// How many rotated files the log keeps (`[audit] keep` of config.toml).
fn audit_keep(cli: &Cli) -> Result<usize, Failure> {
    codex_policy::configured_audit_keep(
        cli.config.as_deref(),
        &codex_policy::Environment::process(),
    )
    .map_err(|e| Failure::new(exit::INVALID_INPUT, e))
}

/// The runtime-control files the flags name.
fn runtime_files(cli: &Cli, files: &RuntimeFiles) -> codex_policy::RuntimeFiles {
    let mut chosen = codex_policy::RuntimeFiles::default();
    chosen.runtime = files.runtime.clone();
    chosen.policy = files.policy.clone();
    chosen.requirements = files.requirements.clone();
    chosen.config = cli.config.clone();
    chosen
}

/// A session as the flags describe it.
fn session_builder(cli: &Cli, inputs: &PolicyInputs) -> SessionBuilder {
    let mut builder =
        codex_policy::Session::builder().runtime_files(runtime_files(cli, &inputs.files));
    if let Some(profile) = cli.profile {
        builder = builder.profile(profile);
    }
    if let Some(dir) = &inputs.cwd {
        builder = builder.cwd(dir);
    }
    for root in &inputs.writable_roots {
        builder = builder.writable_root(root);
    }
    builder
}

/// A library error as the command line reports it: its exit status (bad
/// configuration is `config_status`), with the flags that would help.
fn failure(err: Error, config_status: u8) -> Failure {
    let status = match &err {
        Error::Configuration(ConfigurationError::ExtraRootsNeedWrites { .. }) => exit::USAGE,
        // A file the command could have written is a refusal to start, even
        // for `explain`.
        Error::Configuration(ConfigurationError::Loosening { .. }) => exit::CANNOT_START,
        Error::Configuration(_) => config_status,
        // A listener address the proxy refuses is a wrong flag.
        Error::EgressProxy(codex_policy::network_proxy::ProxyError::NotLoopback { .. }) => {
            exit::USAGE
        }
        other => other.exit_status(),
    };
    let advice = match &err {
        Error::Configuration(ConfigurationError::InvalidFiles { .. }) => {
            "\n(run `codex-policy validate` for every finding)"
        }
        Error::Configuration(ConfigurationError::ExtraRootsNeedWrites { .. }) => {
            " (--writable-root)"
        }
        Error::AuditLog { .. } => " (use --audit-log to choose another file)",
        Error::Refused(Refusal::NotApproved { .. }) => {
            " (there was no terminal to ask on, or the answer was no)"
        }
        err if err.lacks_protection() => {
            "\n  run `codex-policy doctor` for details, or pass --best-effort to run with only \
             the protections listed as enforced"
        }
        _ => "",
    };
    Failure::new(status, format!("{err}{advice}"))
}

fn print_out(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| Failure::internal(format!("cannot write to standard output: {e}")))
}

fn to_json(value: &impl Serialize) -> Result<String, Failure> {
    serde_json::to_string_pretty(value).map_err(Failure::internal)
}

fn schema_json(name: SchemaName) -> Result<String, Failure> {
    let schema = match name {
        SchemaName::Codexrc => schemars::schema_for!(CodexRc),
        SchemaName::HarnessPolicy => schemars::schema_for!(HarnessPolicy),
        SchemaName::Config => schemars::schema_for!(CodexConfig),
        SchemaName::Requirements => schemars::schema_for!(Requirements),
        SchemaName::SandboxPolicy => schemars::schema_for!(SandboxPolicy),
        SchemaName::AuditEvent => schemars::schema_for!(codex_policy::audit::AuditEvent),
    };
    to_json(&schema)
}
