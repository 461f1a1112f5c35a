//! `wtd init`: a node home with its node key and an empty grants file.
//!
//! Running it again changes nothing and prints the same public key, which is how an owner
//! reads their node key to give to someone.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::error::CliError;
use super::output::Output;
use crate::{home, keys};

/// What `wtd init` prints.
#[derive(Debug, Serialize)]
struct NodeHome {
    /// The home folder.
    home: PathBuf,
    /// The node's public key, 64 hex digits.
    public_key: String,
    /// `--home` as typed, repeated in the next command to run; `None`: the default home.
    #[serde(skip)]
    home_flag: Option<PathBuf>,
}

impl fmt::Display for NodeHome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Node home: {}", self.home.display())?;
        writeln!(f, "Node public key: {}", self.public_key)?;
        let home_flag = match &self.home_flag {
            Some(dir) => format!(" --home {}", dir.display()),
            None => String::new(),
        };
        write!(
            f,
            "Next: wtd{home_flag} register --proxy URL --name NAME --email EMAIL"
        )
    }
}

/// Creates the home in `home` (what is already there is kept) and prints its public key.
pub(super) fn run(out: &Output, home: &Path, home_flag: Option<&Path>) -> Result<(), CliError> {
    let key = keys::load_or_create_node_key(home)?;
    let grants = home.join("grants.toml");
    if !grants.exists() {
        let text = "# Grants of this WTD node: who may run which missions here.\n";
        home::write_atomic(&grants, text.as_bytes(), true)?;
    }
    out.print(&NodeHome {
        home: home.to_path_buf(),
        public_key: hex::encode(key.verifying_key().to_bytes()),
        home_flag: home_flag.map(Path::to_path_buf),
    });
    Ok(())
}
