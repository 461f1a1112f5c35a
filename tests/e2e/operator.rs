//! The operator's side with real processes: the `wtd-proxy` binary with `--approve`, its
//! `registrations` commands, and nodes that wait for approval by themselves.

use std::time::Duration;

use wtd::wire::{Register, Signed, domain, now_ms};
use wtd::{Node, NodeConfig};

#[path = "../support/proxy_binary.rs"]
mod proxy_binary;

use crate::harness::{eventually, send, unique};
use proxy_binary::ProxyProcess;

/// `PUT /nodes/{name}` signed by a new key, with `email`.
async fn register(url: &str, name: &str, email: &str) -> (u16, String) {
    let key = wtd::keys::generate();
    let register = Register {
        name: name.to_string(),
        email: email.to_string(),
        node_key: key.verifying_key().to_bytes(),
        issued_at_ms: now_ms(),
    };
    let body = Signed::sign(domain::REGISTER, &register, &key).to_bytes();
    send("PUT", format!("{url}/nodes/{name}"), body).await
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_asks_for_an_email_of_the_right_shape() {
    let proxy = tokio::task::block_in_place(|| ProxyProcess::start(&[]));
    let (status, body) = register(&proxy.url, &unique("nomail"), "").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("wtd register --email"), "{body}");
    let (status, body) = register(&proxy.url, &unique("typo"), "ada@example").await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = register(&proxy.url, &unique("ada"), "ada@example.org").await;
    assert_eq!(status, 200, "{body}");
    // The public page's data never carries the email.
    let (_, stats) = send_get(&format!("{}/api/stats", proxy.url)).await;
    assert!(stats.contains("\"nodes\""), "{stats}");
    assert!(!stats.contains("example.org"), "{stats}");
}

async fn send_get(url: &str) -> (u16, String) {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        let mut answer = ureq::get(&url)
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .expect("an answer");
        let status = answer.status().as_u16();
        (
            status,
            answer.body_mut().read_to_string().unwrap_or_default(),
        )
    })
    .await
    .expect("joined")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_approve_a_node_waits_until_the_operator_approves_it() {
    let proxy = tokio::task::block_in_place(|| ProxyProcess::start(&["--approve"]));
    let homes = tempfile::tempdir().expect("homes");
    let carol = unique("carol");
    let config = NodeConfig::new(&carol, &proxy.url, homes.path().join(&carol))
        .email("carol@example.org")
        .serve(&["demo"]);
    // The node starts, hears that it waits, and keeps asking by itself.
    let starting = tokio::spawn(Node::start(config));

    let listed = eventually(Duration::from_secs(20), || async {
        let out = tokio::task::block_in_place(|| proxy.command(&["registrations", "list"]));
        let stdout = text(&out.stdout);
        (out.status.success() && stdout.contains(&carol)).then_some(stdout)
    })
    .await
    .unwrap_or_else(|| panic!("carol is never listed:\n{}", proxy.log()));
    let line = listed
        .lines()
        .find(|l| l.contains(&carol))
        .expect("carol's line");
    assert!(
        line.contains("pending") && line.contains("carol@example.org") && line.contains("key "),
        "{line}"
    );
    let (status, body) = register(&proxy.url, &carol, "other@example.org").await;
    assert_eq!(
        status, 409,
        "another key cannot take a pending name: {body}"
    );
    assert!(!starting.is_finished(), "the node waits for approval");

    let out = tokio::task::block_in_place(|| proxy.command(&["registrations", "approve", &carol]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let node = tokio::time::timeout(Duration::from_secs(30), starting)
        .await
        .expect("the node starts once approved")
        .expect("joined")
        .expect("the node starts");
    let online = eventually(Duration::from_secs(10), || async {
        let (_, directory) = send_get(&format!("{}/api/directory", proxy.url)).await;
        directory.contains(&carol).then_some(())
    })
    .await;
    assert!(online.is_some(), "carol is in the directory once approved");
    node.stop().await;

    let out = tokio::task::block_in_place(|| proxy.command(&["registrations", "remove", &carol]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = tokio::task::block_in_place(|| proxy.command(&["registrations", "list"]));
    assert!(!text(&out.stdout).contains(&carol), "{}", text(&out.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_node_is_told_so_and_unknown_names_are_explained() {
    let proxy = tokio::task::block_in_place(|| ProxyProcess::start(&["--approve"]));
    let eve = unique("eve");
    let (status, body) = register(&proxy.url, &eve, "eve@example.org").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains(&format!(
            "waiting for the operator of this proxy to approve `{eve}`"
        )),
        "{body}"
    );
    let out = tokio::task::block_in_place(|| proxy.command(&["registrations", "reject", &eve]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = tokio::task::block_in_place(|| proxy.command(&["registrations", "list"]));
    assert!(
        text(&out.stdout)
            .lines()
            .any(|l| l.contains(&eve) && l.contains("rejected")),
        "{}",
        text(&out.stdout)
    );
    let out =
        tokio::task::block_in_place(|| proxy.command(&["registrations", "approve", "nobody"]));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not registered"),
        "{}",
        text(&out.stderr)
    );
    // Without the proxy's token, the operator endpoint refuses.
    let endpoint: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(proxy.data().join("operator.json")).expect("operator.json"),
    )
    .expect("json");
    let address = endpoint["address"].as_str().expect("address").to_string();
    let (status, _) = send_get(&format!("http://{address}/registrations")).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_moves_to_its_own_address_or_goes() {
    let page = proxy_binary::free_port();
    let address = format!("127.0.0.1:{page}");
    let proxy = tokio::task::block_in_place(|| ProxyProcess::start(&["--dashboard", &address]));
    assert_eq!(send_get(&format!("{}/", proxy.url)).await.0, 404);
    assert_eq!(
        send_get(&format!("{}/api/directory", proxy.url)).await.0,
        200
    );
    let moved = eventually(Duration::from_secs(10), || async {
        let (status, body) = send_get(&format!("http://{address}/")).await;
        (status == 200).then_some(body)
    })
    .await
    .expect("the page on its own address");
    assert!(moved.contains("/assets/dashboard.js"), "{moved}");
    assert_eq!(
        send_get(&format!("http://{address}/api/stats")).await.0,
        200
    );
    drop(proxy);

    let proxy = tokio::task::block_in_place(|| ProxyProcess::start(&["--no-dashboard"]));
    assert_eq!(send_get(&format!("{}/", proxy.url)).await.0, 404);
    assert_eq!(send_get(&format!("{}/api/events", proxy.url)).await.0, 404);
    assert_eq!(
        send_get(&format!("{}/api/directory", proxy.url)).await.0,
        200
    );
}
