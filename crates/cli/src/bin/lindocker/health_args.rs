//! The health flags of `run` and `create` (`--health-*`, `--no-healthcheck`), checked as
//! Docker's CLI checks them, into the check the engine lays over the image's.

use anyhow::{Result, bail};
use clap::Args;
use lindocker_image::health::{Healthcheck, parse_go_duration};

/// `--health-cmd` and friends.
#[derive(Debug, Args, Clone, Default)]
pub struct HealthArgs {
    /// Command to run to check health.
    #[arg(long, value_name = "string")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 0s).
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub health_interval: Option<String>,
    /// Consecutive failures needed to report unhealthy.
    #[arg(long, value_name = "int", allow_hyphen_values = true)]
    pub health_retries: Option<i64>,
    /// Start period for the container to initialize before starting health-retries
    /// countdown (ms|s|m|h) (default 0s).
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub health_start_period: Option<String>,
    /// Time between running the check during the start period (ms|s|m|h) (default 0s).
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub health_start_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s).
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub health_timeout: Option<String>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long)]
    pub no_healthcheck: bool,
}

impl HealthArgs {
    /// The check the flags ask for (`None`: the image's as it is), as Docker's CLI
    /// builds it; the daemon's checks (at least 1 ms) follow at `create`.
    pub fn healthcheck(&self) -> Result<Option<Healthcheck>> {
        let duration = |flag: &str, value: &Option<String>| -> Result<i64> {
            let Some(text) = value else { return Ok(0) };
            let ns = parse_go_duration(text)
                .map_err(|e| anyhow::anyhow!("invalid argument {text:?} for \"--{flag}\" flag: {e}"))?;
            if ns < 0 {
                bail!("--{flag} cannot be negative");
            }
            Ok(ns)
        };
        let check = Healthcheck {
            test: match self.health_cmd.as_deref() {
                Some(cmd) if !cmd.is_empty() => vec!["CMD-SHELL".into(), cmd.into()],
                _ => Vec::new(),
            },
            interval: duration("health-interval", &self.health_interval)?,
            timeout: duration("health-timeout", &self.health_timeout)?,
            start_period: duration("health-start-period", &self.health_start_period)?,
            start_interval: duration("health-start-interval", &self.health_start_interval)?,
            retries: self.health_retries.unwrap_or(0),
        };
        if check.retries < 0 {
            bail!("--health-retries cannot be negative");
        }
        if self.no_healthcheck {
            if check != Healthcheck::default() {
                bail!("--no-healthcheck conflicts with --health-* options");
            }
            return Ok(Some(Healthcheck { test: vec!["NONE".into()], ..Default::default() }));
        }
        Ok((check != Healthcheck::default()).then_some(check))
    }
}
