// Compiles the store's benchmark-only helpers (`#[cfg(pulsebot_bench)]` in src/store/), which
// the bot's own build leaves out.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(pulsebot_bench)");
    println!("cargo::rustc-cfg=pulsebot_bench");
}
