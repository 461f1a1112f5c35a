//! Runs the phases for one `#[wtd_export(..)]`: parse, check, expand.

use proc_macro2::TokenStream;

use crate::diag::Diagnostics;
use crate::expand::Expander;
use crate::{check, parse};

/// The expansion of `#[wtd_export(args)] item`: the item with its stubs, or, if anything
/// is wrong, every error found followed by the item unchanged.
pub fn export(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut diag = Diagnostics::default();
    let mission = parse::mission(args).map_err(|e| diag.push(e)).ok();
    let function = parse::function(item.clone()).map_err(|e| diag.push(e)).ok();
    if let Some(function) = &function {
        check::function(function, &mut diag);
    }
    match (mission, function) {
        (Some(mission), Some(function)) if diag.is_empty() => {
            Expander::new(&mission, &function).expand()
        }
        _ => diag.emit_with(item),
    }
}
