//! The proxies a node may use, which one it talks to now, and when it moves to the next.
//!
//! A node is given one proxy, or several ([`NodeConfig::fallback_proxy`]): the first is
//! its *primary*, the others are tried in order when the one it talks to stops answering.
//! "Not answering" means no HTTP answer at all (connection refused or reset, a timeout, a
//! request the watchdog interrupted) or a 5xx status (the proxy's store is down, it is
//! shutting down, or a reverse proxy in front of it has no proxy behind it). Any other
//! answer, a refusal included, means the proxy is there.
//!
//! One bad answer is not enough: a proxy that restarts, or a Wi-Fi blip, must not send
//! every node elsewhere. The node moves once the proxy it talks to has failed
//! [`MOVE_AFTER_FAILURES`] times in a row over at least its *patience* (3 s at first),
//! and says so in a log line anybody can read:
//! `proxy http://a:14151 is not answering (connection refused); moving to proxy http://b:14151`.
//! After a whole round of the list without an answer, the patience doubles, up to
//! [`MOST_PATIENCE`], so a node whose proxies are all down does not hop around in a loop.
//! The first answer puts it back to 3 s. A node stays on the proxy it moved to until that
//! one fails in turn (then it moves on, round the list); it does not go back to its
//! primary by itself.
//!
//! What the node does after a move (ping at once, register if the new proxy does not know
//! it) is the node's business: it sees [`ProxyList::moves`] change (see `node/presence.rs`).
//!
//! [`NodeConfig::fallback_proxy`]: crate::NodeConfig::fallback_proxy

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::transport::TransportError;

/// How many failures in a row a proxy may have before the node moves to the next one.
pub const MOVE_AFTER_FAILURES: u32 = 3;
/// How long a proxy may fail before the node moves, at first.
pub const FIRST_PATIENCE: Duration = Duration::from_secs(3);
/// The most patience, reached after whole rounds of the list with no answer.
pub const MOST_PATIENCE: Duration = Duration::from_secs(30);

/// The proxies of one node, primary first, and the one it talks to now.
#[derive(Debug)]
pub struct ProxyList {
    /// The node's name, for the log lines.
    node: String,
    /// Base URLs without a trailing `/`; never empty.
    urls: Vec<String>,
    /// Which one is used now, and how it is doing.
    state: Mutex<State>,
    /// How many times the node moved; a copy of `State::moves` readable without the lock,
    /// and the *ticket* a request carries so that a late answer from a proxy the node has
    /// left is not taken for news about the one it uses now.
    moves: AtomicU64,
}

#[derive(Debug)]
struct State {
    /// Index into `urls`.
    current: usize,
    /// Failures of the current proxy in a row, and when the first of them was.
    failing: Option<(u32, Instant)>,
    /// How long the current proxy may fail before the node moves on.
    patience: Duration,
    /// Moves since a proxy last answered: a whole round of the list doubles the patience.
    moves_unanswered: usize,
    /// Moves since the node started.
    moves: u64,
    /// When the node last moved.
    moved_at: Option<Instant>,
}

/// Where a request went: the proxy's URL and the move it was made after.
#[derive(Debug, Clone)]
pub struct Ticket {
    /// The proxy's base URL.
    pub url: String,
    /// [`ProxyList::moves`] when the request was made.
    moves: u64,
}

impl ProxyList {
    /// Node `node`'s list `urls` (trailing `/` removed), starting with the first. `urls`
    /// must not be empty; a node's configuration checks that.
    pub fn new(node: &str, urls: &[String]) -> ProxyList {
        let urls: Vec<String> = urls
            .iter()
            .map(|u| u.trim_end_matches('/').to_string())
            .collect();
        assert!(!urls.is_empty(), "a node has at least one proxy");
        ProxyList {
            node: node.to_string(),
            urls,
            state: Mutex::new(State {
                current: 0,
                failing: None,
                patience: FIRST_PATIENCE,
                moves_unanswered: 0,
                moves: 0,
                moved_at: None,
            }),
            moves: AtomicU64::new(0),
        }
    }

    /// Every proxy, primary first.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// The proxy in use now.
    pub fn current(&self) -> String {
        self.ticket().url
    }

    /// The proxy in use now, as a ticket for one request.
    pub fn ticket(&self) -> Ticket {
        let state = crate::node::lock(&self.state);
        Ticket {
            url: self.urls[state.current].clone(),
            moves: state.moves,
        }
    }

    /// How many times the node moved to another proxy since it started.
    pub fn moves(&self) -> u64 {
        self.moves.load(Ordering::SeqCst)
    }

    /// How long ago the node last moved to another proxy, if it ever did.
    pub fn since_moved(&self) -> Option<Duration> {
        crate::node::lock(&self.state)
            .moved_at
            .map(|at| at.elapsed())
    }

    /// What a request made with `ticket` ended with: an answer, or a sign that the proxy is
    /// not answering (which may move the node to the next proxy).
    pub fn outcome<T>(&self, ticket: &Ticket, result: &Result<T, TransportError>) {
        match result {
            Err(e) if is_not_answering(e) => {
                self.not_answering(ticket, &detail(e), false);
            }
            _ => self.answered(ticket),
        }
    }

    /// The proxy of `ticket` answered.
    fn answered(&self, ticket: &Ticket) {
        let mut state = crate::node::lock(&self.state);
        if state.moves != ticket.moves {
            return;
        }
        state.failing = None;
        state.patience = FIRST_PATIENCE;
        if state.moves_unanswered > 0 {
            state.moves_unanswered = 0;
            tracing::info!(node = %self.node, "proxy {} answers: this node now talks to it", ticket.url);
        }
    }

    /// The proxy of `ticket` did not answer (`detail` says how). With `at_once`, the node
    /// moves on now, without waiting for its patience (a node starting up cannot wait).
    /// `true` if it moved.
    pub fn not_answering(&self, ticket: &Ticket, detail: &str, at_once: bool) -> bool {
        if self.urls.len() < 2 {
            return false;
        }
        let mut state = crate::node::lock(&self.state);
        if state.moves != ticket.moves {
            // A late answer about a proxy the node has left already.
            return false;
        }
        let now = Instant::now();
        let (failures, since) = state.failing.unwrap_or((0, now));
        let failures = failures + 1;
        state.failing = Some((failures, since));
        let patient = failures < MOVE_AFTER_FAILURES || now.duration_since(since) < state.patience;
        if patient && !at_once {
            return false;
        }
        state.current = (state.current + 1) % self.urls.len();
        state.failing = None;
        state.moves += 1;
        state.moved_at = Some(now);
        state.moves_unanswered += 1;
        self.moves.store(state.moves, Ordering::SeqCst);
        let next = &self.urls[state.current];
        tracing::warn!(
            node = %self.node,
            "proxy {} is not answering ({detail}); moving to proxy {next}",
            ticket.url
        );
        if state.moves_unanswered.is_multiple_of(self.urls.len()) {
            state.patience = (state.patience * 2).min(MOST_PATIENCE);
            tracing::warn!(
                node = %self.node,
                "none of this node's {} proxies answers; trying them again in turn, giving each {} s",
                self.urls.len(),
                state.patience.as_secs()
            );
        }
        true
    }
}

/// Checks a node's list of proxy URLs: at least one, each an http(s) URL with a host, and
/// none given twice.
pub fn check_urls(urls: &[String]) -> Result<()> {
    if urls.is_empty() {
        return Err(Error::Invalid(
            "a node needs a proxy URL (for example http://127.0.0.1:14151)".into(),
        ));
    }
    for (i, url) in urls.iter().enumerate() {
        check_url(url)?;
        let url = url.trim_end_matches('/');
        if urls[..i].iter().any(|u| u.trim_end_matches('/') == url) {
            return Err(Error::Invalid(format!(
                "the proxy URL {url:?} is given twice: give each proxy once"
            )));
        }
    }
    Ok(())
}

/// Checks one proxy URL: `http://` or `https://`, then a host, and no spaces or control
/// characters.
pub fn check_url(url: &str) -> Result<()> {
    let host = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let bad = match host {
        None => Some("must start with http:// or https://"),
        Some(rest) if rest.trim_end_matches('/').is_empty() || rest.starts_with('/') => {
            Some("has no host after http://")
        }
        Some(_) if url.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Some("must not hold spaces or control characters")
        }
        Some(_) => None,
    };
    match bad {
        Some(why) => Err(Error::Invalid(format!(
            "the proxy URL {url:?} {why} (for example http://127.0.0.1:14151)"
        ))),
        None => Ok(()),
    }
}

/// Whether `e` means the proxy is not there to answer (rather than that it refused).
pub fn is_not_answering(e: &TransportError) -> bool {
    match e {
        TransportError::NotSent(_) | TransportError::Unreachable(_) => true,
        TransportError::Refused { status, .. } => *status >= 500,
        TransportError::NotRegistered | TransportError::BadAnswer(_) => false,
    }
}

/// A few words on how a proxy failed to answer, for the log line.
pub(crate) fn detail(e: &TransportError) -> String {
    match e {
        TransportError::NotSent(detail) | TransportError::Unreachable(detail) => {
            detail.chars().take(120).collect()
        }
        TransportError::Refused {
            status, message, ..
        } => format!(
            "{status}: {}",
            message.chars().take(120).collect::<String>()
        ),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(n: usize) -> ProxyList {
        let urls: Vec<String> = (1..=n).map(|i| format!("http://p{i}:1/")).collect();
        ProxyList::new("alice", &urls)
    }

    fn refused() -> Result<(), TransportError> {
        Err(TransportError::NotSent("connection refused".into()))
    }

    #[test]
    fn proxy_urls_are_checked_with_a_sentence_that_says_what_is_wrong() {
        let urls = |list: &[&str]| list.iter().map(|u| u.to_string()).collect::<Vec<_>>();
        assert!(check_urls(&urls(&["http://a:1", "https://b:2/"])).is_ok());
        for (bad, says) in [
            (urls(&[]), "needs a proxy URL"),
            (
                urls(&["http://a:1", "a:2"]),
                "\"a:2\" must start with http://",
            ),
            (urls(&["http://"]), "has no host"),
            (urls(&["http://a b:1"]), "spaces"),
            (urls(&["http://a:1", "http://a:1/"]), "given twice"),
        ] {
            let err = check_urls(&bad).expect_err("refused").to_string();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }

    #[test]
    fn one_proxy_is_never_left() {
        let proxies = list(1);
        let ticket = proxies.ticket();
        assert!(!proxies.not_answering(&ticket, "refused", true));
        assert_eq!(proxies.current(), "http://p1:1");
        assert_eq!(proxies.moves(), 0);
    }

    #[test]
    fn a_proxy_that_fails_a_few_times_in_a_row_is_left_for_the_next() {
        let proxies = list(2);
        let ticket = proxies.ticket();
        for _ in 0..10 {
            proxies.outcome(&ticket, &refused());
        }
        assert_eq!(
            proxies.current(),
            "http://p1:1",
            "within its patience a proxy is not left, however many failures"
        );
        crate::node::lock(&proxies.state).failing =
            Some((MOVE_AFTER_FAILURES, Instant::now() - FIRST_PATIENCE));
        proxies.outcome(&ticket, &refused());
        assert_eq!(proxies.current(), "http://p2:1");
        assert_eq!(proxies.moves(), 1);

        // A late failure of a request made to p1 says nothing about p2.
        assert!(!proxies.not_answering(&ticket, "reset", true));
        assert_eq!(proxies.current(), "http://p2:1");
    }

    #[test]
    fn an_answer_or_a_refusal_keeps_the_proxy() {
        let proxies = list(2);
        let ticket = proxies.ticket();
        proxies.outcome(&ticket, &refused());
        proxies.outcome::<()>(&ticket, &Err(TransportError::NotRegistered));
        assert!(crate::node::lock(&proxies.state).failing.is_none());
        let refusal = TransportError::Refused {
            status: 429,
            code: "TooMany".into(),
            message: "too many requests".into(),
        };
        assert!(!is_not_answering(&refusal));
        let store_down = TransportError::Refused {
            status: 503,
            code: "StoreUnavailable".into(),
            message: "the store does not answer".into(),
        };
        assert!(is_not_answering(&store_down));
    }

    #[test]
    fn a_round_with_no_answer_makes_the_node_more_patient() {
        let proxies = list(2);
        assert!(proxies.not_answering(&proxies.ticket(), "refused", true));
        assert_eq!(crate::node::lock(&proxies.state).patience, FIRST_PATIENCE);
        assert!(proxies.not_answering(&proxies.ticket(), "refused", true));
        assert_eq!(proxies.current(), "http://p1:1", "round the list");
        assert_eq!(
            crate::node::lock(&proxies.state).patience,
            FIRST_PATIENCE * 2
        );
        proxies.outcome(&proxies.ticket(), &Ok(()));
        assert_eq!(crate::node::lock(&proxies.state).patience, FIRST_PATIENCE);
    }
}
