//! Signatures beyond the simplest: patterns, a parameter named `peer`, `self::` and
//! `super::` paths, raw names, `cfg`, `const fn`, and the mission as a string.

use wtd::prelude::*;

pub struct Unused;

mod outer {
    #[derive(serde::Serialize, serde::Deserialize)]
    pub struct Celsius(pub f64);

    pub mod inner {
        use wtd::prelude::*;

        #[derive(serde::Serialize, serde::Deserialize)]
        pub struct Fahrenheit(pub f64);

        #[wtd_export("unit-conversion")]
        pub fn convert(mut c: super::Celsius, _: bool, (x, y): (i32, i32)) -> self::Fahrenheit {
            c.0 += f64::from(x + y);
            Fahrenheit(c.0 * 9.0 / 5.0 + 32.0)
        }

        #[wtd_export(demo)]
        pub fn forward(peer: String, r#in: u8) -> String {
            format!("{peer}{in}", in = r#in)
        }

        #[wtd_export(demo)]
        pub const fn r#type(x: u8) -> u8 {
            x
        }

        #[wtd_export(demo)]
        #[cfg(any())]
        pub fn compiled_out(x: crate::Unused) {}
    }
}

async fn _call(peer: &Peer) -> Result<outer::inner::Fahrenheit, Error> {
    outer::inner::convert::call(peer, outer::Celsius(1.0), true, (1, 2)).await
}
async fn _forward(peer: &Peer) -> Result<String, Error> {
    outer::inner::forward::call(peer, "x".to_string(), 1).await
}

fn main() {
    use wtd::registry::lookup;
    assert!(lookup("unit-conversion", "outer::inner", "convert").is_some());
    assert!(lookup("demo", "outer::inner", "forward").is_some());
    assert!(lookup("demo", "outer::inner", "type").is_some());
    assert!(lookup("demo", "outer::inner", "compiled_out").is_none());
    assert_eq!(outer::inner::r#type::PATH.name, "type");
}
