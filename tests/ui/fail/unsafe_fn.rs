use wtd::prelude::*;

#[wtd_export(demo)]
pub unsafe fn read(address: usize) -> u8 {
    unsafe { *(address as *const u8) }
}

fn main() {}
