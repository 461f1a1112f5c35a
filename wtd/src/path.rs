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

#[cfg(test)]
mod tests {
    use super::*;

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
