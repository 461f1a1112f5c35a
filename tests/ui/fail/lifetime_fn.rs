use wtd::prelude::*;

#[wtd_export(demo)]
pub fn first<'a>(words: Vec<&'a str>) -> Option<&'a str> {
    words.into_iter().next()
}

fn main() {}
