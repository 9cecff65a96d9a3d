//! Training's compute threads yield to the window: burn's CPU backend runs
//! on rayon's global pool, and a pool that keeps every core busy would
//! otherwise starve the UI thread and the software renderer.

/// Builds rayon's global pool with threads one step below normal priority
/// (nice 10). Call before anything trains; later calls change nothing.
pub fn lower_compute_priority() {
    let _ = rayon::ThreadPoolBuilder::new()
        .start_handler(|_| lower_this_thread())
        .build_global();
}

#[cfg(target_os = "linux")]
fn lower_this_thread() {
    // On Linux a nice value belongs to the thread: 0 names the caller.
    // SAFETY: setpriority has no memory-safety preconditions.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS as _, 0, 10);
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_thread() {}
