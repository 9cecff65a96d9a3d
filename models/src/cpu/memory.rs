//! Memory policy for training on the CPU (the app sets it when it picks
//! the flex backend).
//!
//! A training step allocates and frees the same few dozen activation buffers
//! (megabytes each) every time. glibc serves allocations that large with
//! fresh `mmap`s by default and gives them back on free, so every step pays
//! the kernel for page faults and for zeroing every page again (18% of a
//! width-16 ResNet18 step's profile). Raised thresholds keep freed buffers in
//! the heap for the next step: 12% more images/s there (`deepreduce bench`).

/// Keeps freed buffers of up to 32 MB (glibc's ceiling for this setting) in
/// the heap instead of returning them to the kernel. Process-wide; calling
/// it again changes nothing.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn keep_freed_buffers() {
    const LARGEST_HEAP_ALLOCATION: libc::c_int = 32 << 20;
    // SAFETY: mallopt only changes allocator parameters; it is documented as
    // safe to call at any time from any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, LARGEST_HEAP_ALLOCATION);
        libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn keep_freed_buffers() {}
