//! A private function in a nested module: its stubs are as private as it is, and it is
//! registered under its full module path (without the crate name).

mod app {
    pub mod inner {
        use wtd::prelude::*;

        #[wtd_export(demo)]
        fn secret(n: u32) -> u32 {
            n + 1
        }

        // Visible here, like the function.
        pub async fn _call(peer: &Peer) -> Result<u32, Error> {
            secret::call(peer, 1).await
        }

        pub(crate) fn path() -> wtd::__private::FnPath {
            secret::PATH
        }
    }
}

fn main() {
    assert_eq!(app::inner::path().module(), "app::inner");
    assert!(wtd::registry::lookup("demo", "app::inner", "secret").is_some());
}
