//! The `run`/`create` flags of a container's life after its start: `--restart` and the `--health-*`
//! flags (Docker's names), flattened into both commands' flags.

use minotaur_engine::create::CreateRequest;
use minotaur_engine::healthcheck::HealthFlags;
use minotaur_engine::restart::RestartPolicy;

#[derive(Debug, clap::Args)]
pub struct LifecycleFlags {
    /// Restart policy: no, on-failure[:MAX-RETRIES], always or unless-stopped
    #[arg(long, value_name = "POLICY", default_value = "no")]
    pub restart: String,

    /// Command to run to check health (run with /bin/sh -c in the container)
    #[arg(long, value_name = "COMMAND")]
    pub health_cmd: Option<String>,

    /// Time between health checks (ms|s|m|h), default 30s
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub health_interval: Option<String>,

    /// Maximum time a check may run (ms|s|m|h), default 30s
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub health_timeout: Option<String>,

    /// Consecutive failures that make the container unhealthy, default 3
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub health_retries: Option<i64>,

    /// Time to start up before failed checks count (ms|s|m|h), default 0s
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub health_start_period: Option<String>,

    /// Time between checks during the start period (ms|s|m|h), default 5s
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub health_start_interval: Option<String>,

    /// Disable any healthcheck, the image's included
    #[arg(long)]
    pub no_healthcheck: bool,
}

impl LifecycleFlags {
    /// Puts the restart policy and the healthcheck into the request; every bad value is an error naming it.
    pub fn apply(&self, req: &mut CreateRequest) -> anyhow::Result<()> {
        let policy: RestartPolicy = self.restart.parse()?;
        if req.host.auto_remove && policy != RestartPolicy::No {
            anyhow::bail!(
                "--rm conflicts with --restart {policy}: a container removed when it exits is not restarted"
            );
        }
        req.host.restart_policy = policy;
        req.healthcheck = HealthFlags {
            cmd: self.health_cmd.clone(),
            interval: self.health_interval.clone(),
            timeout: self.health_timeout.clone(),
            start_period: self.health_start_period.clone(),
            start_interval: self.health_start_interval.clone(),
            retries: self.health_retries,
            none: self.no_healthcheck,
        }
        .resolve()?;
        Ok(())
    }
}
