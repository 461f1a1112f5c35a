use wtd::prelude::*;

#[wtd_export(demo)]
pub fn largest<T: PartialOrd + Copy>(items: Vec<T>) -> Option<T> {
    items.into_iter().reduce(|a, b| if b > a { b } else { a })
}

fn main() {}
