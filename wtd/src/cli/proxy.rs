//! The `wtd` command's client of the proxy: the directory, registration, and calls through
//! `/apply`.
//!
//! The command is not a node: it holds no connection, signs no hops, and makes one request
//! per run. What it needs is each refusal as a type, so that a command can turn "the node
//! is not connected" (503 to `/apply`) into [`Error::NodeDown`](crate::Error::NodeDown)
//! naming the node, and a full proxy (429) into exit code 4. The HTTP status is read
//! here, once.

use std::path::Path;
use std::time::Duration;

use ed25519_dalek::SigningKey;

use super::call::FunctionPath;
use super::error::{self, CliError};
use super::output::inert_text;
use crate::node::record::NodeRecord;
use crate::transport::{self, Transport, TransportError};
use crate::wire::{JsonDirectory, Signed};

/// The most one page of the directory may weigh: far more than [`PAGE`] nodes with their
/// missions.
const DIRECTORY_LIMIT: u64 = 16 * 1024 * 1024;

/// Nodes asked for per page of the directory (the proxy's most).
const PAGE: usize = 1000;

/// Most pages read for the whole directory: 40,000 nodes, within the burst of directory
/// reads one address may make.
const MAX_PAGES: usize = 40;

/// How long the directory and a registration may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a look at the directory may take when it only adds to what a command prints
/// (a warning, whether a key is accepted): not worth a long wait.
const GLANCE_TIMEOUT: Duration = Duration::from_secs(3);

/// How a request of the `wtd` command to the proxy failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// Occurs when nothing answers at the URL: the proxy is not running, the address is
    /// wrong, or the network is down.
    #[error(
        "cannot reach the proxy at {url}: {detail}; check that it is running and the URL is right"
    )]
    Unreachable {
        /// The proxy URL.
        url: String,
        /// What the connection said.
        detail: String,
    },

    /// Occurs when `wtd register` asks for a name another node key already holds.
    #[error(
        "the proxy refused the request (409): the name `{name}` is already registered on this proxy by another node key: pick another --name"
    )]
    NameTaken {
        /// The name asked for.
        name: String,
    },

    /// Occurs when the proxy has too much in flight, or this machine sent too much (429).
    #[error("the proxy refused the request (429): {message}")]
    TooMany {
        /// The proxy's explanation.
        message: String,
    },

    /// Occurs when the proxy cannot serve the request now (503): the node called is not
    /// connected, or the proxy is shutting down.
    #[error("the proxy refused the request (503): {message}")]
    Unavailable {
        /// The proxy's explanation.
        message: String,
    },

    /// Occurs when the proxy waited the call's whole lifetime for a reply (504). The call
    /// may or may not have run.
    #[error("the proxy refused the request (504): {message}")]
    NoReply {
        /// The proxy's explanation.
        message: String,
    },

    /// Occurs when the proxy refused an `/apply` call because the node called does not
    /// announce its key (or the signature does not verify): nothing reached the node (403
    /// `NotAccepted`). `wtd call` turns it into the library's `NotAccepted`, naming the node.
    #[error("the proxy refused the request (403): {message}")]
    NotAccepted {
        /// The proxy's explanation.
        message: String,
    },

    /// Occurs on any other refusal, with the status and the proxy's explanation.
    #[error("the proxy refused the request ({status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The proxy's explanation.
        message: String,
    },

    /// Occurs when the proxy says yes with a body that is not what the route promises:
    /// not a WTD proxy, or one of another version.
    #[error(
        "the proxy at {url} answered with {what} that cannot be read ({detail}): check that the URL is a WTD proxy of the same version as this `wtd`"
    )]
    Unreadable {
        /// The proxy URL.
        url: String,
        /// What was expected ("a directory", "a reply").
        what: &'static str,
        /// What the decoder said.
        detail: String,
    },
}

impl ProxyError {
    /// The variant's name, a stable word for scripts (`--json` prints it as `error`).
    pub fn kind(&self) -> &'static str {
        match self {
            ProxyError::Unreachable { .. } => "ProxyUnreachable",
            ProxyError::NameTaken { .. } => "NameTaken",
            ProxyError::TooMany { .. } => "TooMany",
            ProxyError::Unavailable { .. } => "Unavailable",
            ProxyError::NoReply { .. } => "NoReply",
            ProxyError::NotAccepted { .. } => "NotAccepted",
            ProxyError::Refused { .. } => "ProxyRefused",
            ProxyError::Unreadable { .. } => "Unreadable",
        }
    }

    /// The exit code of this failure's class (see [`error::EXIT_CODES`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            ProxyError::TooMany { .. } => error::BUSY,
            ProxyError::Unavailable { .. } => error::NODE_DOWN,
            ProxyError::NoReply { .. } => error::TIMEOUT,
            ProxyError::NotAccepted { .. } => error::DENIED,
            ProxyError::Unreachable { .. }
            | ProxyError::NameTaken { .. }
            | ProxyError::Refused { .. }
            | ProxyError::Unreadable { .. } => error::OTHER,
        }
    }
}

/// A proxy, by the URL the user gave or a file recorded.
#[derive(Debug, Clone)]
pub(super) struct Proxy {
    /// As given: `wtd register` records it without a trailing `/`, key files keep it as
    /// their issuer wrote it.
    url: String,
}

impl Proxy {
    /// The proxy at `url`, typed on the command line.
    pub(super) fn given(url: &str) -> Result<Proxy, CliError> {
        if url.starts_with("http://") || url.starts_with("https://") {
            Ok(Proxy {
                url: url.to_string(),
            })
        } else {
            Err(CliError::Usage(format!(
                "the proxy URL {url:?} must start with http:// (for example http://127.0.0.1:14151)"
            )))
        }
    }

    /// The proxy at `url`, read from a key file. Not checked: a bad one fails as
    /// unreachable, naming the URL.
    pub(super) fn recorded(url: String) -> Proxy {
        Proxy { url }
    }

    /// `--proxy` if given, or else the proxy `wtd register` recorded in `home`.
    pub(super) fn given_or_registered(home: &Path, given: Option<&str>) -> Result<Proxy, CliError> {
        match given {
            Some(url) => Proxy::given(url),
            None => Ok(Proxy::recorded(NodeRecord::read(home)?.proxy)),
        }
    }

    /// The URL, as given.
    pub(super) fn url(&self) -> &str {
        &self.url
    }

    fn base(&self) -> &str {
        self.url.trim_end_matches('/')
    }

    /// `GET /api/directory`: who is online and what they offer.
    pub(super) fn directory(&self) -> Result<JsonDirectory, ProxyError> {
        self.directory_within(REQUEST_TIMEOUT)
    }

    /// The directory, if it comes quickly: for what only adds to a command's output.
    pub(super) fn glance(&self) -> Option<JsonDirectory> {
        self.directory_within(GLANCE_TIMEOUT).ok()
    }

    /// The whole directory, page after page (at most [`MAX_PAGES`] of them).
    fn directory_within(&self, timeout: Duration) -> Result<JsonDirectory, ProxyError> {
        let mut whole = self.page_within(timeout, None)?;
        for _ in 1..MAX_PAGES {
            let Some(after) = whole.next.take() else {
                break;
            };
            let page = self.page_within(timeout, Some(&after))?;
            whole.nodes.extend(page.nodes);
            whole.next = page.next;
        }
        Ok(whole)
    }

    /// One page of the directory: the nodes after `after`.
    fn page_within(
        &self,
        timeout: Duration,
        after: Option<&str>,
    ) -> Result<JsonDirectory, ProxyError> {
        // Names are `[a-z0-9_-]`: safe in a URL as they are.
        let url = match after {
            Some(after) => format!("{}/api/directory?limit={PAGE}&after={after}", self.base()),
            None => format!("{}/api/directory?limit={PAGE}", self.base()),
        };
        let mut response = transport::agent()
            .get(&url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .call()
            .map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        let code = transport::error_code(response.headers());
        let text = response
            .body_mut()
            .with_config()
            .limit(DIRECTORY_LIMIT)
            .read_to_string()
            .map_err(|e| self.unreachable(e))?;
        if !(200..300).contains(&status) {
            return Err(self.refusal(TransportError::Refused {
                status,
                code,
                message: text,
            }));
        }
        serde_json::from_str(&text).map_err(|e| ProxyError::Unreadable {
            url: self.url.clone(),
            what: "a directory",
            detail: e.to_string(),
        })
    }

    /// `PUT /nodes/{name}`: registers `name` for the node key `key`. `Ok(true)`: the
    /// proxy holds the name for this key but its operator has not approved it yet.
    pub(super) fn register(
        &self,
        name: &str,
        email: &str,
        key: SigningKey,
    ) -> Result<bool, ProxyError> {
        let transport = Transport::new(&self.url, name, key);
        match transport.register(email) {
            Ok(()) => Ok(false),
            Err(TransportError::Refused { code, .. }) if code == "AwaitingApproval" => Ok(true),
            Err(TransportError::Refused { code, .. }) if code == "NameTaken" => {
                Err(ProxyError::NameTaken {
                    name: name.to_string(),
                })
            }
            Err(other) => Err(self.refusal(other)),
        }
    }

    /// `PUT /apply/{node}/{path}`: sends one signed call and waits up to `wait` for its
    /// signed reply.
    pub(super) fn apply(
        &self,
        node: &str,
        path: &FunctionPath,
        call: &Signed,
        wait: Duration,
    ) -> Result<Signed, ProxyError> {
        let url = format!("{}/apply/{node}/{path}", self.base());
        let answer = transport::send(
            &transport::agent(),
            "PUT",
            &url,
            call.to_bytes(),
            Some(wait),
        )
        .map_err(|e| self.refusal(e))?;
        Signed::from_bytes(&answer).map_err(|e| ProxyError::Unreadable {
            url: self.url.clone(),
            what: "a reply",
            detail: e.to_string(),
        })
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> ProxyError {
        ProxyError::Unreachable {
            url: self.url.clone(),
            detail: e.to_string(),
        }
    }

    /// The one place a refusal becomes a type: by the code the proxy names it with (its
    /// `wtd-error` header), not by the HTTP status, which several refusals share.
    /// What the proxy said is its own text: it is shown inert, on one line, and cut short.
    fn refusal(&self, e: TransportError) -> ProxyError {
        match e {
            TransportError::NotSent(detail) | TransportError::Unreachable(detail) => {
                self.unreachable(detail)
            }
            TransportError::Refused {
                status,
                code,
                message,
            } => {
                let message = said(&message);
                match code.as_str() {
                    "TooMany" => ProxyError::TooMany { message },
                    "NodeDown" => ProxyError::Unavailable { message },
                    "Timeout" => ProxyError::NoReply { message },
                    crate::wire::NOT_ACCEPTED => ProxyError::NotAccepted { message },
                    _ => ProxyError::Refused { status, message },
                }
            }
            // The proxy names this refusal (in its `wtd-error` header) only for hops, and
            // `wtd` sends none; if a route ever answers so, say what the proxy said.
            TransportError::NotRegistered => ProxyError::Refused {
                status: 404,
                message: "not registered with this proxy".into(),
            },
            TransportError::BadAnswer(detail) => ProxyError::Unreadable {
                url: self.url.clone(),
                what: "an answer",
                detail: said(&detail),
            },
        }
    }
}

/// The most of a proxy's explanation a message quotes.
const SAID_LIMIT: usize = 300;

/// Text the proxy wrote, as a message quotes it: inert, on one line, at most
/// [`SAID_LIMIT`] characters.
fn said(text: &str) -> String {
    let text = text.trim();
    let mut shown: String = text.chars().take(SAID_LIMIT).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    inert_text(&shown)
}
