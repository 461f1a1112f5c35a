//! `wtd init`: a node home with its node key and an empty grants file.
//!
//! Running it again changes nothing and prints the same public key, which is how an owner
//! reads their node key to give to someone.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::error::CliError;
use super::output::{Output, inert};
use crate::grants::GrantTable;
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
    /// What to check: grants already in a home `init` did not make, for instance.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
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
        )?;
        for warning in &self.warnings {
            write!(f, "\nWarning: {warning}")?;
        }
        Ok(())
    }
}

/// Creates the home in `home` (what is already there is kept) and prints its public key.
pub(super) fn run(out: &Output, home: &Path, home_flag: Option<&Path>) -> Result<(), CliError> {
    let key = keys::load_or_create_node_key(home)?;
    let grants = home.join("grants.toml");
    let mut warnings = Vec::new();
    if grants.exists() {
        warnings.extend(grants_already_there(&grants));
    } else {
        let text = "# Grants of this WTD node: who may run which missions here.\n";
        home::write_atomic(&grants, text.as_bytes(), true)?;
    }
    out.print(&NodeHome {
        home: home.to_path_buf(),
        public_key: hex::encode(key.verifying_key().to_bytes()),
        home_flag: home_flag.map(Path::to_path_buf),
        warnings,
    });
    Ok(())
}

/// A warning naming every grantee when the grants file `init` found already grants
/// keys: someone who could write there before (a shared folder, an old home) must not
/// have a grant kept without a word. Running `init` again on one's own home says the
/// same, which does no harm.
fn grants_already_there(grants: &Path) -> Option<String> {
    let list = match GrantTable::open(grants).list() {
        Ok(list) => list,
        Err(e) => return Some(format!("the grants file already there cannot be read: {e}")),
    };
    let in_force: Vec<String> = list
        .iter()
        .filter(|g| !g.revoked)
        .map(|g| {
            let missions: Vec<String> = g.missions.iter().map(|m| inert(m)).collect();
            format!("`{}` ({})", inert(&g.grantee), missions.join(", "))
        })
        .collect();
    if in_force.is_empty() {
        return None;
    }
    Some(format!(
        "{} already grants keys to {}: if you did not grant them, revoke them (`wtd grant revoke GRANTEE`) or edit the file before this node runs",
        grants.display(),
        in_force.join(", ")
    ))
}
