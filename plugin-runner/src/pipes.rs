//! The process's standard streams: the workbench's pipes carry the
//! protocol, so they are moved off fds 0 and 1 before the library loads;
//! fd 0 becomes /dev/null and fd 1 joins fd 2 (the plugin's log). Every
//! other descriptor the process inherited is closed first: the plugin must
//! not reach the workbench's files through them.

use std::fs::File;

#[cfg(unix)]
pub fn take_protocol_pipes() -> std::io::Result<(File, File)> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain fd syscalls on the process's own standard fds; each
    // new fd is owned by exactly one File.
    close_inherited()?;
    unsafe {
        let requests = checked(libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3))?;
        let replies = checked(libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3))?;
        let null = checked(libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY))?;
        checked(libc::dup2(null, 0))?;
        libc::close(null);
        checked(libc::dup2(2, 1))?;
        Ok((File::from_raw_fd(requests), File::from_raw_fd(replies)))
    }
}

#[cfg(target_os = "linux")]
fn close_inherited() -> std::io::Result<()> {
    // SAFETY: closes descriptors 3 and up, which nothing here holds yet.
    if unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(all(unix, not(target_os = "linux")))]
fn close_inherited() -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn checked(fd: i32) -> std::io::Result<i32> {
    if fd < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(fd)
    }
}

#[cfg(not(unix))]
pub fn take_protocol_pipes() -> std::io::Result<(File, File)> {
    Err(std::io::Error::other(
        "plugin processes need a Unix platform",
    ))
}

/// A plugin stuck in a call never reads the closed pipe that would tell it
/// the workbench is gone: a thread checks once a second that the parent is
/// still there and ends the process when it is not.
pub fn exit_with_parent() {
    #[cfg(unix)]
    {
        // SAFETY: getppid has no preconditions.
        let parent = unsafe { libc::getppid() };
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
                // SAFETY: no preconditions; _exit runs no atexit handlers,
                // which could wait on the thread stuck in the plugin.
                if unsafe { libc::getppid() } != parent {
                    unsafe { libc::_exit(0) };
                }
            }
        });
    }
}
