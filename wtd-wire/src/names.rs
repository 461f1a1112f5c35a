//! Bounds on the names that travel: nodes, missions, modules, functions.

use crate::WireError;

/// Bounds on names: 1–64 bytes of `[a-z0-9_-]`.
pub fn check_name(what: &str, name: &str) -> Result<(), WireError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(WireError::OutOfBounds(format!(
            "{what} name {:?} is not 1-64 characters of a-z, 0-9, _ and -",
            truncate(name)
        )))
    }
}

/// Bounds on module paths: 1–128 bytes of `[a-z0-9_:]` (Rust module paths, `::` separated).
pub fn check_module(module: &str) -> Result<(), WireError> {
    let ok = (1..=128).contains(&module.len())
        && module
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b':');
    if ok {
        Ok(())
    } else {
        Err(WireError::OutOfBounds(format!(
            "module {:?} is not a Rust module path of at most 128 characters",
            truncate(module)
        )))
    }
}

/// Bounds on function names: 1–64 bytes of `[A-Za-z0-9_]`.
pub fn check_function(function: &str) -> Result<(), WireError> {
    let ok = (1..=64).contains(&function.len())
        && function
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(WireError::OutOfBounds(format!(
            "function name {:?} is not a Rust identifier of at most 64 characters",
            truncate(function)
        )))
    }
}

/// Bounds on behaviour names: 1–128 bytes of `[A-Za-z0-9_:]` (a Rust type path like
/// `counting::Counter`, or the `name = "..."` a behaviour chose).
pub fn check_behaviour(behaviour: &str) -> Result<(), WireError> {
    let ok = (1..=128).contains(&behaviour.len())
        && behaviour
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
    if ok {
        Ok(())
    } else {
        Err(WireError::OutOfBounds(format!(
            "behaviour {:?} is not a Rust type path of at most 128 characters",
            truncate(behaviour)
        )))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(70).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn names_are_bounded() {
        assert!(check_name("node", "alice-pi_2").is_ok());
        assert!(check_name("node", "").is_err());
        assert!(check_name("node", "Alice").is_err());
        assert!(check_name("node", &"a".repeat(65)).is_err());
        assert!(check_name("node", "al\u{202e}ice").is_err());
    }
}
