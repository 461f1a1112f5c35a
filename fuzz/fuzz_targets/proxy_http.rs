//! The proxy as a whole: HTTP requests into the real router (`wtd_proxy::routes::router`
//! over a `State` with its database in a scratch folder), driven with
//! `tower::ServiceExt::oneshot` on a current-thread tokio runtime with a paused clock (so
//! long-polls and `/apply` waits end at once).
//!
//! Each input is a short sequence of requests, decoded with `arbitrary`: raw bodies at any
//! route, and correctly signed registrations, hops (ping, bye, tx, rx) and `/apply` calls
//! whose fields come from the fuzzer, so the decoders *behind* the signature checks are
//! reached too. State carries over between inputs, like a proxy that has been up a while.
//!
//! Checked for every request: no panic, no hang, no 500; every 200 answer is canonical
//! postcard of the route's answer type; only the key a name is registered with gets a
//! 200 for that name; unsigned junk never gets a 200 on a signed route.
#![no_main]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arbitrary::Arbitrary;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;
use wtd::wire::{
    self, Call, Encoding, Hop, Kind, Offer, Outgoing, Ping, PingReply, Register, Reply, Route,
    RxBatch, RxPoll, Signed, TxBatch, TxReply, domain,
};
use wtd_fuzz::{alice, bob, mallory};
use wtd_proxy::state::State;

#[derive(Arbitrary, Debug, Clone)]
enum Who {
    Alice,
    Bob,
    Mallory,
    Numbered(u8),
    Named(String),
}

impl Who {
    fn name(&self) -> String {
        match self {
            Who::Alice => "alice".into(),
            Who::Bob => "bob".into(),
            Who::Mallory => "mallory".into(),
            Who::Numbered(n) => format!("n{n}"),
            Who::Named(name) => name.clone(),
        }
    }

    fn key(&self) -> SigningKey {
        match self {
            Who::Alice => alice(),
            Who::Bob => bob(),
            Who::Mallory => mallory(),
            Who::Numbered(n) => SigningKey::from_bytes(&[*n; 32]),
            Who::Named(_) => mallory(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct CallFields {
    caller: Who,
    callee: Who,
    mission: Option<String>,
    module: Option<String>,
    function: Option<String>,
    version: Option<u8>,
    json: bool,
    want_reply: bool,
    ack: [u8; 16],
    lifetime_ms: u16,
    args: Vec<u8>,
}

impl CallFields {
    fn call(&self, signer: &SigningKey) -> Call {
        let now = wire::now_ms();
        Call {
            capability: signer.verifying_key().to_bytes(),
            caller: self.caller.name(),
            callee: self.callee.name(),
            target: wire::Target::Function {
                mission: self.mission.clone().unwrap_or_else(|| "demo".into()),
                module: self.module.clone().unwrap_or_else(|| "demo::math".into()),
                function: self.function.clone().unwrap_or_else(|| "add".into()),
            },
            encoding: if self.json {
                Encoding::Json
            } else {
                Encoding::Postcard
            },
            want_reply: self.want_reply,
            ack: self.ack,
            issued_at_ms: now,
            expires_at_ms: now + u64::from(self.lifetime_ms),
            args: self.args.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Content {
    Raw(Vec<u8>),
    Call {
        fields: CallFields,
        signer: Who,
    },
    Reply {
        to: Who,
        ack: [u8; 16],
        ok: Vec<u8>,
        signer: Who,
    },
}

impl Content {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Content::Raw(bytes) => bytes.clone(),
            Content::Call { fields, signer } => {
                let key = signer.key();
                Signed::sign(domain::CALL, &fields.call(&key), &key).to_bytes()
            }
            Content::Reply {
                to,
                ack,
                ok,
                signer,
            } => {
                let reply = Reply {
                    callee: signer.name(),
                    caller: to.name(),
                    ack: *ack,
                    call_hash: [0; 32],
                    outcome: wire::Outcome::Ok(ok.clone()),
                };
                Signed::sign(domain::REPLY, &reply, &signer.key()).to_bytes()
            }
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Envelope {
    to: Who,
    reply: bool,
    ack: [u8; 16],
    content: Content,
}

/// A function name in a ping's offers: mostly valid, sometimes anything.
#[derive(Arbitrary, Debug)]
enum Function {
    Valid(u8),
    Any(String),
}

impl Function {
    fn text(&self) -> String {
        match self {
            Function::Valid(n) => format!("demo::math/f{n}"),
            Function::Any(text) => text.clone(),
        }
    }
}

/// A hop's body; it also picks the route (unless the request overrides it).
#[derive(Arbitrary, Debug)]
enum HopBody {
    Raw {
        route: u8,
        bytes: Vec<u8>,
    },
    Bye,
    Ping {
        offers: Vec<(Option<String>, Vec<Function>)>,
        accepts: Vec<[u8; 32]>,
        known_version: u64,
        follows: Vec<String>,
    },
    Tx(Vec<Envelope>),
    Rx {
        epoch: Option<u64>,
        ack_seq: u64,
        wait_ms: u32,
    },
}

impl HopBody {
    fn route(&self) -> Route {
        match self {
            HopBody::Raw { route, .. } => ROUTES[usize::from(route % 4)],
            HopBody::Bye => Route::Bye,
            HopBody::Ping { .. } => Route::Ping,
            HopBody::Tx(_) => Route::Tx,
            HopBody::Rx { .. } => Route::Rx,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        match self {
            HopBody::Raw { bytes, .. } => bytes.clone(),
            HopBody::Bye => Vec::new(),
            HopBody::Ping {
                offers,
                accepts,
                known_version,
                follows,
            } => wire::encode(&Ping {
                offers: offers
                    .iter()
                    .map(|(mission, functions)| Offer {
                        mission: mission.clone().unwrap_or_else(|| "demo".into()),
                        functions: functions.iter().map(Function::text).collect(),
                        behaviours: Vec::new(),
                    })
                    .collect(),
                accepts: accepts.clone(),
                known_version: *known_version,
                follows: follows.clone(),
            }),
            HopBody::Tx(envelopes) => wire::encode(&TxBatch {
                envelopes: envelopes
                    .iter()
                    .map(|e| Outgoing {
                        to: e.to.name(),
                        kind: if e.reply { Kind::Reply } else { Kind::Call },
                        ack: e.ack,
                        bytes: e.content.bytes(),
                    })
                    .collect(),
            }),
            HopBody::Rx {
                epoch,
                ack_seq,
                wait_ms,
            } => wire::encode(&RxPoll {
                epoch: epoch.unwrap_or_else(|| EPOCH.load(Ordering::Relaxed)),
                ack_seq: *ack_seq,
                wait_ms: *wait_ms,
                known_version: 0,
            }),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Req {
    /// Any method and path (the dashboard, the JSON directory, unknown routes).
    Any {
        method: u8,
        path: String,
        body: Vec<u8>,
    },
    /// A route of the proxy with a raw (unsigned) body.
    Raw { route: u8, node: Who, body: Vec<u8> },
    /// A registration of `name` (at the URL of `url`, default the same name), claiming
    /// `key_of`'s key (default `name`'s), signed by `signer` (default `name`).
    Register {
        url: Option<Who>,
        name: Who,
        email: String,
        key_of: Option<Who>,
        signer: Option<Who>,
        skew_ms: Option<i16>,
    },
    /// A hop in the name of `node`, signed by `signer` (default `node`), for the route
    /// its body picks, at the URL of `url_route`/`url_node` (default the same).
    Hop {
        node: Who,
        body: HopBody,
        url_route: Option<u8>,
        url_node: Option<Who>,
        signer: Option<Who>,
        counter: Option<u64>,
        skew_ms: Option<i16>,
    },
    /// An `/apply` call, signed by `signer`, at a URL that may or may not match it.
    Apply {
        url: Option<(Who, String, String, String)>,
        fields: CallFields,
        signer: Who,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    requests: Vec<Req>,
}

const ROUTES: [Route; 4] = [Route::Ping, Route::Bye, Route::Tx, Route::Rx];

/// The latest epoch the proxy told us (so `/rx` acknowledgements can be real).
static EPOCH: AtomicU64 = AtomicU64::new(0);
/// Hop counters: fresh unless the fuzzer picks one.
static COUNTER: AtomicU64 = AtomicU64::new(1);

struct Proxy {
    runtime: tokio::runtime::Runtime,
    app: Router,
    /// Who holds each name, as far as the proxy's answers have shown.
    registered: Mutex<HashMap<String, [u8; 32]>>,
}

fn proxy() -> &'static Proxy {
    static PROXY: OnceLock<Proxy> = OnceLock::new();
    PROXY.get_or_init(|| {
        let mut config = wtd_proxy::Config::new(wtd_fuzz::scratch_dir("proxy"));
        config.node_rate = 1_000_000;
        config.max_nodes = 1_000;
        config.max_poll = Duration::from_millis(50);
        let state = Arc::new(State::open(config).unwrap_or_else(|e| panic!("proxy state: {e}")));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let mut registered = HashMap::new();
        for who in [Who::Alice, Who::Bob] {
            let key = who.key();
            let message = Register {
                name: who.name(),
                email: format!("{}@example.org", who.name()),
                node_key: key.verifying_key().to_bytes(),
                issued_at_ms: wire::now_ms(),
            };
            let body = Signed::sign(domain::REGISTER, &message, &key).to_bytes();
            runtime
                .block_on(state.register(&who.name(), &body, [127, 0, 0, 1].into()))
                .unwrap_or_else(|e| panic!("registering {}: {e}", who.name()));
            registered.insert(who.name(), key.verifying_key().to_bytes());
        }
        Proxy {
            runtime,
            app: wtd_proxy::routes::router(state),
            registered: Mutex::new(registered),
        }
    })
}

/// Percent-encodes one path segment, so any string can be put in a URL.
fn segment(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn route_path(route: Route, node: &str) -> String {
    match route {
        Route::Ping => "/ping".into(),
        Route::Bye => "/bye".into(),
        Route::Tx => format!("/tx/{}", segment(node)),
        Route::Rx => format!("/rx/{}", segment(node)),
    }
}

fn send(method: Method, path: &str, body: Vec<u8>) -> Option<(StatusCode, Vec<u8>)> {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::from(body))
        .ok()?;
    let proxy = proxy();
    let answer = proxy.runtime.block_on(async {
        let response =
            tokio::time::timeout(Duration::from_secs(600), proxy.app.clone().oneshot(request))
                .await
                .unwrap_or_else(|_| panic!("{path}: no answer in 600 s (paused clock): a hang"))
                .unwrap_or_else(|e| match e {});
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap_or_else(|e| panic!("{path}: reading the answer failed: {e}"));
        (status, body.to_vec())
    });
    let (status, _) = &answer;
    if std::env::var_os("WTD_FUZZ_VERBOSE").is_some() {
        eprintln!(
            "{path} -> {status} {}",
            String::from_utf8_lossy(&answer.1[..answer.1.len().min(160)])
        );
    }
    assert!(
        !matches!(
            *status,
            StatusCode::INTERNAL_SERVER_ERROR
                | StatusCode::NOT_IMPLEMENTED
                | StatusCode::BAD_GATEWAY
        ),
        "{path}: {status}"
    );
    Some(answer)
}

/// Now, or up to ±327 s off (the proxy allows 30 s).
fn skewed_now(skew: Option<i16>) -> u64 {
    wire::now_ms().saturating_add_signed(i64::from(skew.unwrap_or(0)) * 10)
}

fn canonical<T: serde::Serialize + serde::de::DeserializeOwned>(path: &str, body: &[u8]) -> T {
    wire::decode_exact::<T>(body)
        .unwrap_or_else(|e| panic!("{path}: a 200 answer is not canonical postcard: {e}"))
}

fn run(req: &Req) {
    if std::env::var_os("WTD_FUZZ_VERBOSE").is_some() {
        eprintln!("{req:?}");
    }
    match req {
        Req::Any { method, path, body } => {
            let method = match method % 4 {
                0 => Method::GET,
                1 => Method::POST,
                2 => Method::PUT,
                _ => Method::DELETE,
            };
            let path = format!("/{}", path.trim_start_matches('/'));
            let _ = send(method, &path, body.clone());
        }
        Req::Raw { route, node, body } => {
            let node = node.name();
            let (method, path) = match route % 6 {
                r @ 0..=3 => (Method::POST, route_path(ROUTES[usize::from(r)], &node)),
                4 => (Method::PUT, format!("/nodes/{}", segment(&node))),
                _ => (
                    Method::PUT,
                    format!("/apply/{}/demo/demo%3A%3Amath/add", segment(&node)),
                ),
            };
            if let Some((status, _)) = send(method, &path, body.clone())
                && route % 6 < 5
            {
                assert_ne!(
                    status,
                    StatusCode::OK,
                    "{path}: an unsigned body was accepted"
                );
            }
        }
        Req::Register {
            url,
            name,
            email,
            key_of,
            signer,
            skew_ms,
        } => {
            let url = url.as_ref().unwrap_or(name);
            let signer = signer.as_ref().unwrap_or(name);
            let key = key_of
                .as_ref()
                .unwrap_or(name)
                .key()
                .verifying_key()
                .to_bytes();
            let message = Register {
                name: name.name(),
                email: email.clone(),
                node_key: key,
                issued_at_ms: skewed_now(*skew_ms),
            };
            let body = Signed::sign(domain::REGISTER, &message, &signer.key()).to_bytes();
            let path = format!("/nodes/{}", segment(&url.name()));
            let Some((status, answer)) = send(Method::PUT, &path, body) else {
                return;
            };
            if status == StatusCode::OK {
                canonical::<()>(&path, &answer);
                assert_eq!(
                    url.name(),
                    message.name,
                    "{path}: registered under another name"
                );
                assert_eq!(
                    signer.key().verifying_key().to_bytes(),
                    key,
                    "{path}: a registration not signed by its own key was accepted"
                );
                let mut registered = proxy().registered.lock().unwrap_or_else(|p| p.into_inner());
                let holder = *registered.entry(message.name.clone()).or_insert(key);
                assert_eq!(holder, key, "{path}: a taken name was given to another key");
            }
        }
        Req::Hop {
            node,
            body,
            url_route,
            url_node,
            signer,
            counter,
            skew_ms,
        } => {
            let signed_route = body.route();
            let url_route = url_route.map_or(signed_route, |r| ROUTES[usize::from(r % 4)]);
            let url_node = url_node.as_ref().unwrap_or(node);
            let signer = signer.as_ref().unwrap_or(node);
            let hop = Hop {
                node: node.name(),
                route: signed_route,
                counter: counter.unwrap_or_else(|| COUNTER.fetch_add(1, Ordering::Relaxed)),
                issued_at_ms: skewed_now(*skew_ms),
                body: body.bytes(),
            };
            let signer_key = signer.key().verifying_key().to_bytes();
            let request = Signed::sign(domain::HOP, &hop, &signer.key()).to_bytes();
            let path = route_path(url_route, &url_node.name());
            let Some((status, answer)) = send(Method::POST, &path, request) else {
                return;
            };
            if status != StatusCode::OK {
                return;
            }
            let holder = proxy()
                .registered
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&hop.node)
                .copied();
            assert_eq!(
                holder,
                Some(signer_key),
                "{path}: a request in the name of {:?} signed by another key was accepted",
                hop.node
            );
            assert_eq!(signed_route, url_route, "{path}: signed for another route");
            if matches!(url_route, Route::Tx | Route::Rx) {
                assert_eq!(url_node.name(), hop.node, "{path}: signed for another node");
            }
            match url_route {
                Route::Ping => {
                    canonical::<PingReply>(&path, &answer);
                }
                Route::Bye => canonical::<()>(&path, &answer),
                Route::Tx => {
                    let reply: TxReply = canonical(&path, &answer);
                    let sent = wire::decode_exact::<TxBatch>(&hop.body)
                        .map(|b| b.envelopes.len())
                        .unwrap_or_else(|e| panic!("{path}: a bad batch was accepted: {e}"));
                    assert_eq!(
                        reply.statuses.len(),
                        sent,
                        "{path}: one status per envelope"
                    );
                }
                Route::Rx => {
                    let batch: RxBatch = canonical(&path, &answer);
                    assert!(batch.messages.len() <= wire::MAX_BATCH_LEN);
                    assert!(batch.messages.windows(2).all(|w| w[0].seq < w[1].seq));
                    EPOCH.store(batch.epoch, Ordering::Relaxed);
                }
            }
        }
        Req::Apply {
            url,
            fields,
            signer,
        } => {
            let key = signer.key();
            let call = fields.call(&key);
            let signed = Signed::sign(domain::CALL, &call, &key);
            // Another envelope version, when the fuzzer asks for one.
            let body = match fields.version {
                Some(version) => Signed { version, ..signed }.to_bytes(),
                None => signed.to_bytes(),
            };
            let (node, mission, module, function) = match url {
                Some((node, mission, module, function)) => (
                    node.name(),
                    mission.clone(),
                    module.clone(),
                    function.clone(),
                ),
                None => match &call.target {
                    wire::Target::Function {
                        mission,
                        module,
                        function,
                    } => (
                        call.callee.clone(),
                        mission.clone(),
                        module.clone(),
                        function.clone(),
                    ),
                    // `fields.call` makes calls to functions only; any other target gets
                    // a URL that cannot match it.
                    _ => (
                        call.callee.clone(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ),
                },
            };
            let path = format!(
                "/apply/{}/{}/{}/{}",
                segment(&node),
                segment(&mission),
                segment(&module),
                segment(&function)
            );
            if let Some((status, _)) = send(Method::PUT, &path, body) {
                // Nobody answers calls here, so a call can never come back with a result.
                assert_ne!(
                    status,
                    StatusCode::OK,
                    "{path}: an /apply call was answered"
                );
            }
        }
    }
}

/// Seeds: `arbitrary` has no encoder, so draw pseudo-random inputs and keep those that
/// hold well-formed signed hops of each kind (what a fuzzer finds only slowly on its own).
fn write_seeds() {
    let Some(dir) = std::env::var_os("WTD_FUZZ_SEED_DIR").map(std::path::PathBuf::from) else {
        return;
    };
    let _ = std::fs::create_dir_all(&dir);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut kept: HashMap<&'static str, usize> = HashMap::new();
    for _ in 0..200_000 {
        let len = 32 + (next() % 480) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let Ok(input) = Input::arbitrary_take_rest(arbitrary::Unstructured::new(&bytes)) else {
            continue;
        };
        let kind = input.requests.iter().find_map(|r| match r {
            Req::Hop {
                body,
                url_route: None,
                url_node: None,
                signer: None,
                skew_ms: None | Some(-3000..=3000),
                node: Who::Alice | Who::Bob,
                ..
            } => match body {
                HopBody::Ping { .. } => Some("ping"),
                HopBody::Tx(_) => Some("tx"),
                HopBody::Rx { .. } => Some("rx"),
                HopBody::Bye => Some("bye"),
                HopBody::Raw { .. } => None,
            },
            Req::Apply { url: None, .. } => Some("apply"),
            Req::Register {
                url: None,
                signer: None,
                key_of: None,
                ..
            } => Some("register"),
            _ => None,
        });
        let Some(kind) = kind else { continue };
        let count = kept.entry(kind).or_default();
        if *count < 8 {
            let _ = std::fs::write(dir.join(format!("seed-{kind}-{count}")), &bytes);
            *count += 1;
        }
    }
}

fuzz_target!(init: write_seeds(), |input: Input| {
    for req in input.requests.iter().take(6) {
        run(req);
    }
});
