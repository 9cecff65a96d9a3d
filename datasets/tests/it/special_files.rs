//! What is not a regular file, or cannot be read, among a dataset's files:
//! refused at once with a message naming it, never read.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::thread;

use deepreduce_datasets::{load_cifar10, load_tinyimagenet, open};

use crate::common::{FifoReleaser, error_of, mkfifo, write_cifar10, write_tinyimagenet};

/// CIFAR-10 with one record per file, `name` then replaced by `make`.
fn cifar10_with(dir: &Path, name: &str, make: impl FnOnce(&Path)) -> String {
    write_cifar10(dir, 1);
    let path = dir.join(name);
    fs::remove_file(&path).unwrap();
    make(&path);
    path.display().to_string()
}

#[test]
fn a_fifo_among_the_data_files_is_refused_without_waiting() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = cifar10_with(tmp.path(), "data_batch_2.bin", mkfifo);
    let _release = FifoReleaser::new(Path::new(&fifo));
    let msg = error_of(load_cifar10(tmp.path()));
    assert_eq!(msg, format!("{fifo}: not a regular file (a FIFO)"));
}

#[test]
fn a_link_to_dev_zero_is_refused_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let link = cifar10_with(tmp.path(), "data_batch_1.bin", |p| {
        symlink("/dev/zero", p).unwrap()
    });
    let msg = error_of(load_cifar10(tmp.path()));
    assert_eq!(
        msg,
        format!("{link}: not a regular file (a character device)")
    );
}

#[test]
fn a_link_to_dev_null_is_a_device_not_an_empty_file() {
    let tmp = tempfile::tempdir().unwrap();
    let link = cifar10_with(tmp.path(), "test_batch.bin", |p| {
        symlink("/dev/null", p).unwrap()
    });
    let msg = error_of(load_cifar10(tmp.path()));
    assert_eq!(
        msg,
        format!("{link}: not a regular file (a character device)")
    );
}

#[test]
fn a_socket_or_a_folder_in_place_of_a_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let socket = cifar10_with(tmp.path(), "data_batch_3.bin", |p| {
        // The listener closes when dropped; the socket file stays.
        UnixListener::bind(p).unwrap();
    });
    let msg = error_of(load_cifar10(tmp.path()));
    assert_eq!(msg, format!("{socket}: not a regular file (a socket)"));

    let folder = cifar10_with(&tmp.path().join("b"), "test_batch.bin", |p| {
        fs::create_dir(p).unwrap()
    });
    let msg = error_of(load_cifar10(tmp.path().join("b")));
    assert_eq!(msg, format!("{folder}: not a regular file (a folder)"));
}

#[test]
fn a_fifo_named_like_a_jpeg_or_a_text_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    write_tinyimagenet(tmp.path());
    let jpeg = tmp.path().join("val/images/val_1.JPEG");
    fs::remove_file(&jpeg).unwrap();
    mkfifo(&jpeg);
    let _release = FifoReleaser::new(&jpeg);
    let msg = error_of(load_tinyimagenet(tmp.path()));
    assert_eq!(
        msg,
        format!("{}: not a regular file (a FIFO)", jpeg.display())
    );

    let words = tmp.path().join("words.txt");
    fs::remove_file(&words).unwrap();
    symlink("/dev/zero", &words).unwrap();
    fs::remove_file(&jpeg).unwrap();
    fs::write(&jpeg, crate::common::jpeg(64, 64, &[1, 2, 3])).unwrap();
    let msg = error_of(load_tinyimagenet(tmp.path()));
    assert_eq!(
        msg,
        format!(
            "{}: not a regular file (a character device)",
            words.display()
        )
    );
}

/// The user "nobody", whom permission bits apply to.
#[cfg(target_os = "linux")]
const NOBODY: u32 = 65534;

/// Runs `f` on a thread of its own whose file accesses are checked as
/// nobody's when we are root, who would otherwise bypass permission bits.
/// Linux keeps the filesystem user per thread (and leaving root clears the
/// thread's override capabilities), so the rest of the tests keep root's.
/// `None` when root cannot become nobody here.
fn without_privileges<T: Send>(f: impl FnOnce() -> T + Send) -> Option<T> {
    thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } == 0 {
                #[cfg(target_os = "linux")]
                // SAFETY: setfsuid/setfsgid change only this thread's
                // filesystem ids; an invalid id (u32::MAX) changes nothing
                // and returns the current one.
                unsafe {
                    libc::setfsgid(NOBODY);
                    libc::setfsuid(NOBODY);
                    if libc::setfsuid(u32::MAX) != NOBODY as i32 {
                        return None;
                    }
                }
                #[cfg(not(target_os = "linux"))]
                return None;
            }
            Some(f())
        })
        .join()
        .unwrap()
    })
}

#[test]
fn a_folder_without_permission_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let mode = |path: &Path, mode: u32| {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap()
    };
    // Others may enter the test's folder, not the dataset's.
    mode(tmp.path(), 0o755);
    let locked = tmp.path().join("locked");
    write_cifar10(&locked, 1);
    mode(&locked, 0o000);
    let open_batch = tmp.path().join("open");
    write_cifar10(&open_batch, 1);
    let batch = open_batch.join("data_batch_4.bin");
    mode(&batch, 0o000);

    let messages = without_privileges(|| {
        (
            error_of(open(locked.to_str().unwrap())),
            error_of(load_cifar10(&open_batch)),
        )
    });
    mode(&locked, 0o755);
    match messages {
        Some((folder, file)) => {
            assert_eq!(folder, format!("{}: permission denied", locked.display()));
            assert_eq!(file, format!("{}: permission denied", batch.display()));
        }
        None => eprintln!(
            "skipped: running as root, which cannot drop its file permissions here \
             (setfsuid refused), so permission bits do not apply"
        ),
    }
}
