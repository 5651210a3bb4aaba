//! The shared library's identity, set by the crate itself so that every build of it (cargo
//! build, `make c-release`, `make install`) carries the same one:
//!
//! * ELF targets (Linux, the BSDs, illumos, Android): `DT_SONAME = librunbeam.so.<major>`, the
//!   name a program linked with `-lrunbeam` records as NEEDED and the loader looks for. The
//!   installed file is `librunbeam.so.<major>.<minor>.<patch>` with the symlinks
//!   `librunbeam.so.<major>` and `librunbeam.so` (runbeam-ffi/c-dist.mk).
//! * Apple targets: install name `@rpath/librunbeam.<major>.dylib`.
//! * Windows: nothing to set: `runbeam.dll` and its import library `runbeam.dll.lib` (MSVC) or
//!   `librunbeam.dll.a` (GNU) are versioned by their directory, as usual there.
//!
//! `<major>` is the package's (the Cargo workspace's) major version, so the version is written
//! in one place only.

fn main() {
    let major =
        std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let vendor = std::env::var("CARGO_CFG_TARGET_VENDOR").unwrap_or_default();
    let family = std::env::var("CARGO_CFG_TARGET_FAMILY").unwrap_or_default();
    if vendor == "apple" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/librunbeam.{major}.dylib");
    } else if os != "windows" && family.split(',').any(|f| f == "unix") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,librunbeam.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
