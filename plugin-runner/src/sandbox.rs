//! Confines the plugin process before the library's constructors run.
//!
//! Landlock: the process may read and map only its library and the
//! system's shared libraries (and the loader's cache); it may write,
//! create or remove no file; it may neither bind nor connect TCP sockets,
//! signal processes outside the sandbox nor reach abstract UNIX sockets
//! created outside it. Landlock (ABI 7 here) leaves UDP and UNIX sockets
//! by path open, so seccomp refuses `socket` (and io_uring, which can open
//! sockets without it) outright: a plugin computes on JSON, it has no use
//! for a socket. Both imply `PR_SET_NO_NEW_PRIVS`.

use crate::{Isolation, Unconfined};
use std::path::Path;

#[cfg(target_os = "linux")]
pub fn confine(library: &Path) -> Result<Isolation, String> {
    let landlock = landlock::confine(library)?;
    seccomp::refuse_sockets()?;
    Ok(landlock)
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
    use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};
    use std::collections::BTreeMap;

    pub fn refuse_sockets() -> Result<(), String> {
        let fail = |e: &dyn std::fmt::Display| format!("seccomp: {e}");
        let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| fail(&e))?;
        // An empty rule list matches the syscall whatever its arguments.
        let refused: BTreeMap<i64, Vec<_>> = [libc::SYS_socket, libc::SYS_io_uring_setup]
            .into_iter()
            .map(|call| (call, Vec::new()))
            .collect();
        let filter = SeccompFilter::new(
            refused,
            SeccompAction::Allow,
            SeccompAction::Errno(libc::EACCES as u32),
            arch,
        )
        .map_err(|e| fail(&e))?;
        let program: BpfProgram = filter.try_into().map_err(|e| fail(&e))?;
        seccompiler::apply_filter(&program).map_err(|e| fail(&e))
    }
}
