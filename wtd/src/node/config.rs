//! How to start a node: [`NodeConfig`], and which missions it serves.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::registry;
use crate::wire::Offer;

/// How to start a node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The node's name on the proxy (`alice-pi`).
    pub(crate) name: String,
    /// The proxies' base URLs, without a trailing slash: the primary first, then the
    /// fallbacks in the order they are tried when the one in use stops answering.
    pub(crate) proxies: Vec<String>,
    /// The folder holding the node key, grants, keys and audit log.
    pub(crate) home: PathBuf,
    /// The owner's contact address, given to the proxy at registration.
    pub(crate) email: String,
    /// The missions to serve; `None` serves every mission exported in the program.
    pub(crate) missions: Option<Vec<String>>,
    /// Default timeout of calls made through this node's peers.
    pub(crate) call_timeout: Duration,
}

impl NodeConfig {
    /// A node called `name`, talking to the proxy at `proxy` (e.g.
    /// `http://127.0.0.1:14151`), keeping its key and grants in `home`.
    pub fn new(name: &str, proxy: &str, home: impl Into<PathBuf>) -> NodeConfig {
        NodeConfig {
            name: name.to_string(),
            proxies: vec![proxy.trim_end_matches('/').to_string()],
            home: home.into(),
            email: String::new(),
            missions: None,
            call_timeout: Duration::from_secs(5),
        }
    }

    /// The node a home was registered as (`wtd register`, or an earlier start): its
    /// name, proxies and email from `node.toml` in `home`.
    pub fn registered(home: impl Into<PathBuf>) -> Result<NodeConfig> {
        let home = home.into();
        let record = super::record::NodeRecord::read(&home)?;
        let mut config = NodeConfig::new(&record.name, &record.proxy, home).email(&record.email);
        for fallback in &record.fallback_proxies {
            config = config.fallback_proxy(fallback);
        }
        Ok(config)
    }

    /// Adds a proxy to move to when the one in use stops answering (no answer, or a 5xx
    /// status, for a few seconds; see [`crate::proxies`]). Fallbacks are tried in the
    /// order they are added, after the proxy given to [`NodeConfig::new`], which stays
    /// the primary: the node starts on it, and grants name it first.
    ///
    /// The proxies are either one cluster (sharing one store, such as Redis), where the
    /// node carries on as it was, or independent proxies, where the node registers on the
    /// new one by itself; only the nodes on the same proxy (or cluster) can call it.
    pub fn fallback_proxy(mut self, proxy: &str) -> Self {
        self.proxies.push(proxy.trim_end_matches('/').to_string());
        self
    }

    /// The proxies' URLs: the primary first, then the fallbacks.
    pub fn proxies(&self) -> &[String] {
        &self.proxies
    }

    /// The owner's contact address, recorded by the proxy at registration.
    pub fn email(mut self, email: &str) -> Self {
        self.email = email.to_string();
        self
    }

    /// Serve only these missions (default: every mission exported in this program).
    pub fn serve(mut self, missions: &[&str]) -> Self {
        self.missions = Some(missions.iter().map(|m| m.to_string()).collect());
        self
    }

    /// Serve no mission: a node that only calls others.
    pub fn serve_nothing(self) -> Self {
        self.serve(&[])
    }

    /// Default timeout of calls made through this node's peers (5 s unless set).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Checks what can be checked before touching the disk or the network.
    pub(crate) fn check(&self) -> Result<()> {
        crate::wire::check_name("node", &self.name)?;
        crate::proxies::check_urls(&self.proxies)
    }

    /// The missions this node will serve, with their functions: every exported one, or
    /// those named with [`NodeConfig::serve`] (each must exist in the program).
    pub(crate) fn offers(&self) -> Result<Vec<Offer>> {
        let all = registry::offers();
        let offers = self.chosen(all)?;
        for offer in &offers {
            if let Some((path, modules)) = crate::gen_server::exposed_twice(&offer.mission).first()
            {
                return Err(Error::Invalid(format!(
                    "behaviour `{path}` is exposed twice, by `impl`s in `{}`: a call could reach either, so this \
                     node does not start; give one a `name = \"...\"` in its #[wtd_behaviour], or put one in another mission",
                    modules.join("` and `")
                )));
            }
            if let Some((path, modules)) = registry::exported_twice(&offer.mission).first() {
                return Err(Error::Invalid(format!(
                    "`{path}` is exported twice, by `{}`: a call could reach either, so this node \
                     does not start; rename one of the functions or modules, or put one in \
                     another mission",
                    modules.join("` and `")
                )));
            }
        }
        Ok(offers)
    }

    fn chosen(&self, all: Vec<Offer>) -> Result<Vec<Offer>> {
        let Some(wanted) = &self.missions else {
            return Ok(all);
        };
        let mut offers = Vec::new();
        for mission in wanted {
            match all.iter().find(|o| &o.mission == mission) {
                Some(offer) => offers.push(offer.clone()),
                None => {
                    return Err(Error::Invalid(format!(
                        "mission `{mission}` has no exported function or behaviour in this program: check the name in #[wtd_export({mission})] or #[wtd_behaviour({mission})], \
                         and if the functions live in another crate, keep it linked with `use that_crate as _;`"
                    )));
                }
            }
        }
        Ok(offers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_proxies_follow_the_primary_and_a_bad_one_stops_the_start() {
        let config = NodeConfig::new("alice", "http://a:1/", "/tmp/unused")
            .fallback_proxy("http://b:2/")
            .fallback_proxy("http://c:3");
        assert_eq!(config.proxies(), ["http://a:1", "http://b:2", "http://c:3"]);
        assert!(config.check().is_ok());

        let bad = NodeConfig::new("alice", "http://a:1", "/tmp/unused").fallback_proxy("b:2");
        let err = bad.check().expect_err("refused").to_string();
        assert!(
            err.contains("\"b:2\" must start with http://"),
            "the sentence names the URL: {err}"
        );
        let twice =
            NodeConfig::new("alice", "http://a:1", "/tmp/unused").fallback_proxy("http://a:1/");
        let err = twice.check().expect_err("refused").to_string();
        assert!(err.contains("given twice"), "{err}");
    }
}
