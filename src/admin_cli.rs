//! `taskchat users …` and `taskchat sessions …`: the operator's commands, against the configured database.

use std::io::{BufRead, IsTerminal, Write};

use crate::admin::{self, UserFilter, UserSummary};
use crate::config::{CommonArgs, SessionsAction, UsersAction};
use crate::db::Db;

async fn open(common: &CommonArgs) -> anyhow::Result<Db> {
    let db = Db::connect(common.database_url.as_deref(), &common.data_dir).await?;
    // The operator's commands need the current schema, as the server does.
    db.migrate_up().await?;
    Ok(db)
}

async fn person(db: &Db, who: &str) -> anyhow::Result<UserSummary> {
    admin::find_user(db, who)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no account has the email or id {who:?} (see `taskchat users list`)"))
}

fn print_users(users: &[UserSummary]) {
    println!(
        "{:<32}  {:<32}  {:<20}  {:<24}  {:<8}  {:<8}  {:>8}  {:>6}",
        "ID", "EMAIL", "NAME", "CREATED", "VERIFIED", "DISABLED", "SESSIONS", "TASKS"
    );
    for u in users {
        let name: String = u.name.chars().take(20).collect();
        println!(
            "{:<32}  {:<32}  {:<20}  {:<24}  {:<8}  {:<8}  {:>8}  {:>6}",
            u.id,
            u.email,
            name,
            u.created_at.to_iso(),
            if u.email_verified { "yes" } else { "no" },
            if u.disabled { "yes" } else { "no" },
            u.sessions,
            u.tasks
        );
    }
}

pub async fn users(common: &CommonArgs, action: UsersAction) -> anyhow::Result<()> {
    let db = open(common).await?;
    let result = run_users(&db, action).await;
    db.close().await;
    result
}

async fn run_users(db: &Db, action: UsersAction) -> anyhow::Result<()> {
    match action {
        UsersAction::List { search, disabled, unverified, limit, json } => {
            let filter =
                UserFilter { search, disabled_only: disabled, unverified_only: unverified, limit: limit.max(1) };
            let list = admin::list_users(db, &filter).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print_users(&list);
                println!("{} account(s)", list.len());
            }
        }
        UsersAction::Show { user, json } => {
            let u = person(db, &user).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&u)?);
            } else {
                print_users(std::slice::from_ref(&u));
            }
        }
        UsersAction::Verify { user } => {
            let u = person(db, &user).await?;
            admin::set_verified(db, &u.id, true).await?;
            println!("{} is verified", u.email);
        }
        UsersAction::Disable { user } => {
            let u = person(db, &user).await?;
            let ended = admin::set_disabled(db, &u.id, true).await?;
            println!("{} is disabled; {ended} session(s) ended", u.email);
        }
        UsersAction::Enable { user } => {
            let u = person(db, &user).await?;
            admin::set_disabled(db, &u.id, false).await?;
            println!("{} is enabled", u.email);
        }
        UsersAction::Delete { user, yes } => {
            let u = person(db, &user).await?;
            if !yes {
                confirm(
                    &format!(
                        "Delete {} and everything of theirs ({} task(s), their conversations and sessions)? Type the email to confirm: ",
                        u.email, u.tasks
                    ),
                    &u.email,
                )?;
            }
            crate::auth::store::delete_user(db, &u.id).await?;
            println!("{} and everything of theirs is deleted", u.email);
        }
    }
    Ok(())
}

/// Asks on the terminal; refuses when there is no terminal to ask (use --yes in scripts).
fn confirm(question: &str, expected: &str) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("refusing to delete without confirmation: run it in a terminal, or pass --yes");
    }
    print!("{question}");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim().eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        anyhow::bail!("not confirmed; nothing was deleted")
    }
}

pub async fn sessions(common: &CommonArgs, action: SessionsAction) -> anyhow::Result<()> {
    let db = open(common).await?;
    let result = run_sessions(&db, action).await;
    db.close().await;
    result
}

async fn run_sessions(db: &Db, action: SessionsAction) -> anyhow::Result<()> {
    match action {
        SessionsAction::List { user, json } => {
            let user_id = match user {
                Some(u) => Some(person(db, &u).await?.id),
                None => None,
            };
            let list = admin::list_sessions(db, user_id.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!("{:<32}  {:<32}  {:<24}  {:<24}  {:<15}  AGENT", "ID", "EMAIL", "CREATED", "EXPIRES", "IP");
                for s in &list {
                    let agent: String = s.user_agent.clone().unwrap_or_default().chars().take(40).collect();
                    println!(
                        "{:<32}  {:<32}  {:<24}  {:<24}  {:<15}  {agent}",
                        s.id,
                        s.email,
                        s.created_at.to_iso(),
                        s.expires_at.to_iso(),
                        s.ip_address.clone().unwrap_or_default()
                    );
                }
                println!("{} session(s)", list.len());
            }
        }
        SessionsAction::Revoke { id: Some(id), user: None } => {
            if !admin::revoke_session(db, &id).await? {
                anyhow::bail!("there is no session with the id {id:?} (see `taskchat sessions list`)");
            }
            println!("session {id} ended");
        }
        SessionsAction::Revoke { id: None, user: Some(user) } => {
            let u = person(db, &user).await?;
            let n = crate::auth::store::delete_user_sessions(db, &u.id, None).await?;
            println!("{n} session(s) of {} ended", u.email);
        }
        SessionsAction::Revoke { .. } => {
            anyhow::bail!("name a session id, or --user EMAIL to end all of a person's sessions")
        }
    }
    Ok(())
}
