use wtd::prelude::*;

#[wtd_export(demo)]
pub fn on_done(callback: Box<dyn Fn(String) + Send>) {
    callback("done".to_string())
}

fn main() {}
