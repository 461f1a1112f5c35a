//! The `/apply` gate (issue 16): anyone may send calls to `/apply`, but a call reaches its
//! callee only if the callee could accept it: its key is one the callee announced, and
//! its signature verifies. Junk is refused at the proxy and costs the callee nothing; a
//! grant made a moment ago is not refused; a revoked key still reaches the callee, which
//! refuses it in words.

use std::time::Duration;

use wtd::Error;
use wtd::call::{CallSpec, sign_call};
use wtd::wire::{Encoding, encode};
use wtd_examples::demo;

use crate::harness::{
    Cluster, apply, apply_not_accepted, as_u64, eventually, send, sign_demo, unique,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_on_apply_never_reaches_the_callee_and_a_new_grant_gets_through() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;

    // Mallory: correctly signed calls with 40 keys Alice never granted, all at once (each
    // waits out the proxy's grace for a grant just made, then is refused)…
    let mut junk = Vec::new();
    for _ in 0..40 {
        let key = wtd::keys::generate();
        let spec = CallSpec {
            mission: "demo",
            module: "demo",
            function: "incr",
            encoding: Encoding::Postcard,
            args: encode(&()),
            want_reply: true,
        };
        let call =
            sign_call(&key, "mallory", alice.name(), Duration::from_secs(5), spec).expect("signed");
        let cluster_url = cluster.url();
        let name = alice.name().to_string();
        junk.push(tokio::spawn(async move {
            let url = format!("{cluster_url}/apply/{name}/demo/demo/incr");
            send("PUT", url, call.to_bytes()).await
        }));
    }
    for answer in junk {
        let (status, text) = answer.await.expect("joined");
        assert_eq!(status, 403, "{text}");
        assert!(text.contains("does not accept the key"), "{text}");
    }
    // …and 100 calls with Bob's genuine key and one flipped bit of the signature.
    for i in 0..100 {
        let mut call = sign_demo(&peer, "incr", &());
        call.signature[i % 64] ^= 1 << (i % 8);
        let text = apply_not_accepted(&cluster, &call).await;
        assert!(text.contains("signature does not verify"), "{text}");
    }
    // None of it reached Alice: she refused nothing, and nothing ran (nothing waits for
    // her log's writer either).
    alice.audit_log().flush();
    let refusals = std::fs::read_to_string(alice.home().join("refusals.log")).unwrap_or_default();
    assert_eq!(refusals.lines().count(), 0, "alice saw junk:\n{refusals}");
    assert_eq!(demo::count::call(&peer).await.expect("count"), 0);

    // A grant made this moment: its first call through /apply goes through.
    let key = alice
        .grant(&unique("carol"))
        .mission("demo")
        .mint()
        .expect("mint");
    let carol = bob.peer(&key).expect("peer");
    let call = sign_demo(&carol, "incr", &());
    let reply = apply(&cluster, &call).await;
    assert_eq!(as_u64(&carol.open_reply(&call, &reply).expect("ran")), 1);

    // Revoked: a key Alice announced before still reaches her, and she refuses it in
    // words (her audit log shows the attempt); it never runs.
    alice.revoke(&key.grantee).expect("revoked");
    let revoked = eventually(Duration::from_secs(10), || {
        let call = sign_demo(&carol, "incr", &());
        let cluster = &cluster;
        let carol = &carol;
        async move {
            let reply = apply(cluster, &call).await;
            carol.open_reply(&call, &reply).err()
        }
    })
    .await
    .expect("the revoked key is refused within 10 s");
    assert!(matches!(revoked, Error::Revoked { .. }), "{revoked}");
    assert_eq!(demo::count::call(&peer).await.expect("count"), 1);

    cluster.stop(vec![alice, bob]).await;
}
