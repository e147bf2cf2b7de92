//! Records, for the report, the versions of the stores compared (from the
//! workspace's Cargo.lock), of the compiler, and the revision of cairn the
//! benchmark is built from.

use std::process::Command;

fn main() {
    let lock = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock");
    println!("cargo:rerun-if-changed={lock}");
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let mut name = "";
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = n.trim_matches('"');
        } else if let Some(v) = line.strip_prefix("version = ") {
            let var = match name {
                "fjall" => "FJALL",
                "redb" => "REDB",
                "sled" => "SLED",
                "rocksdb" => "ROCKSDB",
                "sequential-storage" => "SEQUENTIAL_STORAGE",
                "ekv" => "EKV",
                "tickv" => "TICKV",
                _ => continue,
            };
            println!(
                "cargo:rustc-env=BENCH_VERSION_{var}={}",
                v.trim_matches('"')
            );
        }
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    println!("cargo:rustc-env=BENCH_RUSTC_VERSION={}", version.trim());

    // The engine's sources and the checked-out commit: rebuilding after
    // either changes records the new revision.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    for path in ["core/src", "std-backend/src", ".git/HEAD", ".git/index"] {
        println!("cargo:rerun-if-changed={root}/{path}");
    }
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
    };
    let revision = match git(&["rev-parse", "--short", "HEAD"]) {
        Some(rev) => {
            let dirty = git(&["status", "--porcelain", "--", "core", "std-backend"])
                .is_some_and(|s| !s.trim().is_empty());
            if dirty {
                format!(
                    "{} with uncommitted changes to core or std-backend",
                    rev.trim()
                )
            } else {
                rev.trim().to_string()
            }
        }
        None => "unknown".into(),
    };
    println!("cargo:rustc-env=BENCH_CAIRN_REVISION={revision}");
}
