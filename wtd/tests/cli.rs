//! The `wtd` command, run as a user runs it: a real proxy and a real serving node
//! in-process, and every command typed at the terminal run as the built `wtd` binary.
//!
//! Alice joins with `wtd init` and `wtd register`, then starts a node on the same home
//! folder serving missions `demo` and `admin` (the functions below). Bob, Carol and Dave
//! only use the command line. Each test checks what the user sees: stdout, the exit code
//! of each failure class (`wtd --help` lists them), and a helpful sentence on stderr.

mod cli_support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wtd::grants::{KeyProof, ProofFor};
use wtd::prelude::*;

use cli_support::{Cluster, Run, answer_once, answer_once_as, eventually, wtd_blocking};

/// Adds two numbers (`demo/cli/add`).
#[wtd_export(demo)]
pub fn add(a: i64, b: i64) -> i64 {
    a.wrapping_add(b)
}

/// Returns its argument (`demo/cli/echo`).
#[wtd_export(demo)]
pub fn echo(text: String) -> String {
    text
}

/// Sleeps, then returns how long it slept: a slow function (`demo/cli/sleep_ms`).
#[wtd_export(demo)]
pub async fn sleep_ms(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms.min(10_000))).await;
    ms
}

/// Panics with `text` as its message (`demo/cli/fail`): a callee's message is text
/// someone else chose.
#[wtd_export(demo)]
pub fn fail(text: String) -> String {
    panic!("{text}")
}

/// Something Alice keeps to herself (`admin/cli/secret`).
#[wtd_export(admin)]
pub fn secret() -> u64 {
    42
}

/// A counter gen_server exposed to mission `counting` as `counting/counter@NAME`.
#[derive(Default)]
pub struct Counter(u64);

/// What a caller of [`Counter`] asks.
#[derive(serde::Serialize, serde::Deserialize)]
pub enum CounterCall {
    /// Add this much; the reply is the count after it.
    Incr(u64),
    /// The count.
    Get,
}

#[wtd_behaviour(counting, name = "counter")]
impl wtd::gen_server::GenServer for Counter {
    type Call = CounterCall;
    type Reply = u64;
    type Cast = ();
    type Info = ();

    async fn handle_call(
        &mut self,
        call: CounterCall,
        from: wtd::gen_server::ReplyTo<u64>,
        _: &wtd::gen_server::ServerProcess<Self>,
    ) -> wtd::gen_server::Next {
        if let CounterCall::Incr(n) = call {
            self.0 += n;
        }
        from.reply(self.0);
        wtd::gen_server::Next::Continue
    }
}

/// The grant list of `owner`, as `wtd grant list --json` prints it.
async fn grant_list(owner: &cli_support::User) -> Vec<Value> {
    let list = owner.wtd(&["--json", "grant", "list"]).await.json();
    list.as_array().expect("a JSON array").clone()
}

fn row<'a>(rows: &'a [Value], grantee: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["grantee"] == grantee)
        .unwrap_or_else(|| panic!("no grant for {grantee} in {rows:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bob_calls_alice_from_the_command_line() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["demo", "admin"]).await;
    let bob = cluster.joined("bob").await;

    // Alice mints a key for Bob and hands him the file; Bob keeps it.
    let key = cluster
        .grant(&alice, "bob", &["--mission", "demo", "--rate", "100/s"])
        .await;
    let kept = bob.wtd(&["key", "add", &key]).await;
    assert!(kept.ok().contains("Kept the key for `alice`"), "{kept:#?}");
    let listed = bob.wtd(&["key", "list"]).await;
    assert!(listed.ok().contains("alice: missions"), "{listed:#?}");
    let keys = bob.wtd(&["--json", "key", "list"]).await.json();
    assert_eq!(keys[0]["node"], "alice", "{keys:#}");
    assert_eq!(keys[0]["missions"], json!(["demo"]), "{keys:#}");
    assert_eq!(keys[0]["proxy"], cluster.url(), "{keys:#}");

    // The grant reaches the directory on Alice's next ping, once a second.
    let bob_ref = &bob;
    let directory = eventually(Duration::from_secs(5), || async move {
        let nodes = bob_ref.wtd(&["--json", "nodes"]).await.json();
        let alice = nodes.as_array()?.iter().find(|n| n["name"] == "alice")?;
        (alice["accepts_my_key"] == true).then(|| alice.clone())
    })
    .await
    .expect("within 5 s the directory shows that alice accepts bob's key");
    let demo = directory["missions"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["mission"] == "demo"))
        .expect("alice offers demo");
    assert!(
        demo["functions"]
            .as_array()
            .is_some_and(|f| f.contains(&json!("cli/add"))),
        "{directory:#}"
    );
    let nodes = bob.wtd(&["nodes"]).await;
    assert!(
        nodes.ok().contains("alice (accepts your key)"),
        "{nodes:#?}"
    );

    // Calls: mission/function resolved through the directory, or the full path.
    let sum = bob.wtd(&["call", "alice", "demo/add", "[2, 3]"]).await;
    assert_eq!(sum.ok().trim(), "5", "{sum:#?}");
    let echoed = bob
        .wtd(&["call", "alice", "demo/echo", r#"["hi there"]"#])
        .await;
    assert_eq!(echoed.ok().trim(), r#""hi there""#, "{echoed:#?}");
    let full = bob
        .wtd(&["--json", "call", "alice", "demo/cli/add", "[40, 2]"])
        .await;
    assert_eq!(full.json(), json!(42));
    let text = bob
        .wtd(&["--json", "call", "alice", "demo/echo", r#"["ok"]"#])
        .await;
    assert_eq!(text.json(), json!("ok"));

    // Alice sees the grant, in force and used (once her node's log writer has written
    // the calls, as it does within moments).
    cluster.node("alice").audit_log().flush();
    let grants = grant_list(&alice).await;
    let grant = row(&grants, "bob");
    assert_eq!(grant["missions"], json!(["demo"]), "{grant:#}");
    assert_eq!(grant["rate"], "100/s", "{grant:#}");
    assert_eq!(grant["revoked"], false, "{grant:#}");
    assert!(grant["last_used"].is_string(), "{grant:#}");
    let table = alice.wtd(&["grant", "list"]).await;
    assert!(table.ok().contains("bob"), "{table:#?}");

    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bob_calls_a_gen_server_on_alice_with_json() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["counting", "demo"]).await;
    wtd::gen_server::start_named(
        cluster.node("alice").processes(),
        "main",
        Counter::default(),
    )
    .await
    .expect("started");
    let bob = cluster.joined("bob").await;
    let key = cluster
        .grant(&alice, "bob", &["--mission", "counting"])
        .await;
    bob.wtd(&["key", "add", &key]).await.ok();

    let n = bob
        .wtd(&["call", "alice", "counting/counter@main", r#"{"Incr": 2}"#])
        .await;
    assert_eq!(n.ok().trim(), "2", "{n:#?}");
    let n = bob
        .wtd(&[
            "--json",
            "call",
            "alice",
            "counting/counter@main",
            r#""Get""#,
        ])
        .await;
    assert_eq!(n.json(), json!(2));

    // No such instance, a message the server does not take: exit 7, said in words.
    let refused = bob
        .wtd(&["call", "alice", "counting/counter@other", r#""Get""#])
        .await;
    refused.fails(7, "no server of it is registered under that name");
    let refused = bob
        .wtd(&["call", "alice", "counting/counter@main", r#"{"Decr": 1}"#])
        .await;
    refused.fails(7, "could not read the arguments");
    // The key is for `counting`: a function of `demo` is refused as before.
    let refused = bob.wtd(&["call", "alice", "demo/cli/add", "[1, 2]"]).await;
    refused.fails(3, "ask its owner to add the mission");

    // `wtd nodes` lists the behaviour.
    let bob_ref = &bob;
    let listed = eventually(Duration::from_secs(5), || async move {
        let nodes = bob_ref.wtd(&["nodes"]).await;
        nodes.ok().contains("counting: counter@…").then_some(())
    })
    .await;
    assert!(listed.is_some(), "wtd nodes lists counter@…");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_for_demo_cannot_run_admin() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["demo", "admin"]).await;
    let bob = cluster.joined("bob").await;
    let key = cluster.grant(&alice, "bob", &["--mission", "demo"]).await;
    bob.wtd(&["key", "add", &key]).await.ok();

    let refused = bob.wtd(&["call", "alice", "admin/secret", "[]"]).await;
    refused.fails(3, "not for mission `admin`");
    // The same with the full path, which skips the directory.
    let refused = bob.wtd(&["call", "alice", "admin/cli/secret"]).await;
    refused.fails(3, "ask its owner to add the mission");

    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_keys_are_refused_from_the_next_call() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["demo"]).await;
    let bob = cluster.joined("bob").await;
    let dave = cluster.joined("dave").await;
    let bobs = cluster.grant(&alice, "bob", &["--mission", "demo"]).await;
    let daves = cluster.grant(&alice, "dave", &["--mission", "demo"]).await;
    bob.wtd(&["key", "add", &bobs]).await.ok();
    dave.wtd(&["key", "add", &daves]).await.ok();
    assert_eq!(
        dave.wtd(&["call", "alice", "demo/add", "[1, 1]"])
            .await
            .ok()
            .trim(),
        "2"
    );

    // Alice revokes Dave's key while her node runs: his next call is refused, Bob's not.
    let revoked = alice
        .wtd(&["--json", "grant", "revoke", "dave"])
        .await
        .json();
    assert_eq!(revoked, json!({ "grantee": "dave", "revoked": 1 }));
    let grants = grant_list(&alice).await;
    assert_eq!(row(&grants, "dave")["revoked"], true, "{grants:#?}");
    assert_eq!(row(&grants, "bob")["revoked"], false, "{grants:#?}");

    let refused = dave.wtd(&["call", "alice", "demo/add", "[1, 1]"]).await;
    refused.fails(3, "revoked this key");
    // On Alice's next ping the directory stops listing Dave's key.
    let dave_ref = &dave;
    let gone = eventually(Duration::from_secs(5), || async move {
        let nodes = dave_ref.wtd(&["nodes"]).await;
        nodes.ok().contains("alice (no key of yours)").then_some(())
    })
    .await;
    assert!(
        gone.is_some(),
        "within 5 s the directory drops a revoked key"
    );
    let still = bob.wtd(&["call", "alice", "demo/add", "[1, 2]"]).await;
    assert_eq!(still.ok().trim(), "3");

    // Then Bob's, in text mode.
    let revoked = alice.wtd(&["grant", "revoke", "bob"]).await;
    assert!(revoked.ok().contains("Revoked 1 key(s)"), "{revoked:#?}");
    let grants = grant_list(&alice).await;
    assert_eq!(row(&grants, "bob")["revoked"], true, "{grants:#?}");
    let refused = bob.wtd(&["call", "alice", "demo/add", "[1, 2]"]).await;
    refused.fails(3, "ask its owner for a new one");

    // Revoking someone who has no grant says so.
    let nobody = alice.wtd(&["grant", "revoke", "nobody"]).await;
    assert_eq!(nobody.code, Some(2), "usage: no such grantee: {nobody:#?}");
    assert!(
        nobody.stderr.contains("no grant for `nobody`"),
        "{nobody:#?}"
    );

    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_shows_accepted_and_refused_calls() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["demo", "admin"]).await;
    let bob = cluster.joined("bob").await;
    let empty = alice.wtd(&["log"]).await;
    assert!(empty.ok().contains("No calls yet"), "{empty:#?}");

    // Alice watches her log while Bob calls.
    let follow = alice.start(&["--json", "log", "--follow"]);
    let key = cluster.grant(&alice, "bob", &["--mission", "demo"]).await;
    bob.wtd(&["key", "add", &key]).await.ok();
    bob.wtd(&["call", "alice", "demo/add", "[2, 3]"]).await.ok();
    let seen = follow
        .next_line(Duration::from_secs(5))
        .await
        .expect("`wtd log --follow` prints the call within 5 s");
    let seen: Value = serde_json::from_str(&seen).expect("a JSON line");
    assert_eq!(seen["outcome"], "ok", "{seen:#}");
    drop(follow);

    bob.wtd(&["call", "alice", "admin/secret"])
        .await
        .fails(3, "admin");
    alice.wtd(&["grant", "revoke", "bob"]).await.ok();
    bob.wtd(&["call", "alice", "demo/add", "[2, 3]"])
        .await
        .fails(3, "revoked");

    // The log lives in Alice's home, written by her node's log writer moments after each
    // reply goes out; the test waits for it rather than for luck.
    cluster.node("alice").audit_log().flush();
    assert!(alice.home.join("audit.log").exists());
    let log = alice.wtd(&["--json", "log"]).await;
    let entries: Vec<Value> = log
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let outcomes: Vec<&str> = entries
        .iter()
        .map(|e| e["outcome"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(outcomes, ["ok", "WrongMission", "Revoked"], "{entries:#?}");
    assert_eq!(entries[0]["path"], "demo/cli/add", "{entries:#?}");
    assert_eq!(entries[1]["path"], "admin/cli/secret", "{entries:#?}");
    for entry in &entries {
        assert_eq!(entry["caller"], "bob", "{entry:#}");
        assert_eq!(entry["grantee"], "bob", "{entry:#}");
    }
    let text = alice.wtd(&["log"]).await;
    let lines: Vec<&str> = text.ok().lines().collect();
    // A line of column headings, then one line per call (issue 13 item 5).
    assert_eq!(lines.len(), 4, "{text:#?}");
    assert!(
        lines[0].starts_with("time") && lines[0].contains("grantee") && lines[0].contains("caller"),
        "{text:#?}"
    );
    assert!(lines[2].contains("WrongMission"), "{text:#?}");
    assert!(lines[3].contains("Revoked"), "{text:#?}");

    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_rate_a_call_exits_4() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["demo"]).await;
    let bob = cluster.joined("bob").await;
    let key = cluster
        .grant(&alice, "bob", &["--mission", "demo", "--rate", "1/min"])
        .await;
    bob.wtd(&["key", "add", &key]).await.ok();

    let first = bob.wtd(&["call", "alice", "demo/add", "[2, 3]"]).await;
    assert_eq!(first.ok().trim(), "5");
    let second = bob.wtd(&["call", "alice", "demo/add", "[2, 3]"]).await;
    second.fails(4, "rate limit is used up: try again in");

    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_call_times_out_with_exit_5() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["demo"]).await;
    let bob = cluster.joined("bob").await;
    let key = cluster.grant(&alice, "bob", &["--mission", "demo"]).await;
    bob.wtd(&["key", "add", &key]).await.ok();

    let started = Instant::now();
    let slow = bob
        .wtd(&[
            "call",
            "alice",
            "demo/sleep_ms",
            "[3000]",
            "--timeout",
            "500ms",
        ])
        .await;
    let stderr = slow.fails(5, "the outcome is unknown");
    assert!(stderr.contains("may or may not have run"), "{slow:#?}");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "the command gave up after its timeout, not after the function: {:?}",
        started.elapsed()
    );

    // A quick call in time still works.
    let quick = bob.wtd(&["call", "alice", "demo/sleep_ms", "[10]"]).await;
    assert_eq!(quick.ok().trim(), "10");

    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_a_stopped_node_exits_6() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["demo"]).await;
    let bob = cluster.joined("bob").await;
    let key = cluster.grant(&alice, "bob", &["--mission", "demo"]).await;
    bob.wtd(&["key", "add", &key]).await.ok();
    bob.wtd(&["call", "alice", "demo/add", "[2, 3]"]).await.ok();

    cluster.stop_node("alice").await;
    // Through the directory, and straight to the proxy with the full path.
    let down = bob.wtd(&["call", "alice", "demo/add", "[2, 3]"]).await;
    down.fails(6, "is not connected to the proxy");
    let down = bob.wtd(&["call", "alice", "demo/cli/add", "[2, 3]"]).await;
    down.fails(6, "check that it is running");

    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_that_do_not_fit_exit_7() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["demo"]).await;
    let bob = cluster.joined("bob").await;
    let key = cluster.grant(&alice, "bob", &["--mission", "demo"]).await;
    bob.wtd(&["key", "add", &key]).await.ok();

    let bob = &bob;
    let call = |path: &'static str, args: &'static str| async move {
        bob.wtd(&["call", "alice", path, args]).await
    };
    call("demo/add", r#"["x", 3]"#)
        .await
        .fails(7, "could not read the arguments");
    call("demo/add", "[2]")
        .await
        .fails(7, "check their number and types");
    call("demo/add", "[2, 3").await.fails(7, "not valid JSON");
    // An unknown function: caught by the directory, or refused by Alice.
    call("demo/nope", "[]").await.fails(7, "has no function");
    call("demo/cli/nope", "[]")
        .await
        .fails(7, "has no function");
    // A path of the wrong shape is a usage mistake, caught before anything is sent.
    call("demo/cli/add/more", "[]")
        .await
        .fails(2, "write mission/function");
    // Arguments that are JSON but not an array never leave the machine either.
    call("demo/add", "5").await.fails(7, "must be a JSON array");

    cluster.stop().await;
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("home").display().to_string();
    let wtd = |args: &[&str]| {
        let mut all = vec!["--home".to_string(), home.clone()];
        all.extend(args.iter().map(|a| a.to_string()));
        wtd_blocking(dir.path(), &all)
    };

    wtd(&["call"]).fails(2, "required arguments were not provided");
    wtd(&["call", "alice"]).fails(2, "<PATH>");
    wtd(&["grant", "new", "bob"]).fails(2, "--mission");
    wtd(&["call", "alice", "demo/add", "--timeout", "soon"]).fails(2, "--timeout");
    wtd(&["frobnicate"]).fails(2, "unrecognized subcommand");

    let help = wtd(&["--help"]);
    assert!(help.ok().contains("Exit codes:"), "{help:#?}");
    assert!(help.stdout.contains("7  bad arguments"), "{help:#?}");
    assert!(
        !dir.path().join("home").exists(),
        "a usage error touches nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_add_for_a_key_carol_made_herself() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["demo"]).await;
    // Carol only calls: she never registers a name, and no node of hers runs.
    let carol = cluster.user("carol");
    carol.wtd(&["init"]).await.ok();
    // Alice's public key: `wtd init` again leaves the home as it is and prints it.
    let init = alice.wtd(&["--json", "init"]).await.json();
    let alice_public = init["public_key"].as_str().expect("public key").to_string();

    // Carol makes a key pair and sends Alice only the public half, with the proof that
    // she holds the private one (made for grantee `carol` at Alice's node).
    let key = wtd::keys::generate();
    let public = hex::encode(key.verifying_key().to_bytes());
    let alice_key = wtd::keys::parse_hex32("alice", &alice_public).expect("alice's key");
    let proof = KeyProof::sign(
        &key,
        ProofFor {
            grantee: "carol",
            node: "alice",
            node_key: &alice_key,
        },
        std::time::SystemTime::now(),
    )
    .to_string();
    let granted = alice
        .wtd(&[
            "grant",
            "add",
            "carol",
            "--public-key",
            &public,
            "--proof",
            &proof,
            "--mission",
            "demo",
        ])
        .await;
    assert!(
        granted.ok().contains("Granted demo to `carol`'s key"),
        "{granted:#?}"
    );
    assert_eq!(row(&grant_list(&alice).await, "carol")["revoked"], false);

    // Carol writes her own key file and keeps it.
    let path = carol.home.join("for-alice.wtdkey");
    KeyFile {
        grantee: "carol".into(),
        node: "alice".into(),
        node_public_key: alice_public,
        proxy: cluster.url().to_string(),
        fallback_proxies: Vec::new(),
        missions: vec!["demo".into()],
        secret_key: wtd::keys::secret_hex(&key),
    }
    .save(&path)
    .expect("key file saved");
    let path = path.display().to_string();
    carol.wtd(&["key", "add", &path]).await.ok();
    let sum = carol.wtd(&["call", "alice", "demo/add", "[20, 22]"]).await;
    assert_eq!(sum.ok().trim(), "42");

    // A public key that is not one is refused before anything is written.
    let bad = alice
        .wtd(&[
            "grant",
            "add",
            "eve",
            "--public-key",
            "abc",
            "--mission",
            "demo",
        ])
        .await;
    assert_eq!(bad.code, Some(2), "usage: a bad key: {bad:#?}");
    assert!(bad.stderr.contains("64 hex digits"), "{bad:#?}");
    assert!(
        grant_list(&alice)
            .await
            .iter()
            .all(|g| g["grantee"] != "eve")
    );

    cluster.stop().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;

    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["demo"]).await;
    let bob = cluster.joined("bob").await;
    let key = cluster.grant(&alice, "bob", &["--mission", "demo"]).await;

    // Bob's copy lost its private mode on the way (a shared folder, a careless cp).
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let refused = bob.wtd(&["key", "add", &key]).await;
    assert_ne!(refused.code, Some(0), "{refused:#?}");
    assert!(
        refused.stderr.contains(&format!("chmod 600 {key}")),
        "{refused:#?}"
    );
    let none = bob.wtd(&["--json", "key", "list"]).await.json();
    assert_eq!(none, json!([]), "nothing was kept");
    // Without a key there is nothing to call with, and the message says what to do.
    let no_key = bob.wtd(&["call", "alice", "demo/add", "[2, 3]"]).await;
    assert_eq!(no_key.code, Some(3), "denied: no key: {no_key:#?}");
    assert!(no_key.stderr.contains("wtd key add FILE"), "{no_key:#?}");

    // Once fixed as the message says, it is kept, and works.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    bob.wtd(&["key", "add", &key]).await.ok();
    let sum = bob.wtd(&["call", "alice", "demo/add", "[2, 3]"]).await;
    assert_eq!(sum.ok().trim(), "5");

    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_taken_by_another_key_cannot_be_registered() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["demo"]).await;
    let mallory = cluster.user("mallory");
    mallory.wtd(&["init"]).await.ok();

    let taken = mallory
        .wtd(&["register", "--proxy", cluster.url(), "--name", "alice"])
        .await;
    assert_eq!(taken.code, Some(1), "the proxy refused: {taken:#?}");
    assert!(
        taken.stderr.contains("already registered") && taken.stderr.contains("another --name"),
        "{taken:#?}"
    );
    assert!(
        !mallory.home.join("node.toml").exists(),
        "a refused registration is not remembered"
    );

    // Alice registering again with her own key is fine.
    alice
        .wtd(&["register", "--proxy", cluster.url(), "--name", "alice"])
        .await
        .ok();

    cluster.stop().await;
}

/// `--proxy` given twice: the first is the primary, the second a fallback. A primary that
/// does not answer is passed over for the registration, and both are remembered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_with_a_fallback_proxy_registers_with_the_first_that_answers() {
    let cluster = Cluster::start().await;
    let carol = cluster.user("carol");
    carol.wtd(&["init"]).await.ok();
    let dead = "http://127.0.0.1:9";
    let registered = carol
        .wtd(&[
            "register",
            "--proxy",
            dead,
            "--proxy",
            cluster.url(),
            "--name",
            "carol",
        ])
        .await;
    let said = registered.ok();
    assert!(
        said.contains(&format!("Registered `carol` with {}.", cluster.url()))
            && said.contains(&format!("Not answering, so not registered with: {dead}")),
        "{said}"
    );
    let record = std::fs::read_to_string(carol.home.join("node.toml")).expect("node.toml");
    assert!(
        record.contains(&format!("proxy = \"{dead}\""))
            && record.contains(&format!("fallback_proxies = [\"{}\"]", cluster.url())),
        "the primary stays the first given: {record}"
    );

    let bad = carol
        .wtd(&[
            "register",
            "--proxy",
            cluster.url(),
            "--proxy",
            "example.org",
            "--name",
            "carol",
        ])
        .await;
    assert_eq!(bad.code, Some(2), "a usage error: {bad:#?}");
    assert!(
        bad.stderr
            .contains("\"example.org\" must start with http://"),
        "{bad:#?}"
    );

    cluster.stop().await;
}

/// Alice registered with two independent proxies; her key names both. When her primary
/// stops, her node moves to the fallback, and `wtd call` with her key finds her there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_with_a_key_naming_fallback_proxies_finds_the_node_where_it_moved() {
    let mut a = Cluster::start().await;
    let b = Cluster::start().await;
    let alice = a.user("alice");
    alice.wtd(&["init"]).await.ok();
    alice
        .wtd(&[
            "register",
            "--proxy",
            a.url(),
            "--proxy",
            b.url(),
            "--name",
            "alice",
        ])
        .await
        .ok();
    let node = Node::start(
        NodeConfig::registered(&alice.home)
            .expect("registered")
            .serve(&["demo"]),
    )
    .await
    .expect("alice's node starts");
    assert_eq!(node.proxy(), a.url());
    let key = a.grant(&alice, "bob", &["--mission", "demo"]).await;
    let bob = b.user("bob");
    bob.wtd(&["init"]).await.ok();
    bob.wtd(&["key", "add", &key]).await.ok();
    let before = bob.wtd(&["call", "alice", "demo/add", "[1, 1]"]).await;
    assert_eq!(before.ok().trim(), "2", "through her primary");

    a.stop_proxy().await;
    let moved = eventually(Duration::from_secs(40), || async {
        (node.proxy() == b.url()).then_some(())
    })
    .await;
    assert!(
        moved.is_some(),
        "alice's node still talks to {}",
        node.proxy()
    );
    let after = eventually(Duration::from_secs(20), || async {
        let run = bob.wtd(&["call", "alice", "demo/add", "[2, 3]"]).await;
        (run.code == Some(0)).then_some(run.stdout)
    })
    .await;
    assert_eq!(
        after.as_deref().map(str::trim),
        Some("5"),
        "through her fallback"
    );

    node.stop().await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_new_then_grant_add_no_private_key_changes_hands() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["demo"]).await;
    let dan = cluster.joined("dan").await;

    // Dan makes his own key for Alice; only the public half leaves his machine.
    let made = dan.wtd(&["--json", "key", "new", "alice"]).await.json();
    let public = made["public_key"].as_str().expect("public key").to_string();
    let proof = made["proof"].as_str().expect("proof").to_string();
    let alice_key = alice.wtd(&["--json", "init"]).await.json();
    assert_eq!(
        made["node_key"], alice_key["public_key"],
        "pinned Alice's node key"
    );
    let text = dan.wtd(&["key", "list"]).await;
    assert!(text.ok().contains("alice"), "{text:#?}");

    // Before Alice grants it, the key is refused; after, it works.
    dan.wtd(&["call", "alice", "demo/cli/add", "[1, 2]"])
        .await
        .fails(3, "does not accept this key");
    alice
        .wtd(&[
            "grant",
            "add",
            "dan",
            "--public-key",
            &public,
            "--proof",
            &proof,
            "--mission",
            "demo",
        ])
        .await
        .ok();
    let sum = dan.wtd(&["call", "alice", "demo/cli/add", "[1, 2]"]).await;
    assert_eq!(sum.ok().trim(), "3");

    // A node that is not online has no key to pin.
    dan.wtd(&["key", "new", "nobody"])
        .await
        .fails(6, "not connected");

    cluster.stop().await;
}

/// A grant change on a full disk: the command says it could not write, and the grants
/// file is exactly as before (no half-written file, no temporary left behind). Revoking
/// in that state fails loudly too, so nobody believes a key is revoked when it is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_change_on_a_full_disk_fails_and_changes_nothing() {
    let cluster = Cluster::start().await;
    let alice = cluster.joined("alice").await;
    cluster.grant(&alice, "bob", &["--mission", "demo"]).await;
    let grants = alice.home.join("grants.toml");
    let before = std::fs::read(&grants).expect("grants file");
    let files_before = folder_listing(&alice.home);

    let out = cluster.dir.path().join("carol-for-alice.wtdkey");
    let out = out.display().to_string();
    let new = alice
        .wtd_disk_full(&["grant", "new", "carol", "--mission", "demo", "--out", &out])
        .await;
    new.fails(1, "cannot write");
    new.fails(1, "unchanged");
    let revoke = alice.wtd_disk_full(&["grant", "revoke", "bob"]).await;
    revoke.fails(1, "cannot write");

    assert_eq!(std::fs::read(&grants).expect("grants file"), before);
    assert_eq!(folder_listing(&alice.home), files_before);
    assert!(
        !std::path::Path::new(&out).exists(),
        "a key for a grant that was never made"
    );
    let rows = grant_list(&alice).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(row(&rows, "bob")["revoked"], false, "{rows:#?}");

    // With room again, the same commands work.
    alice.wtd(&["grant", "revoke", "bob"]).await.ok();
    assert_eq!(row(&grant_list(&alice).await, "bob")["revoked"], true);
    cluster.stop().await;
}

/// Issue 16 item 4: a home that is really read-only. The tests run as root, who writes
/// to folders without write permission, so `chmod` proves nothing; a read-only bind mount
/// in a private mount namespace stops root too. `grant new` and `grant revoke` fail,
/// saying what they cannot write; no grant is lost or half-written; with the home
/// writable again the same commands work. Where the machine cannot make such a mount, the
/// test says loudly that it did not run, and fails if `CI=true` (`.ci/run` sets it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_home_says_what_it_cannot_write_and_loses_no_grant() {
    if let Err(why) = cli_support::read_only_mounts() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI must run the read-only home test, and cannot: {why}"
        );
        eprintln!(
            "\n*** NOT RUN: a_read_only_home_says_what_it_cannot_write_and_loses_no_grant: {why} ***\n"
        );
        return;
    }
    let cluster = Cluster::start().await;
    let alice = cluster.joined("alice").await;
    cluster.grant(&alice, "bob", &["--mission", "demo"]).await;
    let grants = alice.home.join("grants.toml");
    let before = std::fs::read(&grants).expect("grants file");
    let files_before = folder_listing(&alice.home);

    let out = cluster.dir.path().join("carol-for-alice.wtdkey");
    let out = out.display().to_string();
    let new = alice
        .wtd_read_only(&["grant", "new", "carol", "--mission", "demo", "--out", &out])
        .await;
    let said = new.fails(1, "cannot write");
    assert!(said.contains("Read-only file system"), "{new:#?}");
    let revoke = alice.wtd_read_only(&["grant", "revoke", "bob"]).await;
    let said = revoke.fails(1, "cannot write");
    assert!(said.contains("Read-only file system"), "{revoke:#?}");
    // Reading works: the grants are all there.
    let rows = alice.wtd_read_only(&["--json", "grant", "list"]).await;
    assert!(rows.ok().contains("bob"), "{rows:#?}");

    assert_eq!(std::fs::read(&grants).expect("grants file"), before);
    assert_eq!(folder_listing(&alice.home), files_before);
    assert!(
        !std::path::Path::new(&out).exists(),
        "a key for a grant that was never made"
    );
    let rows = grant_list(&alice).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(row(&rows, "bob")["revoked"], false, "{rows:#?}");

    // Writable again (the mount was only ever seen by those commands): the same work.
    alice.wtd(&["grant", "revoke", "bob"]).await.ok();
    assert_eq!(row(&grant_list(&alice).await, "bob")["revoked"], true);
    cluster.stop().await;
}

fn folder_listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("home folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A proxy that lies: its directory holds names with terminal escapes, a bidi override
/// and markup. `wtd nodes` prints them as inert text: no escape byte reaches the terminal.
#[test]
fn wtd_nodes_shows_hostile_names_as_inert_text() {
    let hostile = json!({
        "version": 1,
        "nodes": [{
            "name": "\u{1b}[2J\u{1b}[31mroot",
            "node_key": "00".repeat(32),
            "missions": [{
                "mission": "de\u{202e}om",
                "functions": ["demo/<b>add\u{7}", "demo/ok"],
            }],
            "accepts": [],
        }],
    })
    .to_string();
    let (url, server) = answer_once("200 OK", hostile);
    let home = tempfile::tempdir().expect("temp dir");
    let args: Vec<String> = [
        "--home",
        &home.path().display().to_string(),
        "nodes",
        "--proxy",
        &url,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let run = wtd_blocking(home.path(), &args);
    server.join().expect("fake proxy");
    let shown = run.ok();
    for raw in ['\u{1b}', '\u{202e}', '\u{7}', '<', '>'] {
        assert!(
            !shown.contains(raw),
            "{raw:?} reached the terminal: {shown:?}"
        );
    }
    assert!(shown.contains("\\u{1b}\\u{5b}2J"), "{shown}");
    assert!(shown.contains("demo/ok"), "{shown}");
}

/// `wtd nodes` against a proxy that refuses, or answers with something that is not a
/// directory. A refusal keeps its status and class (429: exit 4, try again later) instead
/// of being reported as "not valid JSON"; a body that is not a directory is exit 1 and
/// says the URL may not be a WTD proxy.
#[test]
fn wtd_nodes_reports_what_the_proxy_said() {
    let home = tempfile::tempdir().expect("temp dir");
    let nodes = |url: &str| {
        let args: Vec<String> = [
            "--home",
            &home.path().display().to_string(),
            "nodes",
            "--proxy",
            url,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        wtd_blocking(home.path(), &args)
    };

    let (url, server) = answer_once_as(
        "429 Too Many Requests",
        "TooMany",
        "too many requests: slow down".into(),
    );
    let busy = nodes(&url);
    server.join().expect("fake proxy");
    busy.fails(4, "(429): too many requests: slow down");

    // A 503 is not always a node that is down: the proxy names which refusal it is.
    let (url, server) = answer_once_as(
        "503 Service Unavailable",
        "ShuttingDown",
        "the proxy is shutting down: try again in a moment".into(),
    );
    let stopping = nodes(&url);
    server.join().expect("fake proxy");
    stopping.fails(1, "(503): the proxy is shutting down");

    let (url, server) = answer_once("200 OK", "<html>a web page</html>".into());
    let page = nodes(&url);
    server.join().expect("fake proxy");
    let stderr = page.fails(1, "answered with a directory that cannot be read");
    assert!(stderr.contains("WTD proxy"), "{page:#?}");
}

/// Mission `garden`, written in a module of the same name: its paths are shown short
/// (`garden/moisture` for `garden/garden/moisture`).
pub mod garden {
    use wtd::prelude::*;

    /// The soil's moisture (`garden/garden/moisture`).
    #[wtd_export(garden)]
    pub fn moisture() -> u32 {
        42
    }
}

/// The JSON list of keys `user` holds.
async fn key_list(user: &cli_support::User) -> Vec<Value> {
    let list = user.wtd(&["--json", "key", "list"]).await.json();
    list.as_array().expect("a JSON array").clone()
}

/// Issue 13 item 1: Alice grants Bob missions at different times; he keeps every key, and
/// each call uses the one whose missions cover it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_keys_for_one_node_are_kept_and_each_call_picks_one_that_covers_it() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["demo", "admin"]).await;
    let bob = cluster.joined("bob").await;
    let demo = cluster.grant(&alice, "bob", &["--mission", "demo"]).await;
    bob.wtd(&["key", "add", &demo]).await.ok();
    let admin = cluster.grant(&alice, "bob", &["--mission", "admin"]).await;
    let second = bob.wtd(&["key", "add", &admin]).await;
    let text = second.ok();
    assert!(text.contains("You hold 2 keys for `alice`"), "{second:#?}");
    assert!(!second.stderr.contains("kept as"), "{second:#?}");
    let keys = key_list(&bob).await;
    let mut missions: Vec<&Value> = keys.iter().map(|k| &k["missions"]).collect();
    missions.sort_by_key(|m| m.to_string());
    assert_eq!(missions, [&json!(["admin"]), &json!(["demo"])], "{keys:#?}");

    let sum = bob.wtd(&["call", "alice", "demo/add", "[2, 3]"]).await;
    assert_eq!(sum.ok().trim(), "5", "{sum:#?}");
    let secret = bob.wtd(&["call", "alice", "admin/secret"]).await;
    assert_eq!(secret.ok().trim(), "42", "{secret:#?}");

    // A third key covering both: when more than one fits, the call says which it used.
    let both = cluster
        .grant(&alice, "bob", &["--mission", "demo", "--mission", "admin"])
        .await;
    bob.wtd(&["key", "add", &both]).await.ok();
    let sum = bob.wtd(&["call", "alice", "demo/add", "[2, 3]"]).await;
    assert_eq!(sum.ok().trim(), "5", "{sum:#?}");
    assert!(
        sum.stderr.contains("note: called `alice` with key")
            && sum
                .stderr
                .contains("one of 2 keys you hold for `alice` that cover `demo`"),
        "{sum:#?}"
    );

    // No key covers a mission: every key is refused, and the message names their missions.
    let none = bob.wtd(&["call", "alice", "garden/cli/moisture"]).await;
    let stderr = none.fails(
        3,
        "none of your 3 keys for `alice` may run mission `garden`",
    );
    assert!(
        stderr.contains("missions demo") && stderr.contains("missions admin"),
        "{none:#?}"
    );

    cluster.stop().await;
}

/// Issue 18 item 6, kept with several keys per node: a key file that pins another node
/// key and proxy for a node already known is refused, both pins shown; `--replace` takes
/// it and keeps the earlier key as a numbered backup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_file_pinning_another_node_key_is_refused_unless_replace() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["demo"]).await;
    let bob = cluster.joined("bob").await;
    let genuine = cluster.grant(&alice, "bob", &["--mission", "demo"]).await;
    bob.wtd(&["key", "add", &genuine]).await.ok();
    let alice_key = alice.wtd(&["--json", "init"]).await.json()["public_key"]
        .as_str()
        .expect("public key")
        .to_string();

    let attacker = wtd::keys::generate().verifying_key().to_bytes();
    let forged_path = cluster.dir.path().join("forged.wtdkey");
    KeyFile {
        grantee: "bob".into(),
        node: "alice".into(),
        node_public_key: hex::encode(attacker),
        proxy: "http://127.0.0.1:9".into(),
        fallback_proxies: Vec::new(),
        missions: vec!["demo".into()],
        secret_key: wtd::keys::secret_hex(&wtd::keys::generate()),
    }
    .save(&forged_path)
    .expect("forged key file");
    let forged = forged_path.display().to_string();
    let refused = bob.wtd(&["key", "add", &forged]).await;
    let stderr = refused.fails(1, "--replace");
    assert!(
        stderr.contains(&alice_key[..16]) && stderr.contains(&hex::encode(attacker)[..16]),
        "both fingerprints: {refused:#?}"
    );
    let sum = bob.wtd(&["call", "alice", "demo/add", "[2, 3]"]).await;
    assert_eq!(
        sum.ok().trim(),
        "5",
        "the genuine key still calls alice: {sum:#?}"
    );

    let replaced = bob.wtd(&["key", "add", &forged, "--replace"]).await;
    assert!(replaced.ok().contains("Moved aside"), "{replaced:#?}");
    let backups: Vec<String> = std::fs::read_dir(bob.home.join("keys").join("alice"))
        .expect("alice's keys")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bak.1"))
        .collect();
    assert_eq!(backups.len(), 1, "the genuine key is kept: {backups:?}");

    cluster.stop().await;
}

/// Issue 18 item 11: `wtd key new` pins what the owner read out (`--node-key`), warns in
/// its output when it pinned the directory's key unchecked, and running it again never
/// moves a granted key aside. Issue 13 item 1: the key's missions fill in from the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_new_pins_what_the_owner_read_out_and_keeps_granted_keys() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["demo"]).await;
    let dan = cluster.joined("dan").await;
    let alice_key = alice.wtd(&["--json", "init"]).await.json()["public_key"]
        .as_str()
        .expect("public key")
        .to_string();

    // No --node-key and no terminal: the output carries the warning, in JSON too.
    let unchecked = dan.wtd(&["--json", "key", "new", "alice"]).await.json();
    assert!(
        unchecked["warning"]
            .as_str()
            .is_some_and(|w| w.contains("unchecked") && w.contains(&alice_key[..16])),
        "{unchecked:#}"
    );
    let public = unchecked["public_key"]
        .as_str()
        .expect("public")
        .to_string();
    let proof = unchecked["proof"].as_str().expect("proof").to_string();
    alice
        .wtd(&[
            "grant",
            "add",
            "dan",
            "--public-key",
            &public,
            "--proof",
            &proof,
            "--mission",
            "demo",
        ])
        .await
        .ok();

    // Again, with the digits Alice read out: no warning, and the granted key stays.
    let checked = dan
        .wtd(&[
            "--json",
            "key",
            "new",
            "alice",
            "--node-key",
            &alice_key[..16],
        ])
        .await
        .json();
    assert!(checked.get("warning").is_none(), "{checked:#}");
    assert_eq!(checked["node_key"], json!(alice_key));
    let wrong = hex::encode(wtd::keys::generate().verifying_key().to_bytes());
    dan.wtd(&["key", "new", "alice", "--node-key", &wrong])
        .await
        .fails(1, &format!("not the {}", &wrong[..16]));
    let keys = key_list(&dan).await;
    assert_eq!(keys.len(), 2, "both keys kept: {keys:#?}");

    // The granted key calls; its missions, unknown until then, come from the node.
    let sum = dan.wtd(&["call", "alice", "demo/add", "[1, 2]"]).await;
    assert_eq!(sum.ok().trim(), "3", "{sum:#?}");
    let dan_ref = &dan;
    let public_ref = &public;
    let row = eventually(Duration::from_secs(5), || async move {
        let keys = key_list(dan_ref).await;
        let row = keys
            .into_iter()
            .find(|k| public_ref.starts_with(k["key"].as_str().unwrap_or("-")))?;
        (row["accepted"] == true).then_some(row)
    })
    .await
    .expect("within 5 s the directory shows alice accepts dan's granted key");
    assert_eq!(row["missions"], json!(["demo"]), "{row:#}");

    cluster.stop().await;
}

/// Issue 13 item 2: a node a program started records its name and proxy in its home as
/// `wtd register` does, so `wtd grant new` works there; a home naming another node is
/// left as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_started_by_a_program_is_a_home_for_wtd() {
    let mut cluster = Cluster::start().await;
    let erin = cluster.started_by_a_program("erin", &["demo"]).await;
    let bob = cluster.joined("bob").await;
    let key = cluster.grant(&erin, "bob", &["--mission", "demo"]).await;
    bob.wtd(&["key", "add", &key]).await.ok();
    let sum = bob.wtd(&["call", "erin", "demo/add", "[2, 3]"]).await;
    assert_eq!(sum.ok().trim(), "5", "{sum:#?}");

    // A home whose node.toml names another node keeps it.
    let shared = cluster.user("shared");
    std::fs::create_dir_all(&shared.home).expect("home");
    let named = format!(
        "name = \"frank\"\nproxy = \"{}\"\nemail = \"\"\n",
        cluster.url()
    );
    std::fs::write(shared.home.join("node.toml"), &named).expect("node.toml");
    let node = Node::start(NodeConfig::new("gina", cluster.url(), &shared.home).serve(&["demo"]))
        .await
        .expect("starts");
    let kept = std::fs::read_to_string(shared.home.join("node.toml")).expect("node.toml");
    assert_eq!(kept, named);
    node.stop().await;

    cluster.stop().await;
}

/// Issue 13 item 4: messages that point the right way, and `--json` errors as JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_point_the_right_way() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["demo"]).await;
    cluster.serving("carol", &["demo"]).await;
    let bob = cluster.joined("bob").await;
    let key = cluster.grant(&alice, "bob", &["--mission", "demo"]).await;
    bob.wtd(&["key", "add", &key]).await.ok();

    // A typo'd node name: no such node online, and the close names.
    let typo = bob.wtd(&["call", "alcie", "demo/add", "[1, 2]"]).await;
    let stderr = typo.fails(6, "no node of that name is online");
    assert!(stderr.contains("did you mean `alice`"), "{typo:#?}");
    // The same with --json: one JSON object on stdout, and the same exit code.
    let json = bob
        .wtd(&["--json", "call", "alcie", "demo/add", "[1, 2]"])
        .await;
    assert_eq!(json.code, Some(6), "{json:#?}");
    let error: Value = serde_json::from_str(&json.stdout).expect("a JSON error on stdout");
    assert_eq!(error["error"], "NoSuchNode", "{error:#}");
    assert_eq!(error["exit"], 6, "{error:#}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("alice")),
        "{error:#}"
    );
    let usage = bob.wtd(&["--json", "call"]).await;
    assert_eq!(usage.code, Some(2), "{usage:#?}");
    let error: Value = serde_json::from_str(&usage.stdout).expect("a JSON error on stdout");
    assert_eq!(error["error"], "Usage", "{error:#}");

    // An unknown function points at `wtd nodes`.
    bob.wtd(&["call", "alice", "demo/nope"])
        .await
        .fails(7, "`wtd nodes` lists what each node offers");

    // A key file edited to name carol: carol refused it, and the message says so.
    let mut edited = KeyFile::load(key.as_ref()).expect("bob's key");
    edited.node = "carol".into();
    let edited_path = cluster.dir.path().join("edited.wtdkey");
    edited.save(&edited_path).expect("saved");
    bob.wtd(&["key", "add", &edited_path.display().to_string()])
        .await
        .ok();
    let wrong = bob.wtd(&["call", "carol", "demo/add", "[1, 2]"]).await;
    // Since issue 16 the proxy refuses the call (Carol does not announce Bob's key), so
    // Carol never answers; `wtd` still says why: the key file pins another node.
    let stderr = wrong.fails(
        3,
        "node `carol` does not accept this key, and your key file pins node key",
    );
    assert!(
        stderr.contains("made for another node") && stderr.contains("does not accept this key"),
        "{wrong:#?}"
    );

    // Granting a mission the node does not serve: granted, with a warning.
    let garden = alice
        .wtd(&[
            "grant",
            "new",
            "bob",
            "--mission",
            "garden",
            "--out",
            "g.wtdkey",
        ])
        .await;
    assert!(
        garden
            .ok()
            .contains("`alice` does not serve mission `garden`"),
        "{garden:#?}"
    );
    // A key file made for another holder, kept in Bob's home: kept, with a warning.
    let doras = cluster.grant(&alice, "dora", &["--mission", "demo"]).await;
    let kept = bob.wtd(&["key", "add", &doras]).await;
    assert!(
        kept.ok()
            .contains("Warning: this key file was made for `dora`"),
        "{kept:#?}"
    );

    cluster.stop().await;
}

/// Issue 13 item 4: a call from a home never made says there is none and how to make one.
#[test]
fn a_call_from_a_home_never_made_says_how_to_make_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("never-made").display().to_string();
    let args: Vec<String> = ["--home", &home, "call", "alice", "demo/add", "[2, 3]"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let run = wtd_blocking(dir.path(), &args);
    let stderr = run.fails(1, "there is no WTD home here");
    assert!(stderr.contains("wtd init"), "{run:#?}");
}

/// Issue 13 item 5: one path form. `garden/moisture` is typed and shown for
/// `garden/garden/moisture`; the full form is accepted too, and the JSON keeps it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_short_path_is_shown_where_the_module_is_the_mission() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["garden"]).await;
    let bob = cluster.joined("bob").await;
    let key = cluster.grant(&alice, "bob", &["--mission", "garden"]).await;
    bob.wtd(&["key", "add", &key]).await.ok();

    let nodes = bob.wtd(&["nodes"]).await;
    assert!(nodes.ok().contains("garden: moisture"), "{nodes:#?}");
    for path in ["garden/moisture", "garden/garden/moisture"] {
        let run = bob.wtd(&["call", "alice", path]).await;
        assert_eq!(run.ok().trim(), "42", "{run:#?}");
    }
    bob.wtd(&["call", "alice", "garden/garden/nope"])
        .await
        .fails(7, "has no function `garden/nope`");

    cluster.node("alice").audit_log().flush();
    let log = alice.wtd(&["log"]).await;
    let text = log.ok();
    assert!(
        text.contains("garden/moisture") && !text.contains("garden/garden/"),
        "{log:#?}"
    );
    let json = alice.wtd(&["--json", "log"]).await;
    assert!(
        json.ok().contains("\"garden/garden/moisture\""),
        "{json:#?}"
    );

    cluster.stop().await;
}

/// `wtd grant add GRANTEE --public-key KEY --proof PROOF --mission demo` in `owner`'s home.
async fn grant_add(owner: &cli_support::User, grantee: &str, key: &str, proof: &str) -> Run {
    let mut args = vec!["grant", "add", grantee, "--public-key", key];
    if !proof.is_empty() {
        args.extend(["--proof", proof]);
    }
    args.extend(["--mission", "demo", "--rate", "1/min"]);
    owner.wtd(&args).await
}

/// Issue 18 item 5: Mallory copies Carol's public key (it is public: the directory lists
/// it) and asks Alice to grant it in her name. Without Carol's proof, or with the proof
/// Carol made for her own name, nothing is granted; a key already granted, to anyone,
/// is refused naming its grantee; a revoked key never comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_add_refuses_a_copied_key_a_taken_key_and_a_revoked_key() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["demo"]).await;
    let carol = cluster.joined("carol").await;
    let dave = cluster.joined("dave").await;
    let made = carol.wtd(&["--json", "key", "new", "alice"]).await.json();
    let public = made["public_key"].as_str().expect("public key").to_string();
    let proof = made["proof"].as_str().expect("proof").to_string();
    let text = carol.wtd(&["key", "new", "alice"]).await;
    assert!(text.ok().contains("--proof "), "{text:#?}");
    alice
        .wtd(&[
            "grant",
            "add",
            "carol",
            "--public-key",
            &public,
            "--proof",
            &proof,
            "--mission",
            "demo",
            "--rate",
            "100/s",
        ])
        .await
        .ok();

    // No proof: refused, and the message says how to get one.
    let bare = grant_add(&alice, "mallory", &public, "").await;
    let stderr = bare.fails(2, "--proof");
    assert!(stderr.contains("wtd key new"), "{bare:#?}");
    // Carol's proof is for `carol` at `alice`: not for `mallory`, not at `dave`.
    grant_add(&alice, "mallory", &public, &proof)
        .await
        .fails(2, "the proof does not match");
    grant_add(&dave, "carol", &public, &proof)
        .await
        .fails(2, "the proof does not match");
    // A key already granted, with a genuine proof, under any name: refused, its grantee named.
    grant_add(&alice, "carol", &public, &proof)
        .await
        .fails(1, "already granted to `carol`");
    let bobs = cluster.grant(&alice, "bob", &["--mission", "demo"]).await;
    let bob_key = KeyFile::load(bobs.as_ref())
        .expect("bob's key file")
        .signing_key()
        .expect("bob's key");
    let alice_key = alice.wtd(&["--json", "init"]).await.json()["public_key"]
        .as_str()
        .map(|k| wtd::keys::parse_hex32("alice", k).expect("hex"))
        .expect("alice's key");
    let for_mallory = KeyProof::sign(
        &bob_key,
        ProofFor {
            grantee: "mallory",
            node: "alice",
            node_key: &alice_key,
        },
        std::time::SystemTime::now(),
    );
    let bob_public = hex::encode(bob_key.verifying_key().to_bytes());
    grant_add(&alice, "mallory", &bob_public, &for_mallory.to_string())
        .await
        .fails(1, "already granted to `bob`");

    let rows = grant_list(&alice).await;
    assert_eq!(row(&rows, "carol")["rate"], "100/s", "{rows:#?}");
    assert!(rows.iter().all(|r| r["grantee"] != "mallory"), "{rows:#?}");
    let sum = carol.wtd(&["call", "alice", "demo/add", "[2, 3]"]).await;
    assert_eq!(sum.ok().trim(), "5", "carol's grant is hers: {sum:#?}");

    // Revoked is forever: the same key and proof do not bring it back.
    alice.wtd(&["grant", "revoke", "carol"]).await.ok();
    grant_add(&alice, "carol", &public, &proof)
        .await
        .fails(1, "never granted again");
    carol
        .wtd(&["call", "alice", "demo/add", "[2, 3]"])
        .await
        .fails(3, "revoked");

    cluster.stop().await;
}

/// Issue 18 item 9: a grantee name that is a path (`../outside/x`) is refused before any
/// path is built from it: nothing is written, not even for a moment, outside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_new_with_a_path_for_a_name_writes_nothing_outside() {
    let cluster = Cluster::start().await;
    let alice = cluster.joined("alice").await;
    // Commands run in the cluster's folder: `../NAME/outside/x` is its `outside` folder,
    // reached through `..` as any folder of the user's could be.
    let outside = cluster.dir.path().join("outside");
    std::fs::create_dir(&outside).expect("outside");
    let folder = cluster
        .dir
        .path()
        .file_name()
        .expect("a name")
        .to_string_lossy()
        .into_owned();
    let before = std::fs::metadata(&outside)
        .and_then(|m| m.modified())
        .expect("mtime");
    std::thread::sleep(Duration::from_millis(20));

    let grantee = format!("../{folder}/outside/x");
    let refused = alice
        .wtd(&["grant", "new", &grantee, "--mission", "demo"])
        .await;
    refused.fails(2, "grantee name");
    let after = std::fs::metadata(&outside)
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(
        after, before,
        "a file was made (and removed) in {outside:?}: {refused:#?}"
    );
    assert!(folder_listing(&outside).is_empty());
    assert!(grant_list(&alice).await.is_empty());

    cluster.stop().await;
}

/// A home folder someone else made ready, with a grants file already in it.
fn planted_home(grants: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("home");
    std::fs::create_dir(&home).expect("home");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
    std::fs::write(home.join("grants.toml"), grants).expect("grants.toml");
    (dir, home)
}

fn wtd_in(dir: &std::path::Path, home: &std::path::Path, args: &[&str]) -> Run {
    let mut all = vec!["--home".to_string(), home.display().to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    wtd_blocking(dir, &all)
}

/// Issue 18 item 7: `wtd init` on a home whose grants file already grants keys keeps
/// them (a home may be one's own, made before), but says so, naming every grantee.
#[test]
fn init_warns_of_grants_already_in_the_home() {
    let planted = format!(
        "[[grant]]\ngrantee = \"mallory\"\npublic_key = \"{}\"\nmissions = [\"demo\", \"admin\"]\nrate = \"10/s\"\nrevoked = false\n",
        hex::encode(wtd::keys::generate().verifying_key().to_bytes())
    );
    let (dir, home) = planted_home(&planted);
    let run = wtd_in(dir.path(), &home, &["init"]);
    let text = run.ok();
    assert!(
        text.contains("Warning:") && text.contains("`mallory` (demo, admin)"),
        "{run:#?}"
    );
    let json = wtd_in(dir.path(), &home, &["--json", "init"]).json();
    assert!(
        json["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("mallory") && w.contains("wtd grant revoke")),
        "{json:#}"
    );

    // A home `init` made itself has nothing to warn of, the first time or the next.
    let fresh = dir.path().join("fresh");
    for _ in 0..2 {
        let run = wtd_in(dir.path(), &fresh, &["init"]);
        assert!(!run.ok().contains("Warning"), "{run:#?}");
    }
}

/// The raw characters no terminal may receive from someone else's text.
const HOSTILE: [char; 4] = ['\u{1b}', '\u{7}', '\u{202e}', '\u{2066}'];

#[track_caller]
fn assert_inert(text: &str, run: &Run) {
    for raw in HOSTILE {
        assert!(
            !text.contains(raw),
            "{raw:?} reached the terminal: {run:#?}"
        );
    }
}

/// Issue 18 item 8: a callee's panic message (signed by the callee, but written by
/// whoever chose the text) reaches the terminal as inert text; with --json the message
/// keeps its value, written with escapes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callee_panic_message_reaches_the_terminal_inert() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.serving("alice", &["demo"]).await;
    let bob = cluster.joined("bob").await;
    let key = cluster.grant(&alice, "bob", &["--mission", "demo"]).await;
    bob.wtd(&["key", "add", &key]).await.ok();

    let args = r#"["\u001b[31mred\u0007 \u202egnp.exe\u2066\nwtd: all is well"]"#;
    let run = bob.wtd(&["call", "alice", "demo/fail", args]).await;
    let stderr = run.fails(1, "panicked");
    assert_inert(stderr, &run);
    assert!(
        stderr.contains("\\u{1b}[31mred\\u{7} \\u{202e}gnp.exe\\u{2066}"),
        "{run:#?}"
    );
    assert!(
        !stderr.lines().any(|l| l.starts_with("wtd: all is well")),
        "a line of the message passed for one of wtd's: {run:#?}"
    );

    let json = bob
        .wtd(&["--json", "call", "alice", "demo/fail", args])
        .await;
    assert_inert(&json.stdout, &json);
    let error: Value = serde_json::from_str(&json.stdout).expect("a JSON error");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("\u{202e}gnp.exe")),
        "{error:#}"
    );

    cluster.stop().await;
}

/// Issue 18 item 8: a grants file with escapes in a line that is not TOML: the parse
/// error quotes the line, inert.
#[test]
fn a_bad_line_in_grants_toml_is_quoted_inert() {
    let (dir, home) =
        planted_home("[[grant]]\ngrantee = \"\u{1b}[2J\u{7}\u{202e}x\u{2066}\" \u{1b}[31mjunk\n");
    let run = wtd_in(dir.path(), &home, &["grant", "list"]);
    let stderr = run.fails(1, "not valid TOML");
    assert_inert(stderr, &run);
    assert!(
        stderr.contains("\\u{1b}[31mjunk"),
        "the line is quoted: {run:#?}"
    );
    let json = wtd_in(dir.path(), &home, &["--json", "grant", "list"]);
    assert_inert(&json.stdout, &json);
}

/// Issue 18 item 8: a proxy that refuses with escapes, bidi controls and a line break in
/// its body: the refusal is shown inert, on one line.
#[test]
fn a_proxy_error_body_reaches_the_terminal_inert() {
    let home = tempfile::tempdir().expect("temp dir");
    let body = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{202e}gnp.exe\u{2066}\nwtd: all is well".to_string();
    let (url, server) = answer_once("500 Internal Server Error", body);
    let run = wtd_in(home.path(), home.path(), &["nodes", "--proxy", &url]);
    server.join().expect("fake proxy");
    let stderr = run.fails(1, "(500)");
    assert_inert(stderr, &run);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{run:#?}");
    assert!(stderr.contains("\\u{1b}]0;pwned"), "{run:#?}");
}
