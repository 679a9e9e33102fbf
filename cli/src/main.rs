//! The `codex-policy` command-line tool. See `docs/cli.md` for the contract.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use codex_policy::{
    Capabilities, CodexConfig, ProfileResolver, ResolvedProfile, SandboxPolicy, SecurityProfile,
};
use serde::Serialize;

/// Exit statuses of the contract that the current commands use.
mod exit {
    /// The inputs (environment, config files) are invalid.
    pub(crate) const INVALID_INPUT: u8 = 1;
    /// The command line itself is wrong (clap uses the same status).
    pub(crate) const USAGE: u8 = 2;
    /// codex-policy itself failed (a bug, or the output could not be written).
    pub(crate) const INTERNAL: u8 = 125;
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
    /// Print the JSON Schema of a configuration type, generated from the code.
    Schema {
        /// Which schema.
        name: SchemaName,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SchemaName {
    /// A sandbox policy (`{"mode": "workspace-write", ...}`).
    SandboxPolicy,
    /// The sandbox keys of config.toml.
    Config,
}

fn parse_profile(name: &str) -> Result<SecurityProfile, String> {
    name.parse()
        .map_err(|e: codex_policy::profiles::UnknownProfile| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("codex-policy: error: {}", failure.message);
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
    fn internal(err: impl std::fmt::Display) -> Self {
        Self {
            status: exit::INTERNAL,
            message: format!("internal error: {err}"),
        }
    }

    fn invalid_input(err: impl std::fmt::Display) -> Self {
        Self {
            status: exit::INVALID_INPUT,
            message: err.to_string(),
        }
    }
}

fn run(cli: &Cli) -> Result<(), Failure> {
    if !cli.show_profile && cli.command.is_none() {
        return Err(Failure {
            status: exit::USAGE,
            message: "nothing to do: give --show-profile or a command (see --help)".to_owned(),
        });
    }
    if cli.show_profile {
        let resolved = ProfileResolver::new()
            .command_line(cli.profile)
            .environment(|key| std::env::var_os(key))
            .config_file(cli.config.clone())
            .resolve()
            .map_err(Failure::invalid_input)?;
        print_out(&render_profile(&resolved, cli.json)?)?;
    }
    match &cli.command {
        Some(Command::Schema { name }) => print_out(&schema_json(*name)?),
        None => Ok(()),
    }
}

fn print_out(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| Failure::invalid_input(format!("cannot write to standard output: {e}")))
}

#[derive(Serialize)]
struct ProfileReport<'a> {
    #[serde(flatten)]
    resolved: &'a ResolvedProfile,
    capabilities: Capabilities,
}

fn render_profile(resolved: &ResolvedProfile, json: bool) -> Result<String, Failure> {
    let caps = resolved.profile.capabilities();
    if json {
        return to_json(&ProfileReport {
            resolved,
            capabilities: caps,
        });
    }
    let mut lines = vec![
        format!("profile:        {}", resolved.profile),
        format!("chosen by:      {}", resolved.source),
        format!("file writes:    {}", caps.file_writes),
        format!(
            "network:        {}",
            if caps.network { "allowed" } else { "denied" }
        ),
        format!(
            "sandbox policy: {}",
            serde_json::to_string(&resolved.sandbox_policy).map_err(Failure::internal)?
        ),
    ];
    for lost in &resolved.overridden {
        lines.push(format!(
            "overridden:     {} from {}",
            lost.profile, lost.source
        ));
    }
    Ok(lines.join("\n"))
}

fn to_json(value: &impl Serialize) -> Result<String, Failure> {
    serde_json::to_string_pretty(value).map_err(Failure::internal)
}

fn schema_json(name: SchemaName) -> Result<String, Failure> {
    let schema = match name {
        SchemaName::SandboxPolicy => schemars::schema_for!(SandboxPolicy),
        SchemaName::Config => schemars::schema_for!(CodexConfig),
    };
    to_json(&schema)
}
