//! The `vcao` binary: `serve [--demo]`, `migrate`, `openapi`, `rotate-signing-key`,
//! `rotate-master-key`, `confirm-supervisor`, `aggregates-sql`.

use clap::{Parser, Subcommand};
use infra::config::Settings;

#[derive(Debug, Parser)]
#[command(name = "vcao", version, about = "The VCAO Platform service")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve {
        /// Also seed demo tenants and users, printing their passwords once.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations (and provision the runtime role on PostgreSQL), then exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Retire the generated signing key in the data directory and add a new one.
    RotateSigningKey,
    /// Re-wrap every tenant's data key under the current master key (see README).
    RotateMasterKey,
    /// Confirm the `supervisor` role an agency admin requested for a user: the second person for
    /// an agency that has no supervisor yet to confirm it (see README, "Who grants supervisor").
    ConfirmSupervisor {
        /// The agency's slug.
        #[arg(long)]
        tenant: String,
        /// The user's sign-in email.
        #[arg(long)]
        email: String,
    },
    /// Add a platform admin with a generated password, shown once: the way back in when every
    /// platform admin has lost their second factor (see README, "First sign-in").
    AddPlatformAdmin {
        /// The new admin's sign-in email.
        #[arg(long)]
        email: String,
    },
    /// Print the SQL `GET /aggregates` runs for a ministry question, values inlined, to run in
    /// `psql` or `sqlite3` (the benchmark compares the two).
    AggregatesSql {
        /// The metric, e.g. `clients_served`.
        #[arg(long)]
        metric: String,
        /// Comma list of dimensions.
        #[arg(long, default_value = "")]
        group_by: String,
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last day, YYYY-MM-DD.
        #[arg(long)]
        to: chrono::NaiveDate,
        /// `postgres` or `sqlite`.
        #[arg(long, default_value = "postgres")]
        backend: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve { demo: false });
    if let Command::Openapi = command {
        let doc = api::openapi::document().to_pretty_json()?;
        println!("{doc}");
        return Ok(());
    }
    if let Command::AggregatesSql { metric, group_by, from, to, backend } = &command {
        let question = infra::store::aggregates::Question {
            metric: domain::reporting::Metric::parse(metric)?,
            group_by: domain::reporting::parse_group_by(group_by)?,
            from: *from,
            to: *to,
            agencies: infra::store::aggregates::Agencies::All,
        };
        println!("{};", infra::store::aggregates::printable_sql(&question, backend != "sqlite"));
        return Ok(());
    }
    let settings = Settings::load()?;
    api::telemetry::init(settings.log_format, "info,sqlx=warn,sea_orm=warn");
    match command {
        Command::Openapi | Command::AggregatesSql { .. } => Ok(()),
        Command::Migrate => {
            infra::Db::migrate_only(&settings).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::RotateSigningKey if settings.jwt_keys.is_some() || settings.jwt_keys_file.is_some() => {
            anyhow::bail!(
                "signing keys come from VCAO_JWT_KEYS or VCAO_JWT_KEYS_FILE; rotate them there (add a key, set retired_at on the old one)"
            )
        }
        Command::RotateSigningKey => {
            let kid = infra::auth::keys::rotate_generated(&settings.data_dir)?;
            println!(
                "new signing key {kid}; restart the service to use it (old keys keep verifying until their tokens expire)"
            );
            Ok(())
        }
        Command::RotateMasterKey => {
            let report = api::maintenance::rotate_master_key(&settings).await?;
            println!("re-wrapped {} tenant key(s) under the current master key", report.rewrapped);
            if !report.unknown_master.is_empty() {
                anyhow::bail!(
                    "{} tenant key(s) are wrapped by a master key that is not configured; set it as VCAO_PREVIOUS_MASTER_KEY and run again",
                    report.unknown_master.len()
                );
            }
            Ok(())
        }
        Command::ConfirmSupervisor { tenant, email } => {
            api::maintenance::confirm_supervisor(&settings, &tenant, &email).await?;
            println!("supervisor confirmed for {email} at {tenant}; their sessions were ended");
            Ok(())
        }
        Command::AddPlatformAdmin { email } => {
            api::maintenance::add_platform_admin(&settings, &email).await?;
            Ok(())
        }
        Command::Serve { demo } => {
            let app = api::Application::build(settings).await?;
            if demo {
                let state = app.state();
                api::demo::seed_demo(&state.db, &state.keyring, &state.settings.data_dir).await?;
            }
            tracing::info!(port = app.port(), "serving");
            app.run_until_stopped().await?;
            Ok(())
        }
    }
}
