//! The proxy on its own: bad input gets a clear HTTP error, the directory shows who is
//! online, and nodes register again by themselves when a proxy forgot them.

use std::time::Duration;

use wtd_examples::demo;

use crate::harness::{Cluster, eventually, send, try_send, unique};

async fn get_json(url: String) -> serde_json::Value {
    tokio::task::spawn_blocking(move || {
        let mut response = ureq::get(&url).call().expect("the proxy answers");
        let text = response.body_mut().read_to_string().expect("body");
        serde_json::from_str(&text).expect("json")
    })
    .await
    .expect("joined")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_errors_and_the_proxy_keeps_working() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;
    let url = cluster.url();

    let cases: Vec<(&str, String, Vec<u8>, u16, &str)> = vec![
        ("POST", format!("{url}/ping"), vec![], 400, "malformed"),
        (
            "POST",
            format!("{url}/ping"),
            vec![0xff; 100],
            400,
            "malformed",
        ),
        (
            "POST",
            format!("{url}/tx/{}", bob.name()),
            b"hello".to_vec(),
            400,
            "malformed",
        ),
        (
            "POST",
            format!("{url}/rx/{}", alice.name()),
            vec![1, 2, 3],
            400,
            "malformed",
        ),
        (
            "PUT",
            format!("{url}/nodes/eve"),
            vec![0; 10],
            400,
            "malformed",
        ),
        (
            "PUT",
            format!("{url}/apply/a/b/c/d"),
            vec![5; 64],
            400,
            "malformed",
        ),
    ];
    for (method, target, body, want, says) in cases {
        let (status, text) = send(method, target.clone(), body).await;
        assert_eq!(status, want, "{method} {target}: {text}");
        assert!(
            text.to_lowercase().contains(says),
            "{method} {target}: {text}"
        );
    }

    // A body over the limit is refused before it is read: either the 413 arrives, or the
    // proxy closes the connection while the client is still sending.
    match try_send("POST", format!("{url}/ping"), vec![0; 3 * 1024 * 1024]).await {
        Ok((status, text)) => assert_eq!(status, 413, "{text}"),
        Err(e) => assert!(
            e.to_lowercase().contains("reset") || e.contains("pipe") || e.contains("closed"),
            "{e}"
        ),
    }

    // Still serving after all that.
    assert_eq!(demo::add::call(&peer, 2, 3).await.expect("add"), 5);
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_lists_online_nodes_their_missions_and_accepted_keys() {
    let cluster = Cluster::start().await;
    let alice = cluster.node(&unique("alice"), &["demo"]).await;
    let bob = cluster.node(&unique("bob"), &[]).await;
    let (key, _) = cluster.grant(&alice, &bob, &["demo"], "100/s");
    let accepted = hex_public(&key);

    let url = format!("{}/api/directory", cluster.url());
    let alice_name = alice.name().to_string();
    // The grant reaches the directory with Alice's next ping (once a second).
    let entry = eventually(Duration::from_secs(5), || {
        let (url, alice_name, accepted) = (url.clone(), alice_name.clone(), accepted.clone());
        async move {
            let dir = get_json(url).await;
            let entry = dir["nodes"]
                .as_array()?
                .iter()
                .find(|n| n["name"] == alice_name.as_str())?
                .clone();
            entry["accepts"]
                .as_array()?
                .iter()
                .any(|k| k == accepted.as_str())
                .then_some(entry)
        }
    })
    .await
    .expect("alice with bob's key in the directory");
    assert_eq!(entry["missions"][0]["mission"], "demo");
    let functions = entry["missions"][0]["functions"]
        .as_array()
        .expect("functions");
    assert!(functions.iter().any(|f| f == "demo/add"), "{functions:?}");
    assert_eq!(entry["node_key"], hex32(&alice.public_key()));

    // The node sees the same directory through its pings.
    let seen = eventually(Duration::from_secs(5), || async {
        bob.directory()
            .nodes
            .iter()
            .any(|n| n.name == alice.name())
            .then_some(())
    })
    .await;
    assert!(seen.is_some(), "bob's directory never listed alice");

    alice.stop().await;
    let dir = get_json(url).await;
    let names: Vec<&str> = dir["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect();
    assert!(
        !names.contains(&alice_name.as_str()),
        "a stopped node is not listed: {names:?}"
    );

    cluster.stop(vec![bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_register_again_by_themselves_with_a_proxy_that_forgot_them() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.node(&unique("alice"), &["demo"]).await;
    let bob = cluster.node(&unique("bob"), &[]).await;
    let (_, peer) = cluster.grant(&alice, &bob, &["demo"], "100/s");
    assert_eq!(demo::incr::call(&peer).await.expect("before"), 1);

    // A new proxy on the same address with an empty data folder knows nobody.
    cluster.stop_proxy().await;
    std::fs::remove_dir_all(cluster.dir.path().join("proxy")).expect("forget everything");
    cluster.start_proxy_again().await;

    let back = eventually(Duration::from_secs(15), || async {
        demo::add::call(&peer, 1, 1).await.ok()
    })
    .await;
    assert_eq!(back, Some(2), "both nodes registered again and calls work");
    assert_eq!(
        demo::incr::call(&peer).await.expect("after"),
        2,
        "alice kept her state"
    );

    cluster.stop(vec![alice, bob]).await;
}

fn hex32(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_public(key: &wtd::KeyFile) -> String {
    let secret = key.signing_key().expect("key");
    hex32(&secret.verifying_key().to_bytes())
}

/// The page a beginner opens: embedded, its own script only (CSP), fed by `/api/stats`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_is_one_embedded_page_fed_by_json() {
    let cluster = Cluster::start().await;
    let get = |url: String| async move {
        tokio::task::spawn_blocking(move || {
            let mut response = ureq::get(&url)
                .config()
                .http_status_as_error(false)
                .build()
                .call()
                .expect("an answer");
            let csp = response
                .headers()
                .get("content-security-policy")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let status = response.status().as_u16();
            (
                status,
                csp,
                response.body_mut().read_to_string().unwrap_or_default(),
            )
        })
        .await
        .expect("joined")
    };
    let (status, csp, page) = get(format!("{}/", cluster.url())).await;
    assert_eq!(status, 200);
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    // Script only from the proxy's own file, nothing from another host.
    assert!(
        page.contains(r#"<script src="/assets/dashboard.js" defer></script>"#),
        "{page}"
    );
    assert_eq!(
        page.matches("<script").count(),
        1,
        "no inline script: {page}"
    );
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "{page}"
    );
    let (status, _, script) = get(format!("{}/assets/dashboard.js", cluster.url())).await;
    assert_eq!(status, 200);
    assert!(
        script.contains("textContent") && !script.contains("innerHTML"),
        "text only"
    );

    let alice = cluster.node(&unique("alice"), &["demo"]).await;
    let listed = eventually(Duration::from_secs(5), || {
        let url = format!("{}/api/stats", cluster.url());
        let name = alice.name().to_string();
        async move {
            let (_, _, stats) = get(url).await;
            let stats: serde_json::Value = serde_json::from_str(&stats).ok()?;
            let nodes = stats["nodes"].as_array()?.clone();
            nodes
                .into_iter()
                .find(|n| n["name"] == name.as_str() && n["online"] == true)
        }
    })
    .await
    .expect("alice is in /api/stats, online");
    assert_eq!(listed["missions"][0]["mission"], "demo", "{listed}");
    cluster.stop(vec![alice]).await;

    // Turned off: no page, the directory stays.
    let cluster = Cluster::start_with(|c| c.dashboard = false).await;
    let (status, _, _) = get(format!("{}/", cluster.url())).await;
    assert_eq!(status, 404);
    let (status, _, _) = get(format!("{}/api/directory", cluster.url())).await;
    assert_eq!(status, 200);
    cluster.stop(vec![]).await;
}

/// Presence comes from the held receive request: a node pings only when what it offers or
/// follows changes (or every 20 s), yet stays listed through many presence timeouts; it
/// leaves the directory at once when it says goodbye.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_rarely_pings_stays_listed_while_it_polls() {
    let cluster = Cluster::start_with(|c| c.presence_timeout = Duration::from_millis(500)).await;
    let alice = cluster.node(&unique("alice"), &["demo"]).await;
    let url = format!("{}/api/directory", cluster.url());
    let listed = |dir: serde_json::Value, name: &str| {
        dir["nodes"]
            .as_array()
            .is_some_and(|nodes| nodes.iter().any(|n| n["name"] == name))
    };
    assert!(listed(get_json(url.clone()).await, alice.name()));
    // Eight presence timeouts without a ping (the next is due after 20 s).
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            listed(get_json(url.clone()).await, alice.name()),
            "alice left the directory while polling"
        );
    }
    let name = alice.name().to_string();
    alice.stop().await;
    assert!(
        !listed(get_json(url).await, &name),
        "gone at once after bye"
    );
    cluster.stop(vec![]).await;
}
