#!/usr/bin/env bash
# A real single-node Slurm on this machine, from Debian's packages, to try the
# workbench's Slurm executor and to test it. No systemd: the daemons run in the
# foreground mode, in the background, with everything (config, state, spool,
# logs, PIDs) under one folder.
#
#   scripts/slurm-local.sh install       Debian's packages, if missing (root)
#   scripts/slurm-local.sh start DIR     start (or reuse) a cluster in DIR, then
#                                        print `export SLURM_CONF=DIR/slurm.conf`
#   scripts/slurm-local.sh stop DIR      stop its daemons (jobs are not cancelled)
#   scripts/slurm-local.sh status DIR    up (exit 0) or down, and the node's state
#
#   eval "$(scripts/slurm-local.sh start /tmp/slurm)"
#   sbatch --parsable --wrap 'echo hi'; squeue
#   scripts/slurm-local.sh stop /tmp/slurm
#
# Finished jobs are recorded, one line each, in DIR/jobcomp.log (sacct would
# need slurmdbd and a database). Slurm's ports 6817/6818 allow one such cluster
# per machine. Authentication is auth/none where Slurm has it (Debian 12's
# 22.05 does), else munge; SLURM_LOCAL_AUTH=munge|none chooses.
set -euo pipefail

packages=(slurmctld slurmd slurm-client munge)
ready_timeout=60 # seconds for the node to become idle
stop_timeout=10  # seconds between SIGTERM and SIGKILL

die() { echo "slurm-local: $*" >&2; exit 1; }

usage() {
  sed -n '7,11p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# --- install -----------------------------------------------------------------

missing_packages() {
  local p
  for p in "${packages[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || echo "$p"
  done
}

cmd_install() {
  command -v dpkg-query >/dev/null && command -v apt-get >/dev/null ||
    die "install needs apt-get (Debian or Ubuntu); elsewhere install Slurm (slurmctld, slurmd, the clients) and munge yourself"
  local missing
  missing=$(missing_packages)
  [ -z "$missing" ] && return 0
  [ "$(id -u)" = 0 ] || die "install must run as root to install: $(echo $missing)"

  # The package scripts would start the services; we start the daemons
  # ourselves, with our own config. Without a policy-rc.d saying no, block it
  # for the length of the install.
  local policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# temporary, from slurm-local.sh install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap "rm -f $policy" EXIT
    trap 'exit 130' INT TERM HUP
  fi

  local log
  log=$(mktemp)
  export DEBIAN_FRONTEND=noninteractive
  apt_install() { apt-get install -y -qq --no-install-recommends $missing >>"$log" 2>&1; }
  # apt-get update only when the package lists do not know the packages or
  # are stale (the install then fails to fetch); then try once more.
  if ! apt-cache show $missing >/dev/null 2>&1 || ! apt_install; then
    if ! { apt-get update -qq >>"$log" 2>&1 && apt_install; }; then
      cat "$log" >&2
      rm -f "$log"
      die "apt-get could not install: $(echo $missing)"
    fi
  fi
  rm -f "$log"
  echo "slurm-local: installed $(echo $missing)" >&2
}

# --- the cluster -------------------------------------------------------------

# PID of daemon $1 (slurmctld, slurmd, munged) started by this script in $dir,
# if it is still running; checked against its command line so that a reused
# PID does not count.
daemon_pid() {
  local name="$1" pid
  pid=$(cat "$dir/$name.pid" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$name" ] || return 1
  # (munged has no argument naming DIR.)
  [ "$name" = munged ] || tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | grep -qF -- "$dir/slurm.conf" || return 1
  echo "$pid"
}

node_state() { SLURM_CONF="$dir/slurm.conf" sinfo -h -o %T 2>/dev/null | head -n 1; }

# Whether something listens on TCP port $1.
port_taken() {
  local hex
  hex=$(printf ':%04X' "$1")
  # Field 2 is the local address:port, field 4 the state (0A = LISTEN).
  awk -v p="$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p {found = 1} END {exit !found}' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Running Slurm daemons, each with its config file: who may hold the ports.
other_slurms() {
  local f pid
  for f in /proc/[0-9]*/comm; do
    case "$(cat "$f" 2>/dev/null)" in slurmctld | slurmd) ;; *) continue ;; esac
    pid=${f#/proc/}
    pid=${pid%/comm}
    echo "  $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)(pid $pid)"
  done
}

# SIGTERM to the named daemons of this DIR at once (0.3 s; one after the
# other took 3 s), SIGKILL to any still there after $stop_timeout s.
stop_daemons() {
  local name pid pids=() i
  for name in "$@"; do
    pid=$(daemon_pid "$name") && pids+=("$pid") && kill -TERM "$pid" 2>/dev/null || true
  done
  for ((i = 0; i < stop_timeout * 10; i++)); do
    alive "${pids[@]}" || break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if alive "$pid"; then
      echo "slurm-local: $(cat /proc/"$pid"/comm 2>/dev/null) (pid $pid) ignored SIGTERM for ${stop_timeout} s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  while alive "${pids[@]}"; do sleep 0.1; done
  for name in "$@"; do rm -f "$dir/$name.pid"; done
}

# Whether any of the PIDs is alive (a zombie is not).
alive() {
  local pid state
  for pid in "$@"; do
    state=$(sed -E 's/.*\) (.).*/\1/' /proc/"$pid"/stat 2>/dev/null) || continue
    [ "$state" = Z ] || return 0
  done
  return 1
}

log_tails() {
  local f
  for f in slurmctld slurmd munged; do
    [ -s "$dir/$f.stderr" ] || continue
    echo "--- last lines of $dir/$f.stderr" >&2
    tail -n 15 "$dir/$f.stderr" >&2
  done
}

write_conf() {
  local node="$1" auth="$2" hw mem real
  # slurmd -C prints this machine's hardware as a NodeName line (CPUs,
  # sockets, cores, threads, RealMemory in MB).
  hw=$(slurmd -C 2>/dev/null | grep -m1 '^NodeName=') ||
    die "slurmd -C printed no hardware line"
  mem=$(grep -o 'RealMemory=[0-9]*' <<<"$hw" | cut -d= -f2) || mem=""
  hw=$(sed -E 's/^NodeName=[^ ]+ //; s/ RealMemory=[0-9]+//' <<<"$hw")
  real=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
  # A node with more RealMemory than slurmd finds at registration is drained.
  if [ -z "$mem" ] || [ "$mem" -gt "$real" ]; then mem=$real; fi

  local auth_lines
  if [ "$auth" = munge ]; then
    auth_lines="AuthType=auth/munge
CredType=cred/munge"
  else
    auth_lines="AuthType=auth/none
CredType=cred/none"
  fi

  cat >"$dir/slurm.conf" <<EOF
# Written by scripts/slurm-local.sh start: a single-node cluster on 127.0.0.1.
ClusterName=local
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
$auth_lines
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.log
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
# Schedule every second (jobs start in about 1 s instead of up to 3 s).
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=1
KillWait=5
MinJobAge=600
NodeName=$node NodeAddr=127.0.0.1 $hw RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

# Only for AuthType=auth/munge: munged must run as user munge and wants its
# socket folder reachable by all, hence Debian's /run/munge and key rather
# than files under DIR.
start_munged() {
  # A munged that already answers (a system one) is used as it is.
  if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi
  [ -r /etc/munge/munge.key ] || die "munge needs /etc/munge/munge.key (from Debian's munge package: run install)"
  install -d -o munge -g munge -m 755 /run/munge
  setpriv --reuid=munge --regid=munge --init-groups munged -F --force </dev/null >>"$dir/munged.stderr" 2>&1 &
  echo $! >"$dir/munged.pid"
  local i
  for ((i = 0; i < 50; i++)); do
    munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  log_tails
  stop_daemons munged
  die "munged did not answer within 10 s"
}

cmd_start() {
  for c in slurmctld slurmd sinfo; do
    command -v "$c" >/dev/null || die "$c not found: run '$0 install' (as root) first"
  done
  # auth/none (no munged to run) where this Slurm has it, as 22.05 does.
  local auth=${SLURM_LOCAL_AUTH:-munge}
  if [ -z "${SLURM_LOCAL_AUTH:-}" ] && compgen -G '/usr/lib/*/slurm-wlm/auth_none.so' >/dev/null; then auth=none; fi
  case "$auth" in none | munge) ;; *) die "SLURM_LOCAL_AUTH must be none or munge, not '$auth'" ;; esac

  if daemon_pid slurmctld >/dev/null && daemon_pid slurmd >/dev/null; then
    : # Already up in this DIR: reuse it (wait below in case it is still starting).
  else
    # Half up (one daemon died): start afresh.
    stop_daemons slurmd slurmctld munged
    local port
    for port in 6817 6818; do
      port_taken "$port" || continue
      echo "slurm-local: port $port is taken; this cluster needs ports 6817 and 6818 (one such cluster per machine)" >&2
      if [ -n "$(other_slurms)" ]; then
        echo "Slurm daemons running (a cluster from '$0 start OTHER_DIR' is stopped by '$0 stop OTHER_DIR'):" >&2
        other_slurms >&2
      fi
      exit 1
    done
    mkdir -p "$dir/state" "$dir/spool" "$dir/run"
    write_conf "$(hostname -s)" "$auth"
    [ "$auth" = none ] || start_munged
    # The daemons' stdio is kept off the caller's (a caller reading our output
    # through a pipe would wait for them to end). In the foreground mode they
    # log to stderr as well as to their log file; only stderr has errors from
    # before the log file is open. -c: no jobs from an earlier cluster in this
    # DIR (job ids still go on from its last one: jobcomp.log stays unambiguous).
    slurmctld -D -c -f "$dir/slurm.conf" </dev/null >>"$dir/slurmctld.stderr" 2>&1 &
    echo $! >"$dir/slurmctld.pid"
    slurmd -D -f "$dir/slurm.conf" -N "$(hostname -s)" </dev/null >>"$dir/slurmd.stderr" 2>&1 &
    echo $! >"$dir/slurmd.pid"
  fi

  local deadline=$((SECONDS + ready_timeout)) state=""
  while :; do
    state=$(node_state || true)
    [ "$state" = idle ] || [ "$state" = mixed ] || [ "$state" = allocated ] && break
    if ! daemon_pid slurmctld >/dev/null || ! daemon_pid slurmd >/dev/null; then
      log_tails
      cmd_stop >/dev/null
      die "a daemon exited while starting (logs above, in $dir)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log_tails
      cmd_stop >/dev/null
      die "the node is not idle after ${ready_timeout} s (state: '${state:-no answer}'; logs above, in $dir)"
    fi
    sleep 0.2
  done
  echo "export SLURM_CONF=$dir/slurm.conf"
}

cmd_stop() {
  local was_up=""
  daemon_pid slurmctld >/dev/null || daemon_pid slurmd >/dev/null || daemon_pid munged >/dev/null && was_up=1
  stop_daemons slurmd slurmctld munged
  if [ -n "$was_up" ]; then echo "slurm-local: stopped the cluster in $dir"; else echo "slurm-local: no cluster running in $dir"; fi
  # slurmd leaves running jobs' slurmstepd (and the jobs) alone by design.
  if cat /proc/[0-9]*/stat 2>/dev/null | grep -q '^[0-9]* (slurmstepd) [^Z]'; then
    echo "slurm-local: note: jobs that were running still run (their slurmstepd); 'start' in the same DIR ends them" >&2
  fi
}

cmd_status() {
  local ctld slurmd_pid
  ctld=$(daemon_pid slurmctld) || ctld=""
  slurmd_pid=$(daemon_pid slurmd) || slurmd_pid=""
  if [ -n "$ctld" ] && [ -n "$slurmd_pid" ]; then
    echo "up: slurmctld pid $ctld, slurmd pid $slurmd_pid; node $(hostname -s) $(node_state || true)"
    echo "export SLURM_CONF=$dir/slurm.conf"
  elif [ -n "$ctld$slurmd_pid" ]; then
    echo "half up: slurmctld pid ${ctld:-none}, slurmd pid ${slurmd_pid:-none} (stop, then start again)"
    return 1
  else
    echo "down: no cluster running in $dir"
    return 1
  fi
}

[ $# -ge 1 ] || usage
command="$1"
shift
case "$command" in
  install)
    [ $# -eq 0 ] || usage
    cmd_install
    ;;
  start | stop | status)
    [ $# -eq 1 ] || usage
    # Absolute, so that the config and the PID checks do not depend on the cwd.
    [ "$command" != start ] || mkdir -p "$1"
    [ -d "$1" ] || die "no such folder: $1"
    dir=$(cd "$1" && pwd -P)
    "cmd_$command"
    ;;
  *) usage ;;
esac
