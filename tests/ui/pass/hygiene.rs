//! The generated code names everything by absolute path: it compiles without the
//! prelude, next to local items named `Result`, `inventory`, `core`, `Vec` and `wtd`.

#![no_implicit_prelude]

mod api {
    #[allow(dead_code)]
    pub type Result = ();
    #[allow(dead_code)]
    pub struct Vec;
    #[allow(dead_code)]
    pub struct Option;
    #[allow(dead_code)]
    pub struct Box;
    #[allow(dead_code)]
    pub mod inventory {}
    #[allow(dead_code)]
    pub mod core {}
    #[allow(dead_code)]
    pub mod std {}
    #[allow(dead_code)]
    pub mod wtd {}
    #[allow(dead_code)]
    pub mod serde {}

    #[derive(::serde::Serialize, ::serde::Deserialize)]
    pub struct Reading(pub i64);

    #[::wtd::wtd_export(demo)]
    pub fn sum(a: i64, b: Reading) -> ::std::string::String {
        ::std::format!("{}", a + b.0)
    }

    #[::wtd::wtd_export(demo)]
    pub async fn nothing() {}
}

fn main() {
    ::std::assert!(::wtd::registry::lookup("demo", "api", "sum").is_some());
    ::std::assert!(::wtd::registry::lookup("demo", "api", "nothing").is_some());
}
