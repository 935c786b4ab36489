//! The load generator (`benches/loadgen`) at small sizes, as a correctness check of
//! the realtime path: every acked message reaches every other socket of its chat
//! exactly once, and nothing errs.

#[path = "../../benches/loadgen/engine.rs"]
mod engine;

use std::time::Duration;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, spawn_app};
use engine::{Options, Report, Scenario};

backend_tests!(
    many_chats_lose_and_duplicate_nothing,
    a_busy_group_reaches_every_member_once,
    idle_sockets_are_all_held,
);

async fn run(app: &TestApp, scenario: Scenario) -> Report {
    let options = Options {
        drain: Duration::from_secs(20),
        ..Options::new(format!("http://{}", app.addr))
    };
    engine::run(&options, &scenario)
        .await
        .expect("the load runs")
}

#[track_caller]
fn assert_clean(report: &Report) {
    let shown = serde_json::to_string_pretty(report).unwrap();
    assert_eq!(report.errors, 0, "{shown}");
    assert_eq!(report.lost, 0, "{shown}");
    assert_eq!(report.duplicated, 0, "{shown}");
    assert_eq!(report.unexpected, 0, "{shown}");
    assert_eq!(report.acks, report.sends, "{shown}");
    assert_eq!(report.deliveries, report.expected_deliveries, "{shown}");
    assert_eq!(
        report.connections_held, report.connections_wanted,
        "{shown}"
    );
}

async fn many_chats_lose_and_duplicate_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let report = run(
        &app,
        Scenario::Chats {
            users: 20,
            chats: 6,
            rate: 200,
            seconds: 1.0,
        },
    )
    .await;
    assert_clean(&report);
    assert_eq!(report.sends, 200);
    // 3 groups of 6 or 7 and 3 direct chats: every message has someone to reach.
    assert!(report.expected_deliveries >= 200, "{report:?}");
    assert_eq!(report.latency_ms.count, report.deliveries);
}

async fn a_busy_group_reaches_every_member_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let report = run(
        &app,
        Scenario::Fanout {
            members: 30,
            rates: vec![50, 100],
            step_secs: 1.0,
            stop_above_ms: f64::INFINITY,
        },
    )
    .await;
    assert_clean(&report);
    assert_eq!(report.steps.len(), 2);
    assert_eq!(report.sends, 150);
    assert_eq!(report.expected_deliveries, 150 * 29);
}

async fn idle_sockets_are_all_held(backend: Backend) {
    let app = spawn_app(backend).await;
    let report = run(
        &app,
        Scenario::Idle {
            connections: 12,
            per_user: 3,
            chats: 2,
        },
    )
    .await;
    assert_clean(&report);
    assert_eq!((report.users, report.connections_held), (4, 12));
    assert_eq!(report.rss_per_connection_kib, None, "no pid, no RSS");
}

#[test]
fn latency_buckets_are_contiguous_and_within_four_percent() {
    let mut last = 0;
    for us in 0..100_000u64 {
        let i = engine::Histogram::index(us);
        assert!(i == last || i == last + 1, "{us}");
        last = i;
        let v = engine::Histogram::value(i);
        assert!(
            (v - us as f64).abs() <= (us as f64 * 0.04).max(1.0),
            "{us} -> {v}"
        );
    }
}

#[test]
fn frames_are_read_without_parsing_them_whole() {
    let chats = ["c0".to_string(), "c1".to_string()];
    let frame = r#"{"type":"message.created","message":{"id":"m","chat_id":"c1","seq":42,"sender_id":"u","content":"lg 123 0 1","html":"<p>lg 123 0 1</p>"}}"#;
    assert_eq!(engine::event_type(frame), Some("message.created"));
    let ours = engine::Ours::parse(frame, &chats).unwrap();
    assert_eq!(
        (ours.chat, ours.seq, ours.step, ours.sent_at),
        (1, 42, 0, 123)
    );
    let misrouted = frame.replace(r#""chat_id":"c1""#, r#""chat_id":"c0""#);
    assert!(engine::Ours::parse(&misrouted, &chats).is_none());
}
