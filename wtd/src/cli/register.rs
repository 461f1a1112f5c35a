//! `wtd register`: claims a node name on a proxy for this node's key, and remembers both
//! in `node.toml`.

use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::error::CliError;
use super::output::Output;
use super::proxy::Proxy;
use crate::keys;
use crate::node::record::NodeRecord;

/// `wtd register --proxy URL --name NAME [--email EMAIL]`.
#[derive(clap::Args, Debug)]
pub(super) struct RegisterArgs {
    /// The proxy, e.g. http://127.0.0.1:14151.
    #[arg(long)]
    proxy: String,
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
    /// The proxy, as recorded in `node.toml`.
    proxy: String,
    /// The proxy's operator has not approved the node yet.
    waiting_for_approval: bool,
}

impl fmt::Display for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Registered `{}` with {}.", self.name, self.proxy)?;
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
    let proxy = Proxy::given(&args.proxy)?;
    let key = keys::load_or_create_node_key(home)?;
    let waiting_for_approval = proxy.register(&args.name, &args.email, key)?;
    let config = NodeRecord {
        name: args.name.clone(),
        proxy: proxy.url().trim_end_matches('/').to_string(),
        email: args.email.clone(),
    };
    config.write(home)?;
    out.print(&Registration {
        name: config.name,
        proxy: config.proxy,
        waiting_for_approval,
    });
    Ok(())
}
