//! Runs the phases for one `#[wtd_behaviour(..)]`: parse, check, expand.

use proc_macro2::TokenStream;

use crate::behaviour_expand::BehaviourExpander;
use crate::diag::Diagnostics;
use crate::{behaviour_check, behaviour_parse};

/// The expansion of `#[wtd_behaviour(args)] item`: the `impl` with its registration, or,
/// if anything is wrong, every error found followed by the item unchanged.
pub fn behaviour(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut diag = Diagnostics::default();
    let args = behaviour_parse::args(args).map_err(|e| diag.push(e)).ok();
    let behaviour = behaviour_parse::behaviour_impl(item.clone())
        .map_err(|e| diag.push(e))
        .ok();
    let messages = behaviour
        .as_ref()
        .map(behaviour_parse::message_types)
        .unwrap_or_default();
    behaviour_check::message_types(&messages, &mut diag);
    match (args, behaviour) {
        (Some(args), Some(behaviour)) if diag.is_empty() => {
            BehaviourExpander::new(&args, &behaviour, &messages).expand()
        }
        _ => diag.emit_with(item),
    }
}
