//! `taskchat mcp --user EMAIL`: the task tools over stdin/stdout for desktop MCP clients, acting as one
//! account of the configured database. Standard output carries only MCP messages; logs go to standard error.

use rmcp::ServiceExt;

use super::TaskTools;
use crate::auth::store;
use crate::config::CommonArgs;
use crate::db::Db;
use crate::tasks::{Owner, TaskService};

/// Serves until the client closes standard input.
pub async fn run(common: &CommonArgs, email: &str) -> anyhow::Result<()> {
    // Opening a missing SQLite file would create an empty database and then fail to find the user; say
    // what is actually wrong instead.
    let sqlite_file = common.data_dir.join("taskchat.db");
    if common.database_url.is_none() && !sqlite_file.exists() {
        anyhow::bail!(
            "there is no database at {}: pass the --data-dir (or DATABASE_URL) that taskchat serve uses",
            sqlite_file.display()
        );
    }
    let db = Db::connect(common.database_url.as_deref(), &common.data_dir).await?;
    let result = serve(&db, email).await;
    db.close().await;
    result
}

async fn serve(db: &Db, email: &str) -> anyhow::Result<()> {
    // A helper a desktop client starts should not change a shared schema: that is `migrate up`'s job.
    if db.migration_status().await?.iter().any(|m| !m.applied) {
        anyhow::bail!("the database schema is not up to date: run `taskchat migrate up` (or start taskchat serve)");
    }
    let email = email.trim().to_lowercase();
    let user = store::find_user_by_email(db, &email)
        .await?
        .ok_or_else(|| anyhow::anyhow!("there is no account with the email {email:?}: sign up first"))?;
    tracing::info!(database = db.kind(), user_id = %user.id, "serving MCP over stdio");
    let running = TaskTools::for_owner(
        TaskService::new(db.clone(), crate::events::EventBus::new(db)),
        Owner::new(&user.id, &user.timezone, crate::tasks::Door::Mcp),
    )
    .serve(rmcp::transport::stdio())
    .await
    .map_err(|e| anyhow::anyhow!("the MCP client did not initialize: {e}"))?;
    running.waiting().await.map_err(|e| anyhow::anyhow!("the MCP session ended abnormally: {e}"))?;
    Ok(())
}
