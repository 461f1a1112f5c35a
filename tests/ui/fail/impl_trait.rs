use wtd::prelude::*;

#[wtd_export(demo)]
pub fn describe(value: impl std::fmt::Display) -> impl Iterator<Item = char> {
    value.to_string().chars().collect::<Vec<_>>().into_iter()
}

fn main() {}
