use wtd::prelude::*;

pub struct Circle {
    pub radius: f64,
}

impl Circle {
    #[wtd_export(demo)]
    pub fn area(&self) -> f64 {
        3.14 * self.radius * self.radius
    }
}

fn main() {}
