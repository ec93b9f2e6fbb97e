//! Giving memory back after an initial list. Decoding a list page of 500 pods needs tens of
//! megabytes for a moment; fleettop keeps only small projections, but glibc's allocator
//! holds the freed pages, so a 10k-pod cluster left ~190 MiB resident for ~2 MiB in use
//! (measured by `benches/real_apiserver.rs`). Trimming once a large list is done returns
//! them to the OS.

/// Returns freed heap memory to the operating system (glibc only; elsewhere a no-op).
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim takes no pointers and only releases memory the allocator
        // already considers free; it is safe to call from any thread at any time.
        unsafe {
            malloc_trim(0);
        }
    }
}
