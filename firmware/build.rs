//! Picks the memory map for the target and tells the code which board
//! configuration it is built for.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let target = env::var("TARGET").unwrap_or_default();
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    println!("cargo::rustc-check-cfg=cfg(board_m0)");
    println!("cargo::rerun-if-changed=memory-m0.x");
    println!("cargo::rerun-if-changed=memory-m4.x");
    println!("cargo::rerun-if-changed=build.rs");
    let memory = if target.starts_with("thumbv6m") {
        println!("cargo::rustc-cfg=board_m0");
        include_str!("memory-m0.x")
    } else {
        include_str!("memory-m4.x")
    };
    // `link.x` of cortex-m-rt includes `memory.x` from the search path.
    fs::write(out.join("memory.x"), memory).expect("write memory.x");
    println!("cargo::rustc-link-search={}", out.display());
}
