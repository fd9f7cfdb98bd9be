//! What the gateway passes through without deciding it, in both directions, shown by
//! what the upstream example writes down it was asked or told: completions, logging,
//! resource subscriptions, paginated resources and prompts, the upstream's sampling and
//! roots requests, the agent's cancellation (of a running call, and of one waiting for
//! approval), a restarted upstream given the subscriptions and logging level again, and
//! an HTTP upstream that restarts.

#![allow(
    deprecated,
    reason = "logging, sampling, roots and resource subscriptions are deprecated by the 2026-07-28 revision, and still pass through for clients of the earlier ones"
)]

use std::time::Duration;

use nanokvm_mcp::gateway::{GatewayBuilder, GatewayServer, Link, Upstream};
use nanokvm_mcp::setup::{CountersArgs, gateway_setup};
use rmcp::ServiceExt as _;
use rmcp::model::{
    ArgumentInfo, CallToolRequest, CallToolRequestParams, ClientRequest, CompleteRequestParams,
    LoggingLevel, PaginatedRequestParams, Reference, SetLevelRequestParams, SubscribeRequestParams,
    UnsubscribeRequestParams,
};
use rmcp::service::PeerRequestOptions;
use serde_json::{Value, json};

use super::{HttpUpstream, Options, Rig, reached};
use crate::support::{TestClient, state_args, text};

/// A policy that allows everything and counts every call, so that what a call leaves
/// counted shows.
fn counted() -> Value {
    json!({
        "version": "1", "default": "allow",
        "all_tools": {"limits": [{"counter": "all", "window": "hour", "max": 100, "scope": "grant"}]}
    })
}

/// The calls the agent has used of the `all` counter of `server`'s policy.
fn used(server: &GatewayServer) -> Option<u64> {
    let standing = server.gate().engine().standing(
        &nanokvm_policy::Call::new("echo", &json!({})).principal("agent"),
        nanokvm_policy::Timestamp::from_system_time(std::time::SystemTime::now()),
    );
    standing.quotas[0].used
}

/// The outcome records of `tool` in the audit log.
fn outcomes(rig: &Rig, tool: &str) -> Vec<Value> {
    rig.audit()
        .into_iter()
        .filter(|r| r["kind"] == "outcome" && r["tool"] == tool)
        .collect()
}

/// Waits (30 s at most) until `done` holds, looking every 20 ms: for what the gateway
/// writes down without telling the agent.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn resources_and_prompts_keep_the_upstreams_pages_and_cursors_and_completions_pass() {
    let rig = Rig::start(json!({"version": "1", "default": "allow"})).await;
    let info = rig.client.peer_info().expect("the server's info");
    let capabilities = &info.capabilities;
    assert!(capabilities.completions.is_some(), "{capabilities:?}");
    assert_eq!(
        capabilities.resources.as_ref().and_then(|r| r.subscribe),
        Some(true)
    );
    assert!(capabilities.logging.is_some(), "{capabilities:?}");

    // Resources: the upstream's pages of 4, its cursor passed on as it made it.
    let first = rig
        .client
        .list_resources(None)
        .await
        .expect("resources/list");
    let uris: Vec<&str> = first.resources.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            "fixture://hello",
            "fixture://item/1",
            "fixture://item/2",
            "fixture://item/3"
        ]
    );
    assert_eq!(first.next_cursor.as_deref(), Some("resources:4"));
    let second = rig
        .client
        .list_resources(Some(
            PaginatedRequestParams::default().with_cursor(first.next_cursor.clone()),
        ))
        .await
        .expect("the second page");
    let uris: Vec<&str> = second.resources.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(uris, ["fixture://item/4", "fixture://item/5"]);
    assert_eq!(second.next_cursor, None);
    assert_eq!(
        rig.received("resources/list"),
        ["cursor=none", "cursor=resources:4"]
    );
    // A cursor the upstream did not make is the upstream's error, not the gateway's.
    let bad = rig
        .client
        .list_resources(Some(
            PaginatedRequestParams::default().with_cursor(Some("prompts:4".to_owned())),
        ))
        .await
        .expect_err("a bad cursor");
    assert!(bad.to_string().contains("bad cursor prompts:4"), "{bad}");

    // Prompts, the same way.
    let first = rig.client.list_prompts(None).await.expect("prompts/list");
    let names: Vec<&str> = first.prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["greet", "prompt1", "prompt2", "prompt3"]);
    assert_eq!(first.next_cursor.as_deref(), Some("prompts:4"));
    let second = rig
        .client
        .list_prompts(Some(
            PaginatedRequestParams::default().with_cursor(first.next_cursor.clone()),
        ))
        .await
        .expect("the second page");
    let names: Vec<&str> = second.prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["prompt4", "prompt5"]);
    assert_eq!(second.next_cursor, None);
    assert_eq!(
        rig.received("prompts/list"),
        ["cursor=none", "cursor=prompts:4"]
    );

    // Completions: the reference and argument reach the upstream; its values come back.
    let completed = rig
        .client
        .complete(CompleteRequestParams::new(
            Reference::for_prompt("greet"),
            ArgumentInfo::new("name", "Al"),
        ))
        .await
        .expect("completion/complete");
    assert_eq!(completed.completion.values, ["Alan", "Alonzo"]);
    assert_eq!(rig.received("completion/complete"), ["greet name=Al"]);
    assert!(rig.reached().is_empty(), "{:?}", rig.reached());
    rig.stop().await;
}

#[tokio::test]
async fn the_logging_level_passes_up_and_log_messages_and_resource_updates_come_back() {
    let rig = Rig::start(json!({"version": "1", "default": "allow"})).await;
    rig.client
        .set_level(SetLevelRequestParams::new(LoggingLevel::Debug))
        .await
        .expect("logging/setLevel");
    assert_eq!(rig.received("logging/setLevel"), ["debug"]);
    // The upstream confirms the level with a log message at that level.
    let confirmed = json!("the level is now debug");
    rig.handler
        .wait_until("the upstream's log message", |c| c.logged(&confirmed))
        .await;

    // A subscription reaches the upstream, and its updates reach the agent.
    let uri = "fixture://item/2";
    rig.client
        .subscribe(SubscribeRequestParams::new(uri))
        .await
        .expect("resources/subscribe");
    assert_eq!(rig.received("resources/subscribe"), [uri]);
    let touched = rig.call("touch", json!({"uri": uri})).await;
    assert_eq!(text(&touched), "notified 1");
    rig.handler
        .wait_until("resources/updated", |c| {
            c.updated.lock().unwrap().iter().any(|u| u == uri)
        })
        .await;
    rig.client
        .unsubscribe(UnsubscribeRequestParams::new(uri))
        .await
        .expect("resources/unsubscribe");
    assert_eq!(rig.received("resources/unsubscribe"), [uri]);
    let touched = rig.call("touch", json!({"uri": uri})).await;
    assert_eq!(
        text(&touched),
        "notified 0",
        "the upstream forgot the subscription"
    );
    assert_eq!(rig.reached(), ["touch", "touch"]);
    rig.stop().await;
}

#[tokio::test]
async fn the_upstreams_sampling_and_roots_requests_reach_the_agent_and_its_roots_changes_go_up() {
    let rig = Rig::start(json!({"version": "1", "default": "allow"})).await;
    let sampled = rig.call("sample", json!({"text": "Say hi"})).await;
    assert_eq!(
        text(&sampled),
        format!("sampled {}", TestClient::SAMPLED),
        "the agent's answer went back to the upstream"
    );
    assert_eq!(*rig.handler.sampled.lock().unwrap(), ["Say hi"]);
    assert_eq!(
        rig.received("sampled"),
        [format!("{} (test-model)", TestClient::SAMPLED)]
    );

    let roots = rig.call("roots", json!({})).await;
    let expected = TestClient::ROOTS.join(" ");
    assert_eq!(text(&roots), format!("roots {expected}"));
    assert_eq!(rig.received("roots"), [expected]);

    // The agent says its roots changed: the upstream hears it, and says so in a log
    // message.
    rig.client
        .notify_roots_list_changed()
        .await
        .expect("notifications/roots/list_changed");
    let heard = json!("roots changed");
    rig.handler
        .wait_until("the upstream to hear of the roots", |c| c.logged(&heard))
        .await;
    assert_eq!(rig.received("roots/list_changed").len(), 1);
    rig.stop().await;
}

#[tokio::test]
async fn an_agent_that_cancels_a_running_call_cancels_it_upstream_and_the_call_stays_counted() {
    let rig = Rig::start(counted()).await;
    let handle = rig
        .client
        .send_cancellable_request(
            ClientRequest::CallToolRequest(CallToolRequest::new(CallToolRequestParams::new(
                "wait",
            ))),
            PeerRequestOptions::no_options(),
        )
        .await
        .expect("tools/call sent");
    // The upstream is running the call once its progress report came back.
    rig.handler
        .wait_until("the upstream to start waiting", |c| {
            c.progress
                .lock()
                .unwrap()
                .iter()
                .any(|p| p.2.as_deref() == Some("waiting"))
        })
        .await;
    handle
        .cancel(Some("changed my mind".to_owned()))
        .await
        .expect("notifications/cancelled sent");
    let noticed = json!("wait was cancelled");
    rig.handler
        .wait_until("the upstream to notice the cancellation", |c| {
            c.logged(&noticed)
        })
        .await;
    assert_eq!(rig.received("cancelled"), ["wait"]);
    assert_eq!(rig.reached(), ["wait"]);
    // The call may have acted before it was cancelled: it stays counted.
    let settled = outcomes(&rig, "wait");
    assert_eq!(settled.len(), 1, "{settled:?}");
    assert_eq!(settled[0]["outcome"], "error");
    assert_eq!(settled[0]["error"], "cancelled by the agent");
    assert_eq!(used(&rig.server), Some(1));
    // The gateway and the upstream go on.
    assert_eq!(text(&rig.call("echo", json!({"text": "on"})).await), "on");
    assert_eq!(used(&rig.server), Some(2));
    rig.stop().await;
}

/// Calls `tool`, waits until the operators are asked to approve it, cancels the call and
/// only then approves it: the call is audited as cancelled and never reaches the
/// upstream (the caller checks the upstream's record).
async fn cancel_while_approval_is_pending_then_approve(rig: &Rig, tool: &str) {
    let queue =
        nanokvm_policy::gate::ApprovalQueue::open(rig.state.path().join("approvals.sqlite"))
            .expect("the queue");
    let handle = rig
        .client
        .send_cancellable_request(
            ClientRequest::CallToolRequest(CallToolRequest::new(CallToolRequestParams::new(
                tool.to_owned(),
            ))),
            PeerRequestOptions::no_options(),
        )
        .await
        .expect("tools/call sent");
    let mut pending = Vec::new();
    eventually("the approval request", || {
        pending = queue.pending().expect("list");
        !pending.is_empty()
    })
    .await;
    handle
        .cancel(Some("no longer needed".to_owned()))
        .await
        .expect("notifications/cancelled sent");
    let cancelled = || {
        outcomes(rig, tool)
            .iter()
            .filter(|r| r["outcome"] == "cancelled")
            .count()
    };
    eventually("the cancellation to be audited", || cancelled() == 1).await;
    // The operator approves too late: there is no call left to run.
    queue.answer(&pending[0].id, true, None).expect("approve");
}

#[tokio::test]
async fn a_call_cancelled_while_its_approval_is_pending_never_runs_even_if_approved_later() {
    let rig = Rig::with(Options {
        approval_timeout: 120,
        ..Options::new(json!({
            "version": "1", "default": "allow",
            "risk": {"high": {"action": "require_approval"}},
            "all_tools": {"limits": [{"counter": "all", "window": "hour", "max": 100, "scope": "grant"}]}
        }))
    })
    .await;
    cancel_while_approval_is_pending_then_approve(&rig, "erase_disk").await;
    assert_eq!(text(&rig.call("echo", json!({"text": "on"})).await), "on");
    assert_eq!(rig.reached(), ["echo"]);
    let settled = outcomes(&rig, "erase_disk");
    assert_eq!(settled.len(), 1, "{settled:?}");
    assert_eq!(
        used(&rig.server),
        Some(1),
        "nothing was reserved for erase_disk"
    );
    rig.stop().await;
}

#[tokio::test]
async fn a_drifted_tools_call_cancelled_while_its_approval_is_pending_never_runs() {
    let policy = json!({"version": "1", "default": "allow", "drift": "approve"});
    // Pinned at first sight, then started again with echo's description changed.
    let rig = Rig::with(Options {
        pins: true,
        ..Options::new(policy.clone())
    })
    .await;
    let state = rig.stop_keeping_state().await;
    std::fs::write(state.path().join("echo.txt"), "Echoes, differently.").expect("write");
    let rig = Rig::with(Options {
        pins: true,
        state: Some(state),
        ..Options::new(policy)
    })
    .await;
    cancel_while_approval_is_pending_then_approve(&rig, "echo").await;
    assert_eq!(text(&rig.call("erase_disk", json!({})).await), "erased");
    assert_eq!(rig.reached(), ["erase_disk"]);
    rig.stop().await;
}

#[tokio::test]
async fn an_http_upstream_that_restarts_is_reached_again() {
    let state = tempfile::tempdir().expect("a directory");
    let calls = state.path().join("calls.txt");
    let upstream = HttpUpstream::start(&calls);
    let addr = upstream
        .url
        .strip_prefix("http://")
        .and_then(|u| u.strip_suffix("/mcp"))
        .expect("http://ADDR/mcp")
        .to_owned();
    let policy_path = state.path().join("policy.json");
    std::fs::write(&policy_path, counted().to_string()).expect("write");
    let setup = gateway_setup(
        &state_args(state.path(), Some(policy_path)),
        &CountersArgs::default(),
        "virt",
    )
    .expect("state");
    let link = Link::new(Upstream::Http {
        url: upstream.url.clone(),
        headers: Vec::new(),
    });
    let server = GatewayBuilder::new(setup.gate, link.clone())
        .upstream_timeout(Duration::from_secs(10))
        .start("agent", "session-1")
        .await
        .expect("the gateway reaches the upstream");
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    let serving = server.clone();
    tokio::spawn(async move {
        if let Ok(running) = serving.serve(theirs).await {
            let _ = running.waiting().await;
        }
    });
    let client = TestClient::plain()
        .serve(ours)
        .await
        .expect("the client connects");
    let echo = |text: &str| {
        let Value::Object(args) = json!({"text": text}) else {
            unreachable!()
        };
        client.call_tool(CallToolRequestParams::new("echo").with_arguments(args))
    };
    assert_eq!(text(&echo("one").await.expect("a result")), "one");

    // The upstream stops: the agent gets a clear error.
    drop(upstream);
    let down = echo("down").await.expect("a tool result");
    assert_eq!(down.is_error, Some(true), "{}", text(&down));
    assert!(
        text(&down).contains("the upstream MCP server failed during the call"),
        "{}",
        text(&down)
    );

    // It is back at the same address: the gateway reaches it again.
    let upstream = HttpUpstream::start_at(&calls, &addr);
    // Until the backoff has passed, each call fails at once and says when the gateway
    // tries again; the deadline is generous.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let last = loop {
        let result = echo("two").await;
        let said = result.map_or_else(|e| e.to_string(), |r| text(&r));
        if said == "two" || tokio::time::Instant::now() > deadline {
            break said;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(last, "two", "the gateway reached the upstream again");
    assert_eq!(reached(&calls), ["echo", "echo"]);
    // The call made while the upstream was down failed in sending, which over HTTP may
    // have been after the request left: it stays counted with the two that ran.
    assert_eq!(used(&server), Some(3));
    drop(upstream);
    let _ = client.cancel().await;
    link.close().await;
}

#[tokio::test]
async fn a_restarted_upstream_is_given_the_agents_subscriptions_and_logging_level_again() {
    let rig = Rig::start(json!({"version": "1", "default": "allow"})).await;
    let uri = "fixture://item/3";
    rig.client
        .subscribe(SubscribeRequestParams::new(uri))
        .await
        .expect("resources/subscribe");
    rig.client
        .set_level(SetLevelRequestParams::new(LoggingLevel::Warning))
        .await
        .expect("logging/setLevel");
    rig.client
        .subscribe(SubscribeRequestParams::new("fixture://item/4"))
        .await
        .expect("resources/subscribe");
    rig.client
        .unsubscribe(UnsubscribeRequestParams::new("fixture://item/4"))
        .await
        .expect("resources/unsubscribe");
    // The upstream crashes; the next call starts it again, and the new process is told
    // what the old one had been told (and not what was taken back).
    let crash = rig.call("crash", json!({})).await;
    assert_eq!(crash.is_error, Some(true), "{}", text(&crash));
    let touched = rig.call("touch", json!({"uri": uri})).await;
    assert_eq!(
        text(&touched),
        "notified 1",
        "the subscription was replayed"
    );
    assert_eq!(
        rig.received("resources/subscribe"),
        [uri, "fixture://item/4", uri]
    );
    assert_eq!(rig.received("logging/setLevel"), ["warning", "warning"]);
    rig.handler
        .wait_until("resources/updated", |c| {
            c.updated.lock().unwrap().iter().any(|u| u == uri)
        })
        .await;
    rig.stop().await;
}
