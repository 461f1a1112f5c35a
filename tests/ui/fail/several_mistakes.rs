// Every mistake of one function is reported in one build, each on its own token, and
// the function itself stays usable (no "cannot find function" below).
use wtd::prelude::*;

#[wtd_export(Demo)]
pub fn report<T>(title: &str, render: impl Fn(&T) -> String, items: Vec<T>) -> String {
    items
        .iter()
        .map(|item| render(item))
        .collect::<Vec<_>>()
        .join(title)
}

fn main() {
    let _ = report("\n", |n: &i64| n.to_string(), vec![1, 2]);
}
