//! Sets the shared library's soname and generates the C header.
//! The header goes to `target/kaio.h` (never into the source tree);
//! `make header` copies it to `include/kaio.h`, and `make test` checks that
//! the committed copy is current.

use std::path::PathBuf;

fn main() {
    // The soname follows the exported ABI (glibc's frozen AIO ABI), not the
    // crate version.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libkaio.so.1");
    println!("cargo:rerun-if-changed=src/ffi.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    let crate_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate_dir.join("target"));
    let config = match cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")) {
        Ok(c) => c,
        Err(e) => {
            println!("cargo:warning=cbindgen.toml: {e}");
            return;
        }
    };
    match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            let _ = std::fs::create_dir_all(&target_dir);
            bindings.write_to_file(target_dir.join("kaio.h"));
        }
        Err(e) => println!("cargo:warning=cbindgen: {e}"),
    }
}
