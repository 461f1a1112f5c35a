//! `wtd-fault-child`: the processes the fault tests (tests/e2e/faults.rs) start and kill
//! with SIGKILL, so that a proxy or a node dies for real: no destructor, no goodbye.
//!
//! Not a program for people: it does nothing but print a usage line unless
//! `WTD_TEST_CHILD` names a role, and it ends by itself after a minute, so no child
//! outlives a test run.
//!
//! * `proxy`: a proxy on `WTD_TEST_LISTEN` (retrying while a killed proxy's port is
//!   released) with its data in `WTD_TEST_DATA`; prints `WTD-CHILD-READY <address>`.
//! * `node`: node `WTD_TEST_NAME` on proxy `WTD_TEST_PROXY`, home `WTD_TEST_HOME`,
//!   serving mission `lab`; writes a key for `WTD_TEST_GRANTEE` to `WTD_TEST_KEY_OUT`
//!   and prints `WTD-CHILD-READY node`.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use wtd::{Node, NodeConfig};
use wtd_examples as _;

fn main() -> ExitCode {
    let Ok(role) = std::env::var("WTD_TEST_CHILD") else {
        eprintln!("wtd-fault-child: run by the fault tests (WTD_TEST_CHILD=proxy|node)");
        return ExitCode::from(2);
    };
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let lifetime = Duration::from_secs(60);
    runtime.block_on(async move {
        match role.as_str() {
            "proxy" => {
                let listener = bind_again(&env("WTD_TEST_LISTEN")).await;
                println!("WTD-CHILD-READY {}", listener.local_addr().expect("addr"));
                let config = wtd_proxy::Config::new(env("WTD_TEST_DATA"));
                wtd_proxy::run(listener, config, tokio::time::sleep(lifetime))
                    .await
                    .expect("proxy runs");
            }
            "node" => {
                let config = NodeConfig::new(
                    &env("WTD_TEST_NAME"),
                    &env("WTD_TEST_PROXY"),
                    env("WTD_TEST_HOME"),
                )
                .serve(&["lab"]);
                let node = Node::start(config).await.expect("node starts");
                let key = node
                    .grant(&env("WTD_TEST_GRANTEE"))
                    .mission("lab")
                    .mint()
                    .expect("mint");
                key.save(Path::new(&env("WTD_TEST_KEY_OUT")))
                    .expect("key saved");
                println!("WTD-CHILD-READY node");
                tokio::time::sleep(lifetime).await;
                node.stop().await;
            }
            other => panic!("unknown child role {other}"),
        }
    });
    ExitCode::SUCCESS
}

/// Binds `addr` (a port a killed proxy had), retrying for up to 10 s while the old socket
/// is released.
async fn bind_again(addr: &str) -> tokio::net::TcpListener {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => return listener,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("cannot bind {addr} again: {e}"),
        }
    }
}
