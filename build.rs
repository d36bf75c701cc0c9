//! Links GCC's unwinder statically (libgcc_eh.a, as `gcc -static-libgcc` does) on glibc
//! targets. Rust's std asks for libgcc_s.so only for the `_Unwind_*` calls of backtraces and
//! panics; resolved from the archive first, the shared library is no longer needed (the
//! linker's --as-needed drops it), and every launch is spared loading it and running its
//! constructor, which probes the CPU with CPUID (a trap to the hypervisor in a VM: about a
//! tenth of a millisecond per launch measured, with the mapping and relocations it brings).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if linux_gnu {
        // Listed with this crate's own libraries, ahead of std's -lgcc_s. The compiler driver
        // (cc) that links has its own library directory, which holds libgcc_eh.a, on the path.
        println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    }
}
