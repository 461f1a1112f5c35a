//! Tests of billets: each promise of the module above, one test each.

use super::*;
use crate::process::{Process, ProcessTable};

fn issuing(table: &Arc<BilletTable>, holder: u8) -> Scope {
    Scope {
        issuing: Some(Issuing {
            table: table.clone(),
            origin: "bob".into(),
            origin_key: [9; 32],
            holder: [holder; 32],
            mission: None,
        }),
        receiving: None,
    }
}

fn billet(scope: Scope, pid: &Pid<String>) -> std::result::Result<Billet, String> {
    let bytes = scope.encode(pid)?;
    Ok(wire::decode_exact::<Billet>(&bytes).expect("a billet"))
}

fn waiter(processes: &ProcessTable) -> Pid<String> {
    processes.spawn(|mut me: Process<String>| async move {
        me.receive().await;
    })
}

#[tokio::test]
async fn a_pid_is_reused_per_holder_and_capped_per_process() {
    let processes = ProcessTable::new("bob");
    let pid = waiter(&processes);
    let table = Arc::new(BilletTable::default());
    let first = billet(issuing(&table, 1), &pid).expect("issued");
    assert_eq!(first.holder, [1; 32]);
    assert_eq!(first.process, pid.id().get());
    let again = billet(issuing(&table, 1), &pid).expect("issued");
    assert_eq!(first.nonce, again.nonce, "same holder, same billet");
    let other = billet(issuing(&table, 2), &pid).expect("issued");
    assert_ne!(first.nonce, other.nonce);
    assert_eq!(table.len(), 2);
    for _ in 2..MAX_PER_PROCESS {
        billet(
            issuing(&table, 3),
            &pid.expiring_after(Duration::from_secs(60)),
        )
        .expect("issued");
    }
    let err = billet(issuing(&table, 4), &pid).expect_err("capped");
    assert!(err.contains("billets out"), "{err}");
    assert_eq!(table.len(), MAX_PER_PROCESS);
}

#[tokio::test]
async fn the_check_names_each_failure_and_a_dead_process_frees_its_billets() {
    let processes = ProcessTable::new("bob");
    let pid = waiter(&processes);
    let table = Arc::new(BilletTable::default());
    let b = billet(issuing(&table, 1), &pid).expect("issued");
    let now = wire::now_ms();
    assert_eq!(table.check(b.process, &b.nonce, &[1; 32], now), Ok(None));
    assert_eq!(
        table.check(b.process, &b.nonce, &[2; 32], now),
        Err(Refusal::NotTheHolder)
    );
    let mut forged = b.nonce;
    forged[15] ^= 0x80;
    assert_eq!(
        table.check(b.process, &forged, &[1; 32], now),
        Err(Refusal::NoSuchBillet)
    );
    assert_eq!(
        table.check(b.process + 1, &b.nonce, &[1; 32], now),
        Err(Refusal::NoSuchBillet)
    );

    let short = billet(
        issuing(&table, 1),
        &pid.expiring_after(Duration::from_millis(10)),
    )
    .expect("issued");
    let later = short.expires_at_ms.expect("an expiry");
    assert_eq!(
        table.check(short.process, &short.nonce, &[1; 32], later),
        Err(Refusal::BilletExpired)
    );

    pid.send("end".into()).expect("queued");
    while pid.is_alive() {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        table.check(b.process, &b.nonce, &[1; 32], now),
        Err(Refusal::ProcessEnded)
    );
    assert_eq!(table.len(), 0, "freed with the process");
    let err = billet(issuing(&table, 1), &pid).expect_err("ended");
    assert!(err.contains("has ended"), "{err}");
}

#[tokio::test]
async fn a_billets_rate_is_its_own() {
    let processes = ProcessTable::new("bob");
    let pid = waiter(&processes);
    let table = Arc::new(BilletTable::default());
    let b = billet(issuing(&table, 1), &pid).expect("issued");
    let c = billet(issuing(&table, 2), &pid).expect("issued");
    for _ in 0..SENDS_PER_SECOND {
        assert!(table.spend(b.process, &b.nonce).is_ok());
    }
    let wait = table.spend(b.process, &b.nonce).err().expect("spent");
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_millis(100),
        "{wait:?}"
    );
    assert!(
        table.spend(c.process, &c.nonce).is_ok(),
        "another billet's rate is whole"
    );
}

#[test]
fn outside_a_call_a_pid_does_not_serialize_and_says_why() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let _entered = runtime.enter();
    let pid = waiter(&ProcessTable::new("bob"));
    let err = Scope::default().encode(&pid).expect_err("no issuing scope");
    assert!(err.contains("inside a WTD call"), "{err}");
}

#[test]
fn a_watch_answer_is_encoded_as_docs_protocol_md_says() {
    // docs/PROTOCOL.md, §6a "A watch": `Alive` is `00`, an `Err("disk full")` exit is
    // `01 05 09` and the text.
    assert_eq!(wire::encode(&Watched::Alive), vec![0x00]);
    let ended = Watched::Ended(ExitReason::Other("disk full".into()));
    let mut expected = vec![0x01, 0x05, 0x09];
    expected.extend_from_slice(b"disk full");
    assert_eq!(wire::encode(&ended), expected);
    assert_eq!(
        wire::encode(&ExitReason::NodeDown("bob".into()))[0],
        0x06,
        "NodeDown is variant 6"
    );
}
