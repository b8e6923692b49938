//! Live updates (`EventBus`): on PostgreSQL they travel through NOTIFY in batches and come back through
//! LISTEN; every event must arrive, in order, and a backlog the database cannot take is dropped (never
//! waited for) with every page told to reload.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use taskchat::events::{EventBus, LiveEvent};
use tokio::sync::broadcast;

use crate::common::*;
use crate::on_both_databases;

fn bus(app: &TestApp) -> Arc<EventBus> {
    app.server.as_ref().expect("running").state.events.clone()
}

/// The next event, or None after `limit`; a receiver that fell behind reads as a reload, as pages do.
async fn next(rx: &mut broadcast::Receiver<Arc<LiveEvent>>, limit: Duration) -> Option<LiveEvent> {
    match tokio::time::timeout(limit, rx.recv()).await {
        Ok(Ok(e)) => Some((*e).clone()),
        Ok(Err(broadcast::error::RecvError::Lagged(_))) => Some(LiveEvent { kind: "resync".into(), data: json!({}) }),
        Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => None,
    }
}

/// Publishes markers until one comes back: on PostgreSQL the LISTEN connection is set up in the background.
async fn wait_until_listening(bus: &EventBus, user: &str, rx: &mut broadcast::Receiver<Arc<LiveEvent>>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        bus.publish(user, "test.warmup", json!({}));
        if let Some(e) = next(rx, Duration::from_millis(500)).await {
            assert_eq!(e.kind, "test.warmup");
            // Drain the markers still under way.
            while next(rx, Duration::from_millis(300)).await.is_some() {}
            return;
        }
    }
    panic!("live updates never arrived");
}

on_both_databases!(events_arrive_in_order_and_identical_ones_are_not_merged, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let bus = bus(&app);
    let user = "u-events-order";
    let mut rx = bus.subscribe(user);
    wait_until_listening(&bus, user, &mut rx).await;

    // Published at once, so that on PostgreSQL they queue up and go out together: identical payloads sent in
    // one transaction would reach listeners only once, and the order must hold within and across batches.
    for _ in 0..50 {
        bus.publish(user, "test.same", json!({"same": true}));
    }
    for i in 0..150 {
        bus.publish(user, "test.numbered", json!({"i": i}));
    }
    bus.publish("someone-else", "test.other", json!({}));
    let mut seen = vec![];
    while seen.len() < 200 {
        let e = next(&mut rx, Duration::from_secs(10)).await.unwrap_or_else(|| panic!("only {} events", seen.len()));
        seen.push(e);
    }
    assert!(seen[..50].iter().all(|e| e.kind == "test.same" && e.data == json!({"same": true})), "{:?}", &seen[..50]);
    for (i, e) in seen[50..].iter().enumerate() {
        assert_eq!((e.kind.as_str(), &e.data), ("test.numbered", &json!({"i": i})), "event {i} out of order");
    }
    assert!(next(&mut rx, Duration::from_millis(300)).await.is_none(), "another person's event arrived");
    assert_eq!(bus.dropped_total(), 0);
    app.stop().await;
});

on_both_databases!(an_event_too_large_to_notify_becomes_a_reload, |backend: Backend| async move {
    let app = TestApp::start(backend).await;
    let bus = bus(&app);
    let user = "u-events-large";
    let mut rx = bus.subscribe(user);
    wait_until_listening(&bus, user, &mut rx).await;
    let big = "x".repeat(9000);
    bus.publish(user, "test.big", json!({"text": big}));
    bus.publish(user, "test.after", json!({}));
    let first = next(&mut rx, Duration::from_secs(10)).await.expect("an event");
    match backend {
        // NOTIFY payloads stop at 8000 bytes: the page is told to reload instead, and the batch still goes out.
        Backend::Postgres => assert_eq!(first.kind, "resync"),
        Backend::Sqlite => assert_eq!(first.data, json!({"text": big})),
    }
    assert_eq!(next(&mut rx, Duration::from_secs(10)).await.expect("the next event").kind, "test.after");
    app.stop().await;
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_reload_for_everyone_reaches_every_page() {
    if !postgres_available() {
        return;
    }
    let app = TestApp::start(Backend::Postgres).await;
    let bus = bus(&app);
    let (mut a, mut b) = (bus.subscribe("u-a"), bus.subscribe("u-b"));
    wait_until_listening(&bus, "u-a", &mut a).await;
    // What a copy of taskchat sends after it had to drop events (it cannot know whose they were).
    app.exec("SELECT pg_notify('taskchat_events', '{\"t\":\"resync\"}')", &[]).await;
    for rx in [&mut a, &mut b] {
        assert_eq!(next(rx, Duration::from_secs(10)).await.expect("a reload").kind, "resync");
    }
    app.stop().await;
}

// One thread: the publishing loop never yields, so the notifier cannot drain while it runs and the backlog's
// bound, not the race between the two, decides what is dropped.
#[tokio::test]
async fn postgres_a_flood_is_dropped_not_queued_and_pages_reload() {
    if !postgres_available() {
        return;
    }
    let app = TestApp::start(Backend::Postgres).await;
    let bus = bus(&app);
    let user = "u-events-flood";
    let mut rx = bus.subscribe(user);
    wait_until_listening(&bus, user, &mut rx).await;
    let started = Instant::now();
    for i in 0..20_000 {
        bus.publish(user, "test.flood", json!({"i": i}));
    }
    // Publishing never waits for the database.
    assert!(started.elapsed() < Duration::from_secs(5), "publishing took {:?}", started.elapsed());
    assert!(bus.dropped_total() > 0, "20,000 events at once fit the backlog: it is not bounded");
    // The page hears that it missed something, and the bus keeps working once the backlog has drained.
    let mut reload = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "no event after the flood arrived");
        if reload {
            bus.publish(user, "test.after", json!({}));
        }
        match next(&mut rx, Duration::from_secs(1)).await {
            Some(e) if e.kind == "resync" => reload = true,
            Some(e) if e.kind == "test.after" => break,
            Some(e) => assert_eq!(e.kind, "test.flood", "{e:?}"),
            None => {}
        }
    }
    assert!(bus.dropped_total() < 20_000, "everything was dropped");
    app.stop().await;
}
