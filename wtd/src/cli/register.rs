//! `wtd register`: claims a node name on a proxy for this node's key, and remembers both
//! in `node.toml`.
//!
//! `--proxy` may be given several times: the first is the node's primary, the others its
//! fallbacks, in order (see [`crate::proxies`]). The name is registered with the first of
//! them that answers: proxies that share one store then all know it, and an independent
//! fallback is registered with by the node itself when it moves there.

use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::error::CliError;
use super::output::Output;
use super::proxy::{Proxy, ProxyError};
use crate::keys;
use crate::node::record::NodeRecord;

/// `wtd register --proxy URL [--proxy URL2 ...] --name NAME [--email EMAIL]`.
#[derive(clap::Args, Debug)]
pub(super) struct RegisterArgs {
    /// The proxy, e.g. http://127.0.0.1:14151. Give it again for fallbacks, tried in
    /// order when the one the node uses stops answering: --proxy http://a:14151 --proxy
    /// http://b:14151. The first is the primary.
    #[arg(long = "proxy", required = true, value_name = "URL")]
    proxies: Vec<String>,
    /// The node's name: 1-64 characters of a-z, 0-9, _ and -.
    #[arg(long)]
    name: String,
    /// Your contact address, shown to the proxy's operator only. A `wtd-proxy` asks
    /// for it; a proxy a program starts for itself does not.
    #[arg(long, default_value = "")]
    email: String,
}

/// What `wtd register` prints.
#[derive(Debug, Serialize)]
struct Registration {
    /// The name registered.
    name: String,
    /// The proxy the name was registered with: the primary, unless it did not answer.
    proxy: String,
    /// The proxies the node moves to when the one it uses stops answering, in order.
    fallback_proxies: Vec<String>,
    /// The proxies tried first, which did not answer.
    not_answering: Vec<String>,
    /// The proxy's operator has not approved the node yet.
    waiting_for_approval: bool,
}

impl fmt::Display for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Registered `{}` with {}.", self.name, self.proxy)?;
        if !self.not_answering.is_empty() {
            write!(
                f,
                " (Not answering, so not registered with: {}.)",
                self.not_answering.join(", ")
            )?;
        }
        if !self.fallback_proxies.is_empty() {
            write!(
                f,
                "\nFallback proxies, tried in order when the one the node uses stops answering: {}.",
                self.fallback_proxies.join(", ")
            )?;
        }
        if self.waiting_for_approval {
            write!(
                f,
                "\nWaiting for the operator of this proxy to approve `{}`: your node may start \
                 now, and waits until they do.",
                self.name
            )?;
        }
        Ok(())
    }
}

/// Registers, then records; a refused registration leaves `node.toml` as it was.
pub(super) fn run(out: &Output, home: &Path, args: &RegisterArgs) -> Result<(), CliError> {
    super::check_node_name(&args.name)?;
    let urls = proxy_urls(&args.proxies)?;
    let key = keys::load_or_create_node_key(home)?;
    let mut not_answering = Vec::new();
    let mut registered = None;
    for url in &urls {
        match Proxy::given(url)?.register(&args.name, &args.email, key.clone()) {
            Ok(waiting) => {
                registered = Some((url.clone(), waiting));
                break;
            }
            Err(e @ ProxyError::Unreachable { .. }) if not_answering.len() + 1 < urls.len() => {
                tracing::debug!("{e}");
                not_answering.push(url.clone());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let Some((proxy, waiting_for_approval)) = registered else {
        return Err(CliError::Usage("no proxy URL given".into()));
    };
    let config = NodeRecord {
        name: args.name.clone(),
        proxy: urls[0].clone(),
        fallback_proxies: urls[1..].to_vec(),
        email: args.email.clone(),
    };
    config.write(home)?;
    out.print(&Registration {
        name: config.name,
        proxy,
        fallback_proxies: config.fallback_proxies,
        not_answering,
        waiting_for_approval,
    });
    Ok(())
}

/// The `--proxy` URLs, without a trailing `/`, each checked, none twice.
fn proxy_urls(given: &[String]) -> Result<Vec<String>, CliError> {
    let urls: Vec<String> = given
        .iter()
        .map(|u| u.trim_end_matches('/').to_string())
        .collect();
    crate::proxies::check_urls(&urls).map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        args: RegisterArgs,
    }

    fn parse(line: &[&str]) -> Result<RegisterArgs, String> {
        let line = std::iter::once("wtd-register").chain(line.iter().copied());
        Command::try_parse_from(line)
            .map(|c| c.args)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn proxy_may_be_given_several_times_the_first_is_the_primary() {
        let args = parse(&[
            "--name",
            "alice",
            "--proxy",
            "http://a:14151/",
            "--proxy",
            "http://b:14151",
        ])
        .expect("parses");
        assert_eq!(
            proxy_urls(&args.proxies).expect("good URLs"),
            ["http://a:14151", "http://b:14151"]
        );
        let one = parse(&["--name", "alice", "--proxy", "http://a:14151"]).expect("parses");
        assert_eq!(one.proxies, ["http://a:14151"]);
        let none = parse(&["--name", "alice"]).expect_err("a proxy is needed");
        assert!(none.contains("--proxy <URL>"), "{none}");
    }

    #[test]
    fn a_bad_proxy_url_is_refused_with_what_is_wrong() {
        for (urls, says) in [
            (vec!["http://a:1", "b:2"], "\"b:2\" must start with http://"),
            (vec!["http://a:1", "http://a:1/"], "given twice"),
        ] {
            let urls: Vec<String> = urls.into_iter().map(String::from).collect();
            let err = proxy_urls(&urls).expect_err("refused");
            assert!(matches!(err, CliError::Usage(_)), "{err:?}");
            assert!(err.to_string().contains(says), "{err}");
        }
    }
}
