use serde_json::{Value, json};

use super::calls::{add_call, complete_call, delete_call, list_call, tool, update_call};
use super::references::{parse_number_list, parse_number_ref};
use super::text::match_template;
use super::words::stem;
use super::*;

/// Friday 4 December 2026, 10:00 in London: every date word in these tests is read against it.
pub(super) fn test_now() -> jiff::ZonedDateTime {
    jiff::civil::date(2026, 12, 4).at(10, 0, 0, 0).in_tz("Europe/London").unwrap()
}

fn task(number: i64, title: &str, completed: bool) -> TaskRef {
    TaskRef { number, title: title.to_string(), completed, due: None, due_time: None, labels: vec![] }
}

/// The shared list: two milk tasks make word references ambiguous on purpose.
fn shared_tasks() -> Vec<TaskRef> {
    vec![
        task(1, "buy milk", false),
        task(2, "call mom", false),
        task(3, "write the quarterly report", false),
        task(4, "buy oat milk", false),
        task(5, "pay electricity bill", true),
        task(6, "book dentist appointment", false),
    ]
}

/// Only one milk task, so "the milk" is unambiguous.
fn unique_tasks() -> Vec<TaskRef> {
    vec![
        task(1, "buy milk", false),
        task(2, "call mom", false),
        task(3, "pay rent", true),
        task(4, "book flights", false),
    ]
}

/// The plain milk task is done, the oat one is not: completion prefers the pending one.
fn done_milk_tasks() -> Vec<TaskRef> {
    vec![task(1, "buy milk", true), task(2, "buy oat milk", false)]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cx {
    /// shared tasks, last mentioned 2
    S,
    /// shared tasks, nothing mentioned yet, user "Sam"
    N,
    /// no tasks at all
    E,
    /// unique-milk tasks, last mentioned 4
    U,
    /// done-milk tasks
    D,
}

fn with_ctx<R>(cx: Cx, f: impl FnOnce(&Context) -> R) -> R {
    let tasks = match cx {
        Cx::S | Cx::N => shared_tasks(),
        Cx::E => vec![],
        Cx::U => unique_tasks(),
        Cx::D => done_milk_tasks(),
    };
    let (last, name) = match cx {
        Cx::S => (Some(2), None),
        Cx::N => (None, Some("Sam")),
        Cx::E | Cx::D => (None, None),
        Cx::U => (Some(4), None),
    };
    let now = test_now();
    let ctx = Context {
        tasks: &tasks,
        last_mentioned: last,
        user_name: name,
        now: &now,
        more: None,
        pending: None,
        last: &LastTurn::default(),
    };
    f(&ctx)
}

#[derive(Debug, Clone, PartialEq)]
enum Exp {
    Calls(Vec<ToolCall>),
    Help,
    Unknown,
    Thanks,
    Ack,
    Ambiguous(Vec<i64>),
    NotFound,
    Ask,
    Info,
}

fn kind_of(o: &Outcome) -> Exp {
    match o {
        Outcome::Calls(c) => Exp::Calls(c.clone()),
        Outcome::Help { understood: true } => Exp::Help,
        Outcome::Help { understood: false } => Exp::Unknown,
        Outcome::Thanks => Exp::Thanks,
        Outcome::Ack => Exp::Ack,
        Outcome::Ambiguous { candidates } => Exp::Ambiguous(candidates.clone()),
        Outcome::NotFound { .. } => Exp::NotFound,
        Outcome::Ask(_) => Exp::Ask,
        Outcome::Info(_) => Exp::Info,
    }
}

fn add(t: &str) -> ToolCall {
    add_call(t, None)
}
fn add_due(t: &str, due: &str) -> ToolCall {
    let mut call = add_call(t, None);
    call.arguments["due"] = json!(due);
    call
}
fn addd(t: &str, d: &str) -> ToolCall {
    add_call(t, Some(d))
}
fn list(s: &str) -> ToolCall {
    list_call(s)
}
fn done(n: i64) -> ToolCall {
    complete_call(n)
}
fn del(n: i64) -> ToolCall {
    delete_call(n)
}
fn ren(n: i64, t: &str) -> ToolCall {
    update_call(n, Some(t), None)
}
fn note(n: i64, d: &str) -> ToolCall {
    update_call(n, None, Some(d))
}
fn c(calls: &[ToolCall]) -> Exp {
    Exp::Calls(calls.to_vec())
}
fn amb(ns: &[i64]) -> Exp {
    Exp::Ambiguous(ns.to_vec())
}

use Cx::{D, E, N, S, U};

fn rows() -> Vec<(&'static str, Cx, Exp)> {
    vec![
        // ---- adding ----
        ("add buy milk tomorrow", S, c(&[add_due("buy milk", "tomorrow")])),
        ("Add a task to buy milk tomorrow please", S, c(&[add_due("buy milk", "tomorrow")])),
        ("can you add a task to call the plumber?", S, c(&[add("call the plumber")])),
        ("create a task: Finish slides for Monday", S, c(&[add_due("Finish slides", "for Monday")])),
        ("new task: renew passport", S, c(&[add("renew passport")])),
        ("new task water the plants", S, c(&[add("water the plants")])),
        ("remember to pick up the dry cleaning", S, c(&[add("pick up the dry cleaning")])),
        ("remind me to call grandma on Sunday", S, c(&[add_due("call grandma", "on Sunday")])),
        ("I need to buy stamps", S, c(&[add("buy stamps")])),
        ("don't let me forget to feed the cat", S, c(&[add("feed the cat")])),
        ("Don\u{2019}t forget to water the roses!", S, c(&[add("water the roses")])),
        ("put batteries on my list", S, c(&[add("batteries")])),
        ("put buy bread on the shopping list", S, c(&[add("buy bread")])),
        ("todo: clean the garage", S, c(&[add("clean the garage")])),
        ("to-do: book flights", S, c(&[add("book flights")])),
        ("add milk and eggs", S, c(&[add("milk"), add("eggs")])),
        ("add milk, eggs and bread", S, c(&[add("milk"), add("eggs"), add("bread")])),
        ("add milk, eggs, and bread to my list", S, c(&[add("milk"), add("eggs"), add("bread")])),
        ("add buy milk; call mom", S, c(&[add("buy milk"), add("call mom")])),
        ("add a task to research salt and pepper shakers", S, c(&[add("research salt and pepper shakers")])),
        ("add a task to buy milk; call the bank", S, c(&[add("buy milk"), add("call the bank")])),
        ("add buy milk and call the bank", S, c(&[add("buy milk"), add("call the bank")])),
        ("add pick up the kids from school and buy milk", S, c(&[add("pick up the kids from school and buy milk")])),
        ("add buy milk: 2 litres, semi-skimmed", S, c(&[addd("buy milk", "2 litres, semi-skimmed")])),
        (
            "add call the bank with description ask about the mortgage rate",
            S,
            c(&[addd("call the bank", "ask about the mortgage rate")]),
        ),
        ("add renew passport (note: photos needed)", S, c(&[addd("renew passport", "photos needed")])),
        ("add book flights with a note: window seat", S, c(&[addd("book flights", "window seat")])),
        ("add task: Email Bob", S, c(&[add("Email Bob")])),
        ("Add Buy Milk", S, c(&[add("Buy Milk")])),
        ("hey, could you add groceries to my list please? thanks!", S, c(&[add("groceries")])),
        ("add", S, Exp::Ask),
        ("add a task", S, Exp::Ask),
        ("remind me to buy milk and call mom", S, c(&[add("buy milk and call mom")])),
        ("add tasks: wash car, mow lawn", S, c(&[add("wash car"), add("mow lawn")])),
        ("I have to renew my car insurance", S, c(&[add("renew my car insurance")])),
        ("note to self: back up the laptop", S, c(&[add("back up the laptop")])),
        ("add \"fix the fence\"", S, c(&[add("fix the fence")])),
        ("add a new task called Plan the party", S, c(&[add("Plan the party")])),
        ("create task update the CV", S, c(&[add("update the CV")])),
        ("remind me about the parents' evening", S, c(&[add("the parents' evening")])),
        ("add milk\neggs", S, c(&[add("milk"), add("eggs")])),
        ("jot down call the vet", S, c(&[add("call the vet")])),
        ("i should clean the fridge", S, c(&[add("clean the fridge")])),
        ("gotta fix the bike", S, c(&[add("fix the bike")])),
        ("add fix bike - rear tyre is flat", S, c(&[addd("fix bike", "rear tyre is flat")])),
        ("I want to learn Spanish", S, c(&[add("learn Spanish")])),
        ("add salt and pepper", S, c(&[add("salt"), add("pepper")])),
        ("add a note to self: buy a new charger", S, c(&[add("buy a new charger")])),
        ("please add call mom to my todo list", S, c(&[add("call mom")])),
        ("add water plants as a task", S, c(&[add("water plants")])),
        ("add buy milk tomorrow", E, c(&[add_due("buy milk", "tomorrow")])),
        ("new task: call dentist with description ask about Friday", S, c(&[addd("call dentist", "ask about Friday")])),
        ("add call mom and dad", S, c(&[add("call mom and dad")])),
        ("add buy milk and eggs", S, c(&[add("buy milk and eggs")])),
        ("Todo: Buy Milk, Call Mom", S, c(&[add("Buy Milk"), add("Call Mom")])),
        ("I've got to call the bank", S, c(&[add("call the bank")])),
        ("please put \"call the vet\" on my to do list", S, c(&[add("call the vet")])),
        // ---- listing ----
        ("what's left", S, c(&[list("pending")])),
        ("What\u{2019}s left to do?", S, c(&[list("pending")])),
        ("show my list", S, c(&[list("all")])),
        ("list my tasks", S, c(&[list("all")])),
        ("what do I have to do", S, c(&[list("pending")])),
        ("what's pending", S, c(&[list("pending")])),
        ("show everything", S, c(&[list("all")])),
        ("what did I finish", S, c(&[list("completed")])),
        ("what's done", S, c(&[list("completed")])),
        ("show completed tasks", S, c(&[list("completed")])),
        ("any tasks?", S, c(&[list("all")])),
        ("tasks", S, c(&[list("all")])),
        ("my todo list", S, c(&[list("all")])),
        ("show me my to-do list", S, c(&[list("all")])),
        ("what's on my plate", S, c(&[list("pending")])),
        ("what's not done yet", S, c(&[list("pending")])),
        ("what haven't I done?", S, c(&[list("pending")])),
        ("show unfinished tasks", S, c(&[list("pending")])),
        ("how many tasks do I have left", S, c(&[list("pending")])),
        ("list all tasks", S, c(&[list("all")])),
        ("show all my tasks including completed ones", S, c(&[list("all")])),
        ("show all completed tasks", S, c(&[list("completed")])),
        ("what have I done so far", S, c(&[list("completed")])),
        ("which tasks are finished?", S, c(&[list("completed")])),
        ("is there anything left?", S, c(&[list("pending")])),
        ("what's next", S, c(&[list("pending")])),
        ("tell me what I still need to do", S, c(&[list("pending")])),
        ("pending tasks", S, c(&[list("pending")])),
        ("can I see my tasks?", S, c(&[list("all")])),
        ("let me see what's done", S, c(&[list("completed")])),
        ("what did I do today", S, c(&[list("completed")])),
        ("show open tasks", S, c(&[list("pending")])),
        ("read me my list", S, c(&[list("all")])),
        ("display my tasks", S, c(&[list("all")])),
        ("do I have anything to do?", S, c(&[list("pending")])),
        ("give me the full list", S, c(&[list("all")])),
        ("what's left", E, c(&[list("pending")])),
        ("check my list", S, c(&[list("all")])),
        ("what's still open?", S, c(&[list("pending")])),
        // ---- completing ----
        ("mark 3 done", S, c(&[done(3)])),
        ("complete 3", S, c(&[done(3)])),
        ("3 is done", S, c(&[done(3)])),
        ("done with 3", S, c(&[done(3)])),
        ("check off 2", S, c(&[done(2)])),
        ("finish task 4", S, c(&[done(4)])),
        ("I bought the milk", S, c(&[done(1)])),
        ("finished the report", S, c(&[done(3)])),
        ("mark it done", S, c(&[done(2)])),
        ("that one's done", S, c(&[done(2)])),
        ("mark milk as complete", S, amb(&[1, 4])),
        ("tick off eggs", S, Exp::NotFound),
        ("mark #3 as done", S, c(&[done(3)])),
        ("mark task 6 as completed", S, c(&[done(6)])),
        ("mark number three done", S, c(&[done(3)])),
        ("task 4 is finished", S, c(&[done(4)])),
        ("I called mom", S, c(&[done(2)])),
        ("called mom", S, c(&[done(2)])),
        ("I've written the quarterly report", S, c(&[done(3)])),
        ("paid the electricity bill", S, c(&[done(5)])),
        ("I booked the dentist appointment", S, c(&[done(6)])),
        ("tick off the dentist", S, c(&[done(6)])),
        ("cross off oat milk", S, c(&[done(4)])),
        ("mark 1 and 4 as done", S, c(&[done(1), done(4)])),
        ("mark 1, 2 and 6 done", S, c(&[done(1), done(2), done(6)])),
        ("mark the report as finished", S, c(&[done(3)])),
        ("the report is done", S, c(&[done(3)])),
        ("milk's done", S, amb(&[1, 4])),
        ("mark the quarterly report complete", S, c(&[done(3)])),
        ("I finished the quarterly report", S, c(&[done(3)])),
        ("mark 7 done", S, c(&[done(7)])),
        ("complete task seven", S, c(&[done(7)])),
        ("mark it as done please", S, c(&[done(2)])),
        ("it's done", S, c(&[done(2)])),
        ("that's done", S, c(&[done(2)])),
        ("done with the report", S, c(&[done(3)])),
        ("I'm done with the dentist appointment", S, c(&[done(6)])),
        ("mark everything as done", S, c(&[done(1), done(2), done(3), done(4), done(6)])),
        ("mark milk done", U, c(&[done(1)])),
        ("I bought the oat milk", S, c(&[done(4)])),
        ("bought oat milk", S, c(&[done(4)])),
        ("mark dentst done", S, c(&[done(6)])),
        ("mark it done", N, Exp::Ask),
        ("mark milk done", D, c(&[done(2)])),
        ("I bought the milk", D, c(&[done(1)])),
        ("mark 3 as not done", S, Exp::Info),
        ("reopen task 5", S, c(&[tool("reopen_task", json!({ "task_id": 5 }))])),
        ("mark 2 as important", S, c(&[tool("update_task", json!({ "task_id": 2, "priority": "high" }))])),
        ("mark done", S, Exp::Ask),
        ("i did 3", S, c(&[done(3)])),
        ("set 4 to done", S, c(&[done(4)])),
        ("change 6 to done", S, c(&[done(6)])),
        ("check 2 off", S, c(&[done(2)])),
        ("finish the report", S, c(&[done(3)])),
        ("mark the bill done", S, c(&[done(5)])),
        ("mark eggs done", E, Exp::NotFound),
        ("could you tick off #6 for me? thanks", S, c(&[done(6)])),
        ("mark the 3rd one done", S, c(&[done(3)])),
        ("I just sent the report", S, c(&[done(3)])),
        ("I bought a car", S, Exp::NotFound),
        ("everything is done", D, c(&[done(2)])),
        ("mark all done", E, Exp::Info),
        ("mark task3 done", S, c(&[done(3)])),
        ("the milk is bought", U, c(&[done(1)])),
        ("the bill is paid", S, c(&[done(5)])),
        ("the oat milk has been bought", S, c(&[done(4)])),
        ("mark the dentist and the report done", S, c(&[done(6), done(3)])),
        ("I called mom and booked the dentist", S, c(&[done(2), done(6)])),
        ("mark the one called call mom as done", S, c(&[done(2)])),
        ("first task is done", S, c(&[done(1)])),
        ("mark the dentist appointment as done and thanks", S, c(&[done(6)])),
        ("#3 done", S, c(&[done(3)])),
        ("went to the dentist", S, c(&[done(6)])),
        ("I'm not done with the report", S, Exp::Info),
        ("call that plumber", S, Exp::Unknown),
        ("call that the plumber visit instead", S, c(&[ren(2, "the plumber visit")])),
        // ---- deleting ----
        ("delete 3", S, c(&[del(3)])),
        ("remove task 2", S, c(&[del(2)])),
        ("forget the milk", S, amb(&[1, 4])),
        ("forget the milk", U, c(&[del(1)])),
        ("get rid of eggs", S, Exp::NotFound),
        ("drop it", S, c(&[del(2)])),
        ("cancel the dentist task", S, c(&[del(6)])),
        ("delete task #4", S, c(&[del(4)])),
        ("please remove number five", S, c(&[del(5)])),
        ("delete the quarterly report", S, c(&[del(3)])),
        ("erase 1", S, c(&[del(1)])),
        ("take oat milk off my list", S, c(&[del(4)])),
        ("scrap the dentist appointment", S, c(&[del(6)])),
        ("I don't need to call mom anymore", S, c(&[del(2)])),
        ("no need to buy oat milk", S, c(&[del(4)])),
        ("delete 2 and 3", S, c(&[del(2), del(3)])),
        ("clear completed tasks", S, c(&[del(5)])),
        ("delete all completed tasks", S, c(&[del(5)])),
        ("clear completed", U, c(&[del(3)])),
        ("delete everything", S, c(&[del(1), del(2), del(3), del(4), del(5), del(6)])),
        ("delete it", N, Exp::Ask),
        ("delete", S, Exp::Ask),
        ("cancel that", S, c(&[del(2)])),
        ("delete the mlik", S, Exp::NotFound),
        ("remove the electricity bill task", S, c(&[del(5)])),
        ("get rid of task 10", S, c(&[del(10)])),
        ("delete the dentist appointment from my list", S, c(&[del(6)])),
        ("remove the car wash", S, Exp::NotFound),
        ("delete eggs", E, Exp::NotFound),
        ("forget about the report", S, c(&[del(3)])),
        ("clear done tasks", E, Exp::Info),
        ("trash that one", U, c(&[del(4)])),
        ("delete the task called buy oat milk", S, c(&[del(4)])),
        ("delete the dentist, the report", S, c(&[del(6), del(3)])),
        ("delete milk and eggs", S, amb(&[1, 4])),
        ("the report can go", S, c(&[del(3)])),
        ("undo", S, Exp::Calls(vec![tool("undo_last_change", json!({}))])),
        ("undo that!", S, Exp::Calls(vec![tool("undo_last_change", json!({}))])),
        ("undo completing 3", S, Exp::Info),
        // ---- updating ----
        ("rename 2 to oat milk", S, c(&[ren(2, "oat milk")])),
        ("rename the milk one to oat milk", S, amb(&[1, 4])),
        ("rename the milk one to oat milk", U, c(&[ren(1, "oat milk")])),
        ("change task 1 to call dad", S, c(&[ren(1, "call dad")])),
        ("call it Call mom and dad instead", S, c(&[ren(2, "Call mom and dad")])),
        ("change the description of 3 to include Q3 numbers", S, c(&[note(3, "include Q3 numbers")])),
        ("add a note to 2: ask about her trip", S, c(&[note(2, "ask about her trip")])),
        ("set description of milk to semi-skimmed", U, c(&[note(1, "semi-skimmed")])),
        ("set description of milk to semi-skimmed", S, amb(&[1, 4])),
        ("rename it to call mum", S, c(&[ren(2, "call mum")])),
        ("change the title of 6 to book dentist for Friday", S, c(&[ren(6, "book dentist for Friday")])),
        ("update 4: buy almond milk", S, c(&[ren(4, "buy almond milk")])),
        ("rename the dentist appointment to dentist at 3pm", S, c(&[ren(6, "dentist at 3pm")])),
        ("change the report to write the annual report", S, c(&[ren(3, "write the annual report")])),
        ("remove the note from 3", S, c(&[note(3, "")])),
        ("add a note to the dentist appointment: bring insurance card", S, c(&[note(6, "bring insurance card")])),
        ("rename 2", S, Exp::Ask),
        ("edit the report", S, Exp::Ask),
        ("change 3's description to due Friday", S, c(&[note(3, "due Friday")])),
        ("name it weekly call with mom", S, c(&[ren(2, "weekly call with mom")])),
        ("rename task 9 to anything", S, c(&[ren(9, "anything")])),
        ("rename pizza night to pasta night", S, Exp::NotFound),
        ("describe 6 as bring insurance card", S, c(&[note(6, "bring insurance card")])),
        ("call that one \"Book flights to Rome\"", U, c(&[ren(4, "Book flights to Rome")])),
        ("it should say call mom on Sunday", S, c(&[ren(2, "call mom on Sunday")])),
        ("rename it to call mum", N, Exp::Ask),
        // ---- everything else ----
        ("hi", S, Exp::Help),
        ("hello there!", S, Exp::Help),
        ("help", S, Exp::Help),
        ("what can you do?", S, Exp::Help),
        ("asdfgh", S, Exp::Unknown),
        ("what's the weather like?", S, Exp::Unknown),
        ("thanks!", S, Exp::Thanks),
        ("ok thanks", S, Exp::Thanks),
        ("never mind", S, Exp::Ack),
        ("forget it", S, Exp::Ack),
        ("how do I add a task?", S, Exp::Help),
        ("tell me a joke", S, Exp::Unknown),
        ("put the milk in the fridge", S, Exp::Unknown),
        ("who won the game last night", S, Exp::Unknown),
        ("great", S, Exp::Ack),
        ("", S, Exp::Help),
        ("good morning", N, Exp::Help),
    ]
}

#[test]
fn phrasing_table() {
    let rows = rows();
    let mut failures = Vec::new();
    for (msg, cx, expected) in &rows {
        let got = with_ctx(*cx, |ctx| kind_of(&interpret(msg, ctx)));
        if &got != expected {
            failures.push(format!("{msg:?} [{cx:?}]\n   expected {expected:?}\n   got      {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} rows failed:\n{}", failures.len(), rows.len(), failures.join("\n"));
}

#[test]
fn table_has_at_least_150_distinct_phrasings() {
    let rows = rows();
    let mut msgs: Vec<&str> = rows.iter().map(|r| r.0).collect();
    msgs.sort_unstable();
    msgs.dedup();
    assert!(msgs.len() >= 150, "only {} distinct phrasings", msgs.len());
}

// ---- wording of direct replies ----

fn reply(msg: &str, cx: Cx) -> String {
    match with_ctx(cx, |ctx| decide(msg, ctx)) {
        Decision::Reply(r) => r,
        Decision::Call(c) => panic!("expected a reply to {msg:?}, got calls {c:?}"),
    }
}

#[test]
fn decide_returns_the_calls_unchanged() {
    let got = with_ctx(S, |ctx| decide("add milk and eggs", ctx));
    assert_eq!(got, Decision::Call(vec![add("milk"), add("eggs")]));
}

#[test]
fn ambiguous_question_lists_candidates_by_number() {
    assert_eq!(reply("mark milk as complete", S), "Which one do you mean: 1 (buy milk) or 4 (buy oat milk)?");
}

#[test]
fn an_exact_spelling_outranks_near_spellings() {
    let tasks = vec![
        task(1, "call supplier labababa", false),
        task(2, "call supplier dabababa", false),
        task(3, "call supplier mabababa", false),
    ];
    let now = test_now();
    let ctx = Context {
        tasks: &tasks,
        last_mentioned: None,
        user_name: None,
        now: &now,
        more: None,
        pending: None,
        last: &LastTurn::default(),
    };
    assert_eq!(decide("i finished call supplier dabababa", &ctx), Decision::Call(vec![done(2)]));
    // A typo that is as near to two titles as to any stays a question.
    assert!(
        matches!(decide("i finished call supplier xabababa", &ctx), Decision::Reply(r) if r.starts_with("Which one"))
    );
}

#[test]
fn ambiguous_delete_marks_done_candidates() {
    let tasks = vec![task(1, "pay rent", true), task(2, "pay rent", false)];
    let now = test_now();
    let ctx = Context {
        tasks: &tasks,
        last_mentioned: None,
        user_name: None,
        now: &now,
        more: None,
        pending: None,
        last: &LastTurn::default(),
    };
    assert_eq!(
        decide("delete pay rent", &ctx),
        Decision::Reply("Which one do you mean: 1 (pay rent, already done) or 2 (pay rent)?".to_string())
    );
    // Completing the same phrase prefers the pending twin instead of asking.
    assert_eq!(decide("I paid the rent", &ctx), Decision::Call(vec![done(2)]));
}

#[test]
fn not_found_names_closest_titles_or_points_to_the_list() {
    assert_eq!(
        reply("delete the mlik", S),
        "I couldn't find a task matching \"mlik\". Did you mean 1 (buy milk) or 4 (buy oat milk)?"
    );
    assert_eq!(
        reply("tick off eggs", S),
        "I couldn't find a task matching \"eggs\". Say \"show my list\" to see your tasks."
    );
    assert!(reply("delete eggs", E).starts_with("You don't have any tasks yet"));
}

#[test]
fn help_greets_by_name_and_lists_examples() {
    let hi = reply("hey", N);
    assert!(hi.starts_with("Hi Sam!"), "{hi}");
    assert!(hi.contains("add buy milk tomorrow") && hi.contains("mark 3 done"), "{hi}");
    let lost = reply("asdfgh", N);
    assert!(lost.starts_with("Sorry Sam, I didn't catch that."), "{lost}");
    assert!(reply("help", S).starts_with("Hi! "));
    assert_eq!(reply("thanks", N), "You're welcome, Sam!");
}

#[test]
fn clarifying_questions() {
    assert!(reply("mark it done", N).starts_with("Which task do you mean?"));
    assert!(reply("add", S).starts_with("What should the task say?"));
    assert!(reply("rename 2", S).starts_with("What should I change about task 2?"));
    assert!(reply("delete everything", E).contains("don't have any tasks"));
}

#[test]
fn decisions_are_deterministic() {
    for (msg, cx, _) in rows() {
        let a = with_ctx(cx, |ctx| decide(msg, ctx));
        let b = with_ctx(cx, |ctx| decide(msg, ctx));
        assert_eq!(a, b, "{msg}");
    }
}

// ---- helpers with sharp edges ----

#[test]
fn stems_meet_across_verb_forms() {
    for (a, b) in [
        ("bought", "buy"),
        ("called", "call"),
        ("calling", "call"),
        ("finished", "finish"),
        ("wrote", "write"),
        ("written", "writing"),
        ("paid", "pay"),
        ("sent", "send"),
        ("did", "do"),
        ("made", "make"),
        ("went", "go"),
        ("groceries", "grocery"),
        ("dishes", "dish"),
        ("stopped", "stop"),
        ("filed", "file"),
        ("eggs", "egg"),
    ] {
        assert_eq!(stem(a), stem(b), "{a} vs {b}");
    }
    assert_ne!(stem("bill"), stem("ball"));
}

#[test]
fn number_references() {
    for (s, n) in [
        ("3", 3),
        ("#3", 3),
        ("task 3", 3),
        ("task #3", 3),
        ("task number three", 3),
        ("the 3rd one", 3),
        ("no. 12", 12),
        ("ten", 10),
        ("first", 1),
    ] {
        assert_eq!(parse_number_ref(s), Some(n), "{s}");
    }
    for s in ["milk", "the milk one", "", "task", "one two"] {
        assert_eq!(parse_number_ref(s), None, "{s}");
    }
    assert_eq!(parse_number_list("1, 2 and 6"), Some(vec![1, 2, 6]));
    assert_eq!(parse_number_list("tasks 2 & 3"), Some(vec![2, 3]));
    assert_eq!(parse_number_list("2 and milk"), None);
}

#[test]
fn template_matching_respects_word_boundaries_and_keeps_case() {
    assert_eq!(match_template("mark {} as done", "Mark Task 3 as done"), vec![vec!["Task 3"]]);
    assert!(match_template("{} done", "undone").is_empty());
    assert!(match_template("add {}", "address the letters").is_empty());
    assert_eq!(
        match_template("change {} to {}", "change go to gym to go to pool"),
        vec![vec!["go", "gym to go to pool"], vec!["go to gym", "go to pool"], vec!["go to gym to go", "pool"]]
    );
}

#[test]
fn non_ascii_text_keeps_its_offsets() {
    // 'İ' lower-cases to two chars; folding must not shift byte positions.
    assert_eq!(with_ctx(S, |ctx| interpret("add İstanbul trip", ctx)), Outcome::Calls(vec![add("İstanbul trip")]));
    assert_eq!(with_ctx(S, |ctx| interpret("Add Crème brûlée 🍮", ctx)), Outcome::Calls(vec![add("Crème brûlée")]));
}

// ---- compose_answer ----

fn res_task(n: i64, title: &str, description: Option<&str>, completed: bool) -> Value {
    json!({ "task": { "number": n, "title": title, "description": description, "completed": completed, "created_at": "x" } })
}

#[test]
fn compose_add() {
    let out = compose_answer(&[(add("buy milk"), res_task(3, "buy milk", None, false))]);
    assert_eq!(out, "Added task 3: buy milk.");
    let out = compose_answer(&[(
        addd("buy milk", "2 litres, semi-skimmed"),
        res_task(3, "buy milk", Some("2 litres, semi-skimmed"), false),
    )]);
    assert_eq!(out, "Added task 3: buy milk (note: 2 litres, semi-skimmed).");
    let out = compose_answer(&[(add("Really?"), res_task(8, "Really?", None, false))]);
    assert_eq!(out, "Added task 8: Really?");
}

#[test]
fn compose_several_adds_as_one_list() {
    let out = compose_answer(&[
        (add("milk"), res_task(7, "milk", None, false)),
        (add("eggs"), res_task(8, "eggs", None, false)),
        (add("bread"), res_task(9, "bread", None, false)),
    ]);
    assert_eq!(out, "Added 3 tasks:\n- 7. milk\n- 8. eggs\n- 9. bread");
}

#[test]
fn compose_complete_delete_update() {
    assert_eq!(
        compose_answer(&[(done(3), res_task(3, "buy milk", None, true))]),
        "Done: task 3 (buy milk) is complete."
    );
    assert_eq!(compose_answer(&[(del(3), res_task(3, "buy milk", None, false))]), "Deleted task 3 (buy milk).");
    assert_eq!(
        compose_answer(&[(ren(2, "oat milk"), res_task(2, "oat milk", None, false))]),
        "Renamed task 2 to \"oat milk\"."
    );
    assert_eq!(
        compose_answer(&[(note(3, "due Friday"), res_task(3, "write the report", Some("due Friday"), false))]),
        "Updated the note on task 3 (write the report): \"due Friday\"."
    );
    assert_eq!(
        compose_answer(&[(note(3, ""), res_task(3, "write the report", None, false))]),
        "Removed the note from task 3 (write the report)."
    );
    // A result without the task still confirms from the call's own arguments.
    assert_eq!(compose_answer(&[(del(4), json!({ "ok": true }))]), "Deleted task 4.");
}

fn res_list(items: &[(i64, &str, bool, Option<&str>)]) -> Value {
    let tasks: Vec<Value> =
        items.iter().map(|(n, t, c, d)| json!({ "number": n, "title": t, "completed": c, "description": d })).collect();
    json!({ "tasks": tasks, "count": items.len() })
}

#[test]
fn compose_lists() {
    let out = compose_answer(&[(
        list("pending"),
        res_list(&[(1, "buy milk", false, Some("semi-skimmed")), (2, "call mom", false, None)]),
    )]);
    assert_eq!(out, "You have 2 pending tasks:\n- ☐ 1. buy milk — semi-skimmed\n- ☐ 2. call mom");
    let out = compose_answer(&[(list("all"), res_list(&[(1, "buy milk", false, None), (5, "pay bill", true, None)]))]);
    assert_eq!(out, "Your tasks (1 pending, 1 done):\n- ☐ 1. buy milk\n- ✓ 5. pay bill");
    let out = compose_answer(&[(list("completed"), res_list(&[(5, "pay bill", true, None)]))]);
    assert_eq!(out, "You've completed 1 task:\n- ✓ 5. pay bill");
    assert_eq!(compose_answer(&[(list("pending"), res_list(&[]))]), "You have no pending tasks.");
    assert_eq!(compose_answer(&[(list("completed"), res_list(&[]))]), "You haven't completed any tasks yet.");
    assert!(compose_answer(&[(list("all"), res_list(&[]))]).starts_with("Your list is empty."));
    // No status argument reads as the whole list.
    let bare = tool("list_tasks", json!({}));
    assert!(
        compose_answer(&[(bare, res_list(&[(1, "a", false, None)]))]).starts_with("Your tasks (1 pending, 0 done):")
    );
}

#[test]
fn compose_errors() {
    let err = json!({
        "error": "not_found",
        "message": "There is no task 7",
        "suggestions": [{ "number": 1, "title": "buy milk" }, { "number": 4, "title": "buy oat milk" }]
    });
    assert_eq!(
        compose_answer(&[(done(7), err)]),
        "Sorry, I couldn't complete task 7: There is no task 7. Did you mean 1 (buy milk) or 4 (buy oat milk)?"
    );
    let err = json!({ "error": "not_found", "suggestions": ["buy milk", "Say \"show my list\" to see the numbers."] });
    assert_eq!(
        compose_answer(&[(del(9), err)]),
        "Sorry, I couldn't delete task 9: not found. Did you mean \"buy milk\"? Say \"show my list\" to see the numbers."
    );
    let err = json!({ "error": "invalid_title", "message": "Title must not be empty.", "suggestions": [] });
    assert_eq!(compose_answer(&[(add("x"), err)]), "Sorry, I couldn't add \"x\": Title must not be empty.");
    let err = json!({ "error": true });
    assert_eq!(compose_answer(&[(ren(2, "y"), err)]), "Sorry, I couldn't update task 2: something went wrong.");
}

#[test]
fn compose_mixed_and_edge_cases() {
    let out = compose_answer(&[
        (done(1), res_task(1, "buy milk", None, true)),
        (done(7), json!({ "error": "not_found", "message": "No task 7." })),
    ]);
    assert_eq!(out, "Done: task 1 (buy milk) is complete.\nSorry, I couldn't complete task 7: No task 7.");
    // One failed add among several is not summarised as "Added 2 tasks".
    let out = compose_answer(&[
        (add("milk"), res_task(7, "milk", None, false)),
        (add(""), json!({ "error": "invalid", "message": "Empty title." })),
    ]);
    assert_eq!(out, "Added task 7: milk.\nSorry, I couldn't add \"\": Empty title.");
    assert_eq!(compose_answer(&[]), "I didn't change anything.");
    assert_eq!(compose_answer(&[(tool("mystery", json!({})), json!({ "message": "ok then" }))]), "ok then.");
}

#[test]
fn odd_input_never_panics() {
    // Every pairing of awkward fragments, through both contexts with and without tasks.
    let fragments = [
        "",
        " ",
        "add",
        "mark",
        "done",
        "delete",
        "rename",
        "to",
        "it",
        "3",
        "#",
        "-",
        ":",
        ";",
        "(",
        ")",
        "\"",
        "'",
        "and",
        ",",
        "İ",
        "ß",
        "🍮",
        "…",
        "\u{2019}s",
        "milk",
        "task",
        "the",
        "\n",
        "?",
        "!!",
        "call it",
        "with description",
        "note:",
        "1, 2 and",
        "everything",
        "completed",
        "not",
        "to my list",
        "é",
    ];
    for a in fragments {
        for b in fragments {
            with_ctx(S, |ctx| decide(&format!("{a} {b}{a}"), ctx));
            with_ctx(E, |ctx| decide(&format!("{b} {a}"), ctx));
        }
    }
}

/// Task text, names and words echoed in answers stay literal text when the answer is rendered as Markdown:
/// checked with a CommonMark parser (GitHub's extensions on), over every kind of answer that quotes them.
#[test]
fn echoed_text_never_becomes_markdown() {
    use pulldown_cmark::{Event, Options, Parser, Tag};
    const EVIL: &str = "[click me](https://evil.example) **now** `x` <b>hi</b> &#x202E; _u_ ~~s~~ \\";
    let check = |answer: &str, expect: &[&str]| {
        let mut text = String::new();
        for event in Parser::new_ext(answer, Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES) {
            match event {
                Event::Text(t) => text.push_str(&t),
                Event::SoftBreak | Event::HardBreak => text.push('\n'),
                Event::Start(Tag::Paragraph | Tag::List(_) | Tag::Item) | Event::End(_) => {}
                other => panic!("{other:?} in the answer {answer:?}"),
            }
        }
        for e in expect {
            assert!(text.contains(e), "{e:?} is not shown as written in {text:?} (from {answer:?})");
        }
    };
    let hostile_task = json!({"task": {
        "number": 7, "title": EVIL, "description": format!("line one\n# heading\n> quote {EVIL}"),
        "labels": ["[l](https://evil.example)"], "priority": "high", "completed": false
    }});
    check(
        &compose_answer(&[(add(EVIL), hostile_task.clone())]),
        &[EVIL, "# heading > quote", "#[l](https://evil.example)"],
    );
    check(&compose_answer(&[(add(EVIL), hostile_task.clone()), (add(EVIL), hostile_task.clone())]), &[EVIL]);
    let list = json!({"tasks": [hostile_task["task"].clone()], "total": 1});
    check(
        &compose_answer(&[(tool("list_tasks", json!({"status": "all", "search": EVIL, "label": EVIL})), list)]),
        &[EVIL],
    );
    let rename = tool("update_task", json!({"task_id": 7, "title": EVIL, "description": EVIL, "add_labels": [EVIL]}));
    check(&compose_answer(&[(rename, hostile_task.clone())]), &[EVIL]);
    let due = tool("update_task", json!({"task_id": 7, "due": EVIL}));
    check(&compose_answer(&[(due, json!({"task": {"number": 7, "title": EVIL}}))]), &[EVIL]);
    let failed = json!({"error": "not_found", "message": format!("No task matches {EVIL}"),
        "suggestions": [EVIL, {"number": 2, "title": EVIL}, format!("Try {EVIL} instead.")]});
    check(&compose_answer(&[(add(EVIL), failed)]), &[EVIL]);

    let tasks = vec![task(1, EVIL, false), task(2, EVIL, true)];
    let now = test_now();
    let name = "[Sam](https://evil.example) <i>";
    let ctx = Context {
        tasks: &tasks,
        last_mentioned: None,
        user_name: Some(name),
        now: &now,
        more: None,
        pending: None,
        last: &LastTurn::default(),
    };
    for message in ["thanks", "delete click me now", "delete zzqq **bold** [a](https://x.example)", "reopen 1", "hello"]
    {
        match decide(message, &ctx) {
            Decision::Reply(r) => check(&r, &[]),
            Decision::Call(calls) => panic!("{message:?} called {calls:?}"),
        }
    }
    let Decision::Reply(thanks) = decide("thanks", &ctx) else { unreachable!() };
    check(&thanks, &[name]);
    let Decision::Reply(which) = decide("delete click me now", &ctx) else { unreachable!() };
    check(&which, &[EVIL]);
}
