//! Command-line entry: configuration from `.env`, environment and flags; logging; the subcommands.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use crate::config::{Cli, Command, CommonArgs, LogFormat, MigrateAction, ServeArgs};
use crate::db::Db;

pub fn main() -> ExitCode {
    // A missing .env is normal; a broken one is worth saying.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("taskchat: ignoring .env: {e}");
    }
    let cli = Cli::parse();
    init_tracing(&cli.common);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("taskchat: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // A server's failure also goes to the (possibly JSON) log; a command's is only for the person at the terminal.
    let serving = matches!(cli.command, None | Some(Command::Serve(_)));
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if serving {
                tracing::error!("{e:#}");
            }
            eprintln!("taskchat: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(common: &CommonArgs) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&common.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match common.log_format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => serve(&cli.common, &ServeArgs::from_env()).await,
        Some(Command::Serve(args)) => serve(&cli.common, &args).await,
        Some(Command::Migrate { action }) => migrate(&cli.common, action).await,
        Some(Command::Mcp(args)) => crate::mcp::stdio::run(&cli.common, &args.user).await,
        Some(Command::Users { action }) => crate::admin_cli::users(&cli.common, action).await,
        Some(Command::Sessions { action }) => crate::admin_cli::sessions(&cli.common, action).await,
        Some(Command::Eval(args)) => crate::eval::run(&args).await,
    }
}

async fn serve(common: &CommonArgs, args: &ServeArgs) -> anyhow::Result<()> {
    crate::server::serve(common, args).await
}

async fn migrate(common: &CommonArgs, action: MigrateAction) -> anyhow::Result<()> {
    let db = Db::connect(common.database_url.as_deref(), &common.data_dir).await?;
    match action {
        MigrateAction::Up => {
            db.migrate_up().await?;
            println!("migrated {} database to version {}", db.kind(), db.current_version().await?);
        }
        MigrateAction::Down { to } => {
            let current = db.current_version().await?;
            let target = match to {
                Some(v) => v,
                None => {
                    let status = db.migration_status().await?;
                    status.iter().filter(|m| m.applied && m.version < current).map(|m| m.version).max().unwrap_or(0)
                }
            };
            if target >= current {
                println!("nothing to revert: the database is at version {current}");
            } else {
                db.migrate_down(target).await?;
                println!("reverted {} database from version {current} to {target}", db.kind());
            }
        }
        MigrateAction::Status => {
            for m in db.migration_status().await? {
                println!("{:>4}  {:<8}  {}", m.version, if m.applied { "applied" } else { "pending" }, m.description);
            }
        }
    }
    db.close().await;
    Ok(())
}
