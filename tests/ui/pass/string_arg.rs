//! One argument travels as a one-element tuple; strings are taken as `String`.

use wtd::prelude::*;
use wtd::wire::Encoding;

mod text {
    use super::*;

    #[wtd_export(demo)]
    pub fn shout(text: String) -> String {
        text.to_uppercase()
    }
}

async fn _call(peer: &Peer) -> Result<String, Error> {
    text::shout::call(peer, "hi".to_string()).await
}

#[tokio::main]
async fn main() {
    let Some(shout) = wtd::registry::lookup("demo", "text", "shout") else {
        panic!("text::shout is not registered");
    };
    assert_eq!(shout.arity, 1);
    let result = (shout.apply)(Encoding::Json, br#"["hi"]"#.to_vec()).await;
    assert_eq!(result, Ok(br#""HI""#.to_vec()));
}
