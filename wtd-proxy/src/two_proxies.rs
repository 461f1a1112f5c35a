//! Two proxies on one Redis, over HTTP: they serve one cluster, and answer 503 with a
//! sentence while Redis is away.

use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wtd_wire::{self as wire, Signed, domain};

use crate::local_redis::LocalRedis;
use crate::{Config, Proxy};

/// A proxy on `redis`, with its own data folder.
async fn proxy(redis: &LocalRedis, dir: &std::path::Path) -> Proxy {
    let mut config = Config::new(dir);
    config.store = Some(redis.url());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    Proxy::start(listener, config)
        .await
        .expect("starts on Redis")
}

/// `PUT /nodes/NAME` with a registration signed by `key`.
async fn register(proxy: &Proxy, name: &str, key: u8) -> (u16, String, String) {
    let key = SigningKey::from_bytes(&[key; 32]);
    let message = wire::Register {
        name: name.to_string(),
        email: String::new(),
        node_key: key.verifying_key().to_bytes(),
        issued_at_ms: wire::now_ms(),
    };
    let body = Signed::sign(domain::REGISTER, &message, &key).to_bytes();
    request(proxy, "PUT", &format!("/nodes/{name}"), &body).await
}

/// `METHOD PATH` with `body`: the status, the error code header (if any) and the body.
async fn request(proxy: &Proxy, method: &str, path: &str, body: &[u8]) -> (u16, String, String) {
    let mut tcp = tokio::net::TcpStream::connect(proxy.addr())
        .await
        .expect("connects");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: proxy\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.expect("writes");
    tcp.write_all(body).await.expect("writes");
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.expect("reads");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let code = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case(wire::ERROR_HEADER)
                .then(|| value.trim().to_string())
        })
        .unwrap_or_default();
    (status, code, body.to_string())
}

#[tokio::test]
async fn two_proxies_on_one_redis_share_names_and_answer_503_while_it_is_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(mut redis) = LocalRedis::for_test("two_proxies_on_one_redis", dir.path()) else {
        return;
    };
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
    let (a, b) = (proxy(&redis, &a_dir).await, proxy(&redis, &b_dir).await);
    assert_eq!(register(&a, "alice", 1).await.0, 200);
    let (status, code, _) = register(&b, "alice", 2).await;
    assert_eq!(
        (status, code.as_str()),
        (409, "NameTaken"),
        "one name over both"
    );
    assert_eq!(
        register(&b, "alice", 1).await.0,
        200,
        "alice again, through b"
    );

    redis.kill();
    let (status, code, body) = register(&a, "bob", 3).await;
    assert_eq!((status, code.as_str()), (503, "StoreUnavailable"), "{body}");
    assert!(body.contains("try again in a moment"), "{body}");
    let (status, code, _) = request(&b, "GET", "/api/directory", b"").await;
    assert_eq!(
        (status, code.as_str()),
        (503, "StoreUnavailable"),
        "not an empty page"
    );

    redis.restart().expect("redis starts again");
    let mut status = 0;
    for _ in 0..100 {
        status = register(&b, "bob", 3).await.0;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status, 200,
        "service resumes without restarting the proxies"
    );
    let (status, code, _) = register(&a, "alice", 2).await;
    assert_eq!(
        (status, code.as_str()),
        (409, "NameTaken"),
        "alice's name kept"
    );
    a.stop().await;
    b.stop().await;
}
