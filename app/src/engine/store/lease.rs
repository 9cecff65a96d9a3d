//! One process per pipeline (or standalone run): a lease row in the store
//! naming the holder (pid, host) with a heartbeat. A second process asking
//! for a held lease is refused with the holder's name; a lease whose holder
//! is gone (its pid no longer exists on this host, or its heartbeat stopped
//! for [`STALE_AFTER`]) is taken over. The lease is released when the
//! [`Lease`] is dropped; a killed holder leaves its row, which the next
//! process takes over.

use super::{Store, StoreError, StoreErrorKind, now};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often a holder renews its lease.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// A lease not renewed for this long is abandoned (a holder on another
/// host, or a pid reused by an unrelated process).
const STALE_AFTER: Duration = Duration::from_secs(60);

/// Who holds a lease.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub acquired_at: String,
    pub heartbeat_age_secs: u64,
}

/// A held lease, renewed by a background thread until dropped; that thread
/// also releases it, on its own connection.
pub struct Lease {
    stop: Arc<(Mutex<bool>, Condvar)>,
    heartbeat: Option<JoinHandle<()>>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(|p| p.into_inner()) = true;
        wake.notify_all();
        if let Some(thread) = self.heartbeat.take() {
            let _ = thread.join();
        }
    }
}

fn unix_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// This machine's name, as the lease records it.
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at
    // most that many bytes.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match ok {
        true => String::from_utf8_lossy(&buf[..end]).into_owned(),
        false => "unknown host".into(),
    }
}

/// Whether process `pid` exists on this machine.
fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 checks existence and permission, delivering nothing.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return true;
    }
    std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Whether the holder recorded in a lease row is still running.
fn alive(holder: &Holder) -> bool {
    if holder.heartbeat_age_secs >= STALE_AFTER.as_secs() {
        return false;
    }
    holder.host != host_name() || process_exists(holder.pid)
}

/// The lease row of `subject`, if any (alive or not).
fn read_holder(conn: &Connection, subject: &str) -> rusqlite::Result<Option<Holder>> {
    conn.query_row(
        "SELECT pid, host, acquired_at, heartbeat_at FROM leases WHERE subject = ?1",
        [subject],
        |r| {
            Ok(Holder {
                pid: u32::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                host: r.get(1)?,
                acquired_at: r.get(2)?,
                heartbeat_age_secs: unix_seconds().saturating_sub(r.get(3)?).max(0) as u64,
            })
        },
    )
    .optional()
}

impl Store {
    /// Takes the lease on `subject` (e.g. `pipeline:3`) for this process, or
    /// refuses with the live holder. Keep the returned [`Lease`] for as
    /// long as the work runs.
    pub fn acquire_lease(&self, subject: &str) -> Result<Lease, StoreError> {
        let op = "take the lease";
        self.writable(op)?;
        let host = host_name();
        let pid = std::process::id();
        let token = format!("{host}:{pid}:{}", now());
        {
            let conn = self.conn();
            // IMMEDIATE: two processes cannot both read "free" and insert.
            let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)
                .map_err(self.err(op))?;
            let held = read_holder(&tx, subject).map_err(self.err(op))?;
            if let Some(holder) = held.filter(alive) {
                let (subject, holder) = (subject.to_string(), Box::new(holder));
                return Err(self.fail(op, StoreErrorKind::Busy { subject, holder }));
            }
            tx.execute(
                "INSERT OR REPLACE INTO leases (subject, token, pid, host, acquired_at, heartbeat_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![subject, token, pid, host, now(), unix_seconds()],
            )
            .map_err(self.err(op))?;
            tx.commit().map_err(self.err(op))?;
        }
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let heartbeat = spawn_heartbeat(self.path.clone(), subject, &token, stop.clone());
        Ok(Lease {
            stop,
            heartbeat: Some(heartbeat),
        })
    }

    /// Who holds the lease on `subject`, if anyone (alive or not).
    pub fn lease_holder(&self, subject: &str) -> Result<Option<Holder>, StoreError> {
        read_holder(&self.conn(), subject).map_err(self.err("read a lease"))
    }
}

/// Renews the lease every [`HEARTBEAT`] on its own connection until `stop`,
/// then releases it. (A store that cannot be opened keeps the row; the next
/// process finds our pid gone and takes the lease over.)
fn spawn_heartbeat(
    store_path: PathBuf,
    subject: &str,
    token: &str,
    stop: Arc<(Mutex<bool>, Condvar)>,
) -> JoinHandle<()> {
    let (subject, token) = (subject.to_string(), token.to_string());
    std::thread::spawn(move || {
        let Ok(store) = Store::open(&store_path) else {
            return;
        };
        let (stopped, wake) = &*stop;
        let mut guard = stopped.lock().unwrap_or_else(|p| p.into_inner());
        while !*guard {
            guard = wake
                .wait_timeout(guard, HEARTBEAT)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            if *guard {
                break;
            }
            // A failed renewal (a busy or full disk) is retried at the next
            // beat; the lease only goes stale after several in a row.
            let _ = store.conn().execute(
                "UPDATE leases SET heartbeat_at = ?3 WHERE subject = ?1 AND token = ?2",
                params![subject, token, unix_seconds()],
            );
        }
        let _ = store.conn().execute(
            "DELETE FROM leases WHERE subject = ?1 AND token = ?2",
            params![subject, token],
        );
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_holder_is_refused_a_gone_one_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.db");
        let store = Store::open(&path).unwrap();
        let lease = store.acquire_lease("pipeline:1").unwrap();
        let holder = store.lease_holder("pipeline:1").unwrap().unwrap();
        assert_eq!(holder.pid, std::process::id());
        assert_eq!(holder.host, host_name());

        // The same subject again, even from this process, is refused.
        let err = store.acquire_lease("pipeline:1").err().unwrap();
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "pipeline:1 is being run by process {} on {}",
                std::process::id(),
                host_name()
            )),
            "{text}"
        );
        // Another subject is free.
        let other = store.acquire_lease("run:7").unwrap();
        drop(other);

        // Released on drop.
        drop(lease);
        assert_eq!(store.lease_holder("pipeline:1").unwrap(), None);

        // A holder whose process is gone (pid beyond pid_max) is taken over.
        store
            .conn()
            .execute(
                "INSERT INTO leases VALUES ('pipeline:2', 't', 4294967, ?1, 'then', ?2)",
                params![host_name(), unix_seconds()],
            )
            .unwrap();
        let taken = store.acquire_lease("pipeline:2").unwrap();
        assert_eq!(
            store.lease_holder("pipeline:2").unwrap().unwrap().pid,
            std::process::id()
        );
        drop(taken);

        // A holder on another host is alive until its heartbeat is stale.
        let insert = |age: i64| {
            store
                .conn()
                .execute(
                    "INSERT OR REPLACE INTO leases VALUES ('pipeline:3', 't', 1, 'elsewhere', 'then', ?1)",
                    [unix_seconds() - age],
                )
                .unwrap();
        };
        insert(5);
        assert!(store.acquire_lease("pipeline:3").is_err());
        insert(STALE_AFTER.as_secs() as i64 + 1);
        assert!(store.acquire_lease("pipeline:3").is_ok());
    }
}
