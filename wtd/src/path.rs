//! Function paths as people read and type them.
//!
//! A function is named on the wire by `mission/module/function`: the mission a key must be
//! granted, the Rust module it is written in, and its name. The module is there so two
//! modules of one mission may each have an `add`; most missions are written in a module
//! of the same name (`mission demo` in `mod demo`), and then it says nothing new.
//!
//! **The rule:** a path whose module is its mission is shown as `mission/function`
//! (`demo/demo/add` is shown `demo/add`); any other is shown in full (`demo/cli/add`).
//! Typed, both forms are accepted, and `mission/function` means `mission/mission/function`
//! when that exists — so a short path shown is always the one to type back. The JSON of
//! every command keeps the full path.
//!
//! A named instance of a behaviour (a gen_server exposed with `#[wtd_behaviour]`) is
//! `mission/behaviour@instance`, e.g. `counting/counter@counter`: no name may hold an
//! `@`, so it can never be mistaken for a function.

use crate::error::{Error, Result};
use crate::wire::Target;

/// `path` (`mission/module/function`) as shown to people: `mission/function` when its
/// module is the mission, else unchanged.
pub fn shown(path: &str) -> String {
    let mut parts = path.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(mission), Some(module), Some(function)) if mission == module => {
            format!("{mission}/{function}")
        }
        _ => path.to_string(),
    }
}

/// A function as listed in the directory (`module/function`) of `mission`, as shown:
/// `function` when its module is the mission, else `module/function`.
pub fn shown_in(mission: &str, function: &str) -> String {
    match function.split_once('/') {
        Some((module, name)) if module == mission => name.to_string(),
        _ => function.to_string(),
    }
}

/// Reads a full path as typed: `mission/module/function` (a function) or
/// `mission/behaviour@instance` (a behaviour's named instance). Names are checked when
/// the call is signed.
pub fn parse_target(path: &str) -> Result<Target> {
    if let Some((mission, rest)) = path.split_once('/')
        && let Some((behaviour, instance)) = rest.rsplit_once('@')
    {
        return Ok(Target::Behaviour {
            mission: mission.to_string(),
            behaviour: behaviour.to_string(),
            instance: instance.to_string(),
        });
    }
    let mut parts = path.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(mission), Some(module), Some(function)) => Ok(Target::Function {
            mission: mission.to_string(),
            module: module.to_string(),
            function: function.to_string(),
        }),
        _ => Err(Error::Invalid(format!(
            "{path:?} is not mission/module/function, e.g. demo/demo/add (or \
             mission/behaviour@instance for a server, e.g. counting/counter@counter)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_at_sign_names_a_behaviour_instance() {
        let target = parse_target("counting/counter@main").expect("parses");
        assert_eq!(target.path(), "counting/counter@main");
        assert!(matches!(target, Target::Behaviour { .. }));
        let target = parse_target("demo/demo/add").expect("parses");
        assert!(matches!(target, Target::Function { .. }));
        assert!(parse_target("demo/add").is_err());
    }

    #[test]
    fn the_module_is_left_out_only_when_it_is_the_mission() {
        assert_eq!(shown("demo/demo/add"), "demo/add");
        assert_eq!(shown("demo/cli/add"), "demo/cli/add");
        assert_eq!(shown("demo/add"), "demo/add");
        assert_eq!(shown("-"), "-");
        assert_eq!(shown_in("demo", "demo/add"), "add");
        assert_eq!(shown_in("demo", "cli/add"), "cli/add");
    }
}
