//! Confines the plugin process before the library's constructors run.
//!
//! Landlock: the process may read and map only its library and the
//! system's shared libraries (and the loader's cache); it may write,
//! create or remove no file; it may neither bind nor connect TCP sockets,
//! signal processes outside the sandbox nor reach abstract UNIX sockets
//! created outside it. Landlock (ABI 7 here) leaves open UDP and UNIX
//! sockets by path, changing files' modes and owners, System V IPC and
//! other processes' limits: seccomp refuses those (see [`seccomp`]), and
//! new processes, so nothing a plugin starts outlives it. All capabilities
//! are dropped. Both imply `PR_SET_NO_NEW_PRIVS`.

use crate::{Isolation, Unconfined};
use std::path::Path;

#[cfg(target_os = "linux")]
pub fn confine(library: &Path) -> Result<Isolation, String> {
    let landlock = landlock::confine(library)?;
    seccomp::refuse_what_plugins_never_need()?;
    drop_capabilities()?;
    Ok(landlock)
}

/// Root's capabilities (a plugin run by root could otherwise reboot, load
/// modules, change the host name...): all dropped, and with no_new_privs
/// never regained.
#[cfg(target_os = "linux")]
fn drop_capabilities() -> Result<(), String> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let none = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capset reads a valid header and two data structs (version 3).
    let done = unsafe { libc::syscall(libc::SYS_capset, &header, none.as_ptr()) };
    if done != 0 {
        return Err(format!(
            "cannot drop capabilities: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn confine(_library: &Path) -> Result<Isolation, String> {
    Ok(Isolation::NotSandboxed(Unconfined::Unsupported))
}

#[cfg(target_os = "linux")]
mod landlock {
    use super::{Isolation, Unconfined};
    use landlock::{
        ABI, Access, AccessFs, AccessNet, BitFlags, LandlockStatus, PathBeneath, PathFd, Ruleset,
        RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope, make_bitflags,
    };
    use std::path::Path;

    /// The ABI whose rights the sandbox asks for: 6 is the first with
    /// scopes (signals, abstract sockets); 4 the first with TCP.
    const WANTED: ABI = ABI::V6;

    /// Where the dynamic loader finds the system's shared libraries.
    const SYSTEM_LIBRARIES: [&str; 8] = [
        "/lib",
        "/lib64",
        "/usr/lib",
        "/usr/lib64",
        "/usr/local/lib",
        "/etc/ld.so.cache",
        "/etc/ld.so.conf",
        "/etc/ld.so.conf.d",
    ];

    pub fn confine(library: &Path) -> Result<Isolation, String> {
        let fail = |e: &dyn std::fmt::Display| format!("Landlock: {e}");
        // Rights that only apply to folders, given on a file, would make
        // the ruleset "partially enforced".
        let read_file: BitFlags<AccessFs> = make_bitflags!(AccessFs::{ReadFile | Execute});
        let read = |path: &Path| {
            if path.is_dir() {
                AccessFs::from_read(WANTED)
            } else {
                read_file
            }
        };
        let library_fd = PathFd::new(library).map_err(|e| fail(&e))?;
        let system = SYSTEM_LIBRARIES
            .iter()
            .map(Path::new)
            .filter_map(|p| Some(PathBeneath::new(PathFd::new(p).ok()?, read(p))));
        let status = Ruleset::default()
            .handle_access(AccessFs::from_all(WANTED))
            .and_then(|r| r.handle_access(AccessNet::from_all(WANTED)))
            .and_then(|r| r.scope(Scope::from_all(WANTED)))
            .and_then(|r| r.create())
            .and_then(|r| r.add_rule(PathBeneath::new(library_fd, read_file)))
            .and_then(|r| r.add_rules(system.map(Ok::<_, landlock::RulesetError>)))
            .and_then(|r| r.restrict_self())
            .map_err(|e| fail(&e))?;
        let kernel_abi = match status.landlock {
            LandlockStatus::Available { effective_abi, .. } => effective_abi as i32,
            _ => 0,
        };
        Ok(match status.ruleset {
            RulesetStatus::FullyEnforced => Isolation::Sandboxed {
                landlock_abi: kernel_abi,
            },
            RulesetStatus::PartiallyEnforced => Isolation::NotSandboxed(Unconfined::OldLandlock {
                landlock_abi: kernel_abi,
            }),
            _ => Isolation::NotSandboxed(Unconfined::NoLandlock),
        })
    }
}

#[cfg(target_os = "linux")]
mod seccomp {
    //! What a plugin computing on JSON never needs, refused: sockets;
    //! processes (fork, and clone without CLONE_THREAD: threads stay
    //! allowed); changing files' modes, owners, times or attributes (which
    //! Landlock leaves open); System V IPC and keyrings; resource limits,
    //! priorities and CPU affinity of other processes.

    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };
    use std::collections::BTreeMap;

    type Rules = BTreeMap<i64, Vec<SeccompRule>>;

    fn fail(e: impl std::fmt::Display) -> String {
        format!("seccomp: {e}")
    }

    /// Refused whatever their arguments (an empty rule list always matches).
    const REFUSED: &[i64] = &[
        libc::SYS_socket,
        libc::SYS_io_uring_setup,
        libc::SYS_fork,
        libc::SYS_vfork,
        libc::SYS_chmod,
        libc::SYS_fchmod,
        libc::SYS_fchmodat2,
        libc::SYS_fchmodat,
        libc::SYS_chown,
        libc::SYS_fchown,
        libc::SYS_lchown,
        libc::SYS_fchownat,
        libc::SYS_utime,
        libc::SYS_utimes,
        libc::SYS_utimensat,
        libc::SYS_futimesat,
        libc::SYS_setxattr,
        libc::SYS_lsetxattr,
        libc::SYS_fsetxattr,
        libc::SYS_removexattr,
        libc::SYS_lremovexattr,
        libc::SYS_fremovexattr,
        libc::SYS_shmget,
        libc::SYS_shmat,
        libc::SYS_shmctl,
        libc::SYS_msgget,
        libc::SYS_msgsnd,
        libc::SYS_msgrcv,
        libc::SYS_msgctl,
        libc::SYS_semget,
        libc::SYS_semop,
        libc::SYS_semtimedop,
        libc::SYS_semctl,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
    ];

    /// Refused when their target (argument `index`) is another process
    /// (not 0, "this process").
    const OTHER_PROCESS: &[(i64, u8)] = &[
        (libc::SYS_prlimit64, 0),
        (libc::SYS_sched_setaffinity, 0),
        (libc::SYS_sched_setscheduler, 0),
        (libc::SYS_sched_setparam, 0),
        (libc::SYS_sched_setattr, 0),
        (libc::SYS_setpriority, 1),
        (libc::SYS_ioprio_set, 1),
    ];

    fn rule(index: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompRule, String> {
        let condition =
            SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value).map_err(fail)?;
        SeccompRule::new(vec![condition]).map_err(fail)
    }

    fn install(rules: Rules, refusal: SeccompAction) -> Result<(), String> {
        let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(fail)?;
        let filter =
            SeccompFilter::new(rules, SeccompAction::Allow, refusal, arch).map_err(fail)?;
        let program: BpfProgram = filter.try_into().map_err(fail)?;
        seccompiler::apply_filter(&program).map_err(fail)
    }

    pub fn refuse_what_plugins_never_need() -> Result<(), String> {
        let mut rules: Rules = REFUSED.iter().map(|&call| (call, Vec::new())).collect();
        for &(call, index) in OTHER_PROCESS {
            rules.insert(call, vec![rule(index, SeccompCmpOp::Ne, 0)?]);
        }
        // A new process, not a thread: clone without CLONE_THREAD.
        let thread = libc::CLONE_THREAD as u64;
        rules.insert(
            libc::SYS_clone,
            vec![rule(0, SeccompCmpOp::MaskedEq(thread), 0)?],
        );
        install(rules, SeccompAction::Errno(libc::EPERM as u32))?;
        // clone3 passes its flags in memory, out of a filter's reach: "not
        // implemented" makes the C library fall back to clone, checked above.
        let clone3: Rules = [(libc::SYS_clone3, Vec::new())].into_iter().collect();
        install(clone3, SeccompAction::Errno(libc::ENOSYS as u32))
    }
}
