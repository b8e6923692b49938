//! `taskchat eval`: runs a corpus of dialogues (the format of `tests/dialogues/README.md`) against whichever
//! assistant is configured and scores it by category and language, so the builtin assistant and any provider
//! can be compared on the same work.
//!
//! Each dialogue gets a fresh person in an in-memory database, with the dialogue's time zone, its tasks, and
//! the clock fixed at its `now`; every turn goes through the same agent the chat endpoint runs, and after each
//! one the person's list and the reply are checked against the turn's expectations.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use serde::Deserialize;
use serde_json::Value;
#[cfg(test)]
use serde_json::json;

use crate::auth::store::{self as auth_store, User};
use crate::chat::agent::{Agent, AgentConfig, AgentEvent, TurnInput};
use crate::config::EvalArgs;
use crate::db::{Db, Timestamp};
use crate::tasks::{
    Door, DueInput, NewTask, Owner, Priority, Sort, StatusFilter, Task, TaskQuery, TaskService, set_clock,
};

#[derive(Debug, Deserialize)]
struct Dialogue {
    id: String,
    category: String,
    lang: String,
    now: String,
    tz: String,
    #[serde(default)]
    tasks: Vec<SeedTask>,
    turns: Vec<Turn>,
}

#[derive(Debug, Deserialize)]
struct SeedTask {
    title: String,
    #[serde(default)]
    completed: bool,
    due: Option<String>,
    priority: Option<Priority>,
    #[serde(default)]
    labels: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Turn {
    say: String,
    expect: Expect,
}

#[derive(Debug, Deserialize, Default)]
struct Expect {
    state: Option<Vec<serde_json::Map<String, Value>>>,
    #[serde(default)]
    reply_has: Vec<String>,
    #[serde(default)]
    reply_lacks: Vec<String>,
    #[serde(default)]
    asks: bool,
}

/// How one dialogue went: `None` when every turn held, else the first turn that did not and why.
struct Run {
    dialogue: Dialogue,
    failure: Option<(usize, String, String)>,
}

pub async fn run(args: &EvalArgs) -> anyhow::Result<()> {
    let mut dialogues = load(&args.corpus)?;
    dialogues.retain(|d| {
        (args.category.is_empty() || args.category.contains(&d.category))
            && args.only.as_deref().is_none_or(|o| d.id.contains(o))
    });
    if dialogues.is_empty() {
        bail!("no dialogues to run in {}", args.corpus.display());
    }
    let (db, events, tasks) = scratch_tasks().await?;
    let mut serve = crate::config::ServeArgs::from_env();
    if let Some(m) = &args.models {
        serve.models = Some(m.clone());
    }
    let models = crate::llm::build_providers(&serve.provider_settings())?;
    let agent = Arc::new(Agent::new(
        db.clone(),
        tasks.clone(),
        models,
        AgentConfig { max_steps: serve.agent_max_steps.max(1), ..Default::default() },
        crate::metrics::Metrics::default(),
        events,
    ));
    let names = agent.model_names().join(", ");
    let started = std::time::Instant::now();
    let mut runs = Vec::with_capacity(dialogues.len());
    for dialogue in dialogues {
        let failure = run_one(&db, &tasks, &agent, &dialogue)
            .await
            .unwrap_or_else(|e| Some((0, String::new(), format!("{e:#}"))));
        runs.push(Run { dialogue, failure });
    }
    set_clock(None);
    db.close().await;
    let score = report(&runs, &names, started.elapsed(), args.show_failures);
    if let Some(min) = args.min_score
        && score < min
    {
        bail!("{score:.1}% of the dialogues passed, below the floor of {min:.1}%");
    }
    Ok(())
}

/// A migrated database in memory and the task service over it: nothing is kept, no data directory is needed.
pub(crate) async fn scratch_tasks() -> anyhow::Result<(Db, Arc<crate::events::EventBus>, TaskService)> {
    let db = Db::connect(Some("sqlite::memory:"), Path::new(".")).await?;
    db.migrate_up().await?;
    let events = crate::events::EventBus::new(&db);
    let tasks = TaskService::new(db.clone(), events.clone());
    Ok((db, events, tasks))
}

/// An account of its own in time zone `tz`, never signed in to: it only owns tasks and conversations.
pub(crate) async fn scratch_user(db: &Db, name: &str, tz: &str) -> anyhow::Result<User> {
    let now = Timestamp::now();
    let user = User {
        name: name.into(),
        email: format!("{}@eval.invalid", uuid::Uuid::now_v7()),
        email_verified: true,
        image: None,
        created_at: now,
        updated_at: now,
        id: uuid::Uuid::now_v7().to_string(),
        timezone: tz.into(),
    };
    auth_store::create_user_with_password(db, &user, &uuid::Uuid::now_v7().to_string(), "!").await?;
    Ok(user)
}

/// Every dialogue of a file, or of each `*.json` file in a directory (in name order).
fn load(path: &Path) -> anyhow::Result<Vec<Dialogue>> {
    let files = if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?;
        let mut d: Vec<Dialogue> =
            serde_json::from_str(&text).with_context(|| format!("{} is not a corpus file", f.display()))?;
        out.append(&mut d);
    }
    Ok(out)
}

/// The dialogue's `now` in its zone, as an instant.
fn instant(now: &str, tz: &str) -> anyhow::Result<jiff::Timestamp> {
    let zone = jiff::tz::TimeZone::get(tz).with_context(|| format!("unknown time zone {tz:?}"))?;
    let civil: jiff::civil::DateTime = now.parse().with_context(|| format!("now {now:?} is not YYYY-MM-DDTHH:MM"))?;
    Ok(civil.to_zoned_datetime(zone)?.timestamp())
}

async fn run_one(
    db: &Db,
    tasks: &TaskService,
    agent: &Arc<Agent>,
    d: &Dialogue,
) -> anyhow::Result<Option<(usize, String, String)>> {
    set_clock(Some(instant(&d.now, &d.tz)?));
    let user = scratch_user(db, "Sam", &d.tz).await?;
    let owner = Owner::new(&user.id, &d.tz, Door::Rest);
    for t in &d.tasks {
        let due = t.due.as_deref().map(|due| match due.split_once(' ') {
            Some((date, time)) => DueInput::Parts { date: date.into(), time: Some(time.into()) },
            None => DueInput::Parts { date: due.into(), time: None },
        });
        let new =
            NewTask { title: t.title.clone(), description: None, due, priority: t.priority, labels: t.labels.clone() };
        let task = tasks.create(&owner, new).await?;
        if t.completed {
            tasks.set_completed(&owner, task.number, true).await?;
        }
    }
    let mut conversation: Option<String> = None;
    for (i, turn) in d.turns.iter().enumerate() {
        let before = list(tasks, &owner).await?;
        let prepared = agent
            .prepare(&user, TurnInput::Message { conversation_id: conversation.clone(), text: turn.say.clone() })
            .await
            .map_err(|e| anyhow::anyhow!("the turn was refused: {e:?}"))?;
        conversation = Some(prepared.conversation.id.clone());
        let mut events = agent.run(prepared);
        let mut reply = None;
        while let Some(e) = events.recv().await {
            match e {
                AgentEvent::AnswerDone { message } => reply = Some(message.content),
                AgentEvent::Error { message, .. } => reply = Some(format!("[turn failed: {message}]")),
                _ => {}
            }
        }
        let reply = reply.unwrap_or_default();
        let after = list(tasks, &owner).await?;
        if let Some(why) = check(&turn.expect, &before, &after, &reply) {
            return Ok(Some((i + 1, reply, why)));
        }
    }
    Ok(None)
}

/// The person's whole list (a dialogue holds a handful of tasks).
async fn list(tasks: &TaskService, owner: &Owner) -> anyhow::Result<Vec<Task>> {
    let query =
        TaskQuery { status: StatusFilter::All, sort: Some(Sort::Number), limit: Some(1000), ..Default::default() };
    Ok(tasks.list(owner, &query).await?.tasks)
}

/// A task as the corpus writes its fields.
fn fields(t: &Task) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("number".into(), t.number.into());
    m.insert("title".into(), t.title.clone().into());
    m.insert("completed".into(), t.completed.into());
    let due = t.due.as_ref().map(|d| match &d.time {
        Some(time) => format!("{} {time}", d.date),
        None => d.date.clone(),
    });
    m.insert("due".into(), due.map_or(Value::Null, Value::String));
    m.insert("priority".into(), serde_json::to_value(t.priority).unwrap_or(Value::Null));
    let mut labels: Vec<String> = t.labels.iter().map(|l| l.to_lowercase()).collect();
    labels.sort();
    m.insert("labels".into(), labels.into());
    m
}

/// Why the turn's expectations do not hold, if they do not.
fn check(expect: &Expect, before: &[Task], after: &[Task], reply: &str) -> Option<String> {
    let now: Vec<_> = after.iter().map(fields).collect();
    match &expect.state {
        None => {
            let was: Vec<_> = before.iter().map(fields).collect();
            if was != now {
                return Some(format!("the list changed: {}", describe(&now)));
            }
        }
        Some(want) => {
            let numbers: Vec<i64> = want.iter().filter_map(|w| w.get("number").and_then(Value::as_i64)).collect();
            let have: Vec<i64> = after.iter().map(|t| t.number).collect();
            if numbers != have {
                return Some(format!("tasks {have:?}, expected {numbers:?}: {}", describe(&now)));
            }
            for (w, h) in want.iter().zip(&now) {
                for (k, v) in w {
                    let got = h.get(k).cloned().unwrap_or(Value::Null);
                    let same = match (k.as_str(), v) {
                        ("title", Value::String(s)) => {
                            got.as_str().is_some_and(|g| g.trim().to_lowercase() == s.trim().to_lowercase())
                        }
                        ("labels", Value::Array(l)) => {
                            let mut l: Vec<String> =
                                l.iter().filter_map(Value::as_str).map(str::to_lowercase).collect();
                            l.sort();
                            got == Value::from(l)
                        }
                        _ => got == *v,
                    };
                    if !same {
                        return Some(format!("task {} {k}: {got}, expected {v}", h["number"]));
                    }
                }
            }
        }
    }
    let lower = reply.to_lowercase();
    for s in &expect.reply_has {
        if !lower.contains(&s.to_lowercase()) {
            return Some(format!("the reply does not say {s:?}"));
        }
    }
    for s in &expect.reply_lacks {
        if lower.contains(&s.to_lowercase()) {
            return Some(format!("the reply says {s:?}"));
        }
    }
    // A question ends the reply (as the assistant reads its own last answer back); the help text's examples
    // ("what's due today?") are not one.
    if expect.asks && !reply.trim_end().ends_with(['?', '؟']) {
        return Some("it did not ask".into());
    }
    None
}

fn describe(tasks: &[serde_json::Map<String, Value>]) -> String {
    let parts: Vec<String> = tasks
        .iter()
        .map(|t| {
            let mut s = format!("{} {}", t["number"], t["title"].as_str().unwrap_or_default());
            if t["completed"] == true {
                s.push_str(" [done]");
            }
            if let Some(d) = t["due"].as_str() {
                s.push_str(&format!(" (due {d})"));
            }
            if t["priority"] != "none" {
                s.push_str(&format!(" !{}", t["priority"].as_str().unwrap_or_default()));
            }
            for l in t["labels"].as_array().into_iter().flatten() {
                s.push_str(&format!(" #{}", l.as_str().unwrap_or_default()));
            }
            s
        })
        .collect();
    if parts.is_empty() { "(no tasks)".into() } else { parts.join("; ") }
}

/// Prints the scores and the first failures; returns the share of dialogues that passed, in percent.
fn report(runs: &[Run], models: &str, took: std::time::Duration, show: usize) -> f64 {
    let mut by_category: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut by_lang: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for r in runs {
        let ok = usize::from(r.failure.is_none());
        for (map, key) in [(&mut by_category, r.dialogue.category.as_str()), (&mut by_lang, r.dialogue.lang.as_str())] {
            let e = map.entry(key).or_default();
            e.0 += ok;
            e.1 += 1;
        }
    }
    let pct = |(ok, all): (usize, usize)| if all == 0 { 0.0 } else { 100.0 * ok as f64 / all as f64 };
    let passed = runs.iter().filter(|r| r.failure.is_none()).count();
    println!("taskchat eval: {} dialogues with {models} in {:.1} s", runs.len(), took.as_secs_f64());
    println!("\n{:<14} {:>7} {:>7}", "category", "passed", "score");
    for (k, v) in &by_category {
        println!("{k:<14} {:>3}/{:<3} {:>6.1}%", v.0, v.1, pct(*v));
    }
    println!("\n{:<14} {:>7} {:>7}", "language", "passed", "score");
    for (k, v) in &by_lang {
        println!("{k:<14} {:>3}/{:<3} {:>6.1}%", v.0, v.1, pct(*v));
    }
    let score = pct((passed, runs.len()));
    println!("\nall            {passed:>3}/{:<3} {score:>6.1}%", runs.len());
    let failures: Vec<&Run> = runs.iter().filter(|r| r.failure.is_some()).collect();
    if !failures.is_empty() && show > 0 {
        println!("\nfailures (first {} of {}):", show.min(failures.len()), failures.len());
        for r in failures.iter().take(show) {
            let Some((turn, reply, why)) = &r.failure else { continue };
            let said = r.dialogue.turns.get(turn.saturating_sub(1)).map_or("", |t| t.say.as_str());
            println!(
                "- {} turn {turn}: {said:?}\n    {why}\n    reply: {:?}",
                r.dialogue.id,
                reply.replace('\n', " / ")
            );
        }
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(number: i64, title: &str, completed: bool, labels: &[&str]) -> Task {
        let now = Timestamp::now();
        Task {
            id: format!("t{number}"),
            number,
            title: title.into(),
            description: None,
            completed,
            priority: Priority::None,
            due: None,
            labels: labels.iter().map(|l| l.to_string()).collect(),
            created_at: now,
            updated_at: now,
            completed_at: None,
        }
    }

    fn expect(v: Value) -> Expect {
        let mut e: Expect = serde_json::from_value(v).unwrap();
        e.reply_has.retain(|s| !s.is_empty());
        e
    }

    #[test]
    fn each_expectation_can_fail() {
        let before = [task(1, "buy milk", false, &["Errands", "home"])];
        let done = [task(1, "Buy Milk", true, &["home", "errands"])];
        // Without a state the list must not change.
        assert!(check(&expect(json!({})), &before, &before, "ok").is_none());
        assert!(check(&expect(json!({})), &before, &done, "ok").unwrap().contains("changed"));
        // Titles ignore case, labels ignore case and order; only the keys given are checked.
        let want =
            json!({"state": [{"number": 1, "title": "buy milk", "completed": true, "labels": ["errands", "home"]}]});
        assert!(check(&expect(want), &before, &done, "ok").is_none());
        let wrong = json!({"state": [{"number": 1, "completed": false}]});
        assert!(check(&expect(wrong), &before, &done, "ok").unwrap().contains("completed"));
        // A task that should be gone, or one too many.
        assert!(check(&expect(json!({"state": []})), &before, &before, "ok").unwrap().contains("expected []"));
        // The reply.
        assert!(check(&expect(json!({"reply_has": ["milk"]})), &before, &before, "Buy MILK").is_none());
        assert!(check(&expect(json!({"reply_has": ["eggs"]})), &before, &before, "milk").is_some());
        assert!(check(&expect(json!({"reply_lacks": ["milk"]})), &before, &before, "milk").is_some());
        assert!(check(&expect(json!({"asks": true})), &before, &before, "Which one?").is_none());
        assert!(check(&expect(json!({"asks": true})), &before, &before, "کون سا؟").is_none());
        assert!(check(&expect(json!({"asks": true})), &before, &before, "Done.").is_some());
    }

    #[test]
    fn the_dialogue_clock_is_its_local_now() {
        let t = instant("2026-03-10T09:00", "America/New_York").unwrap();
        assert_eq!(t.to_string(), "2026-03-10T13:00:00Z");
        assert!(instant("tuesday", "America/New_York").is_err());
        assert!(instant("2026-03-10T09:00", "Mars/Olympus").is_err());
    }
}
