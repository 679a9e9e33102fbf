//! Link the `codex-policy` binary with packed relative relocations (DT_RELR):
//! a position-independent executable of this size carries ~50,000 relative
//! relocations, which the dynamic loader applies one by one at every start;
//! packed, they take a few kilobytes and a fraction of the time (see
//! docs/benchmarks.md, "Start-up"). GNU ld 2.38+ and lld 15+ know the option,
//! glibc 2.36+ loads it; an older linker warns and ignores it.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
