//! Child processes: spawning with logs and pid files, signals (via the `kill` program, so no
//! `unsafe`), liveness checks of processes we may not be the parent of.

use std::{
    ffi::OsString,
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};

/// Sends `signal` (`TERM`, `KILL`, ...) to `pid` with the `kill` program.
pub(crate) fn send_signal(pid: u32, signal: &str) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("cannot run `kill`")?;
    if !status.success() {
        bail!("kill -{signal} {pid} failed (the process is gone?)");
    }
    Ok(())
}

/// Whether the process `pid` exists and is not a zombie.
pub(crate) fn pid_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    if proc.is_dir() {
        match std::fs::read_to_string(proc.join(pid.to_string()).join("stat")) {
            // `pid (comm) S ...`: the state follows the last `)` (comm may hold anything).
            Ok(stat) => stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z" && state != "X"),
            Err(_) => false,
        }
    } else {
        Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }
}

/// Whether the command line of `pid` contains `needle` (a guard against reused pids; true
/// where `/proc` is not available).
pub(crate) fn pid_matches(pid: u32, needle: &str) -> bool {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).contains(needle),
        Err(_) => !Path::new("/proc").is_dir(),
    }
}

/// The pid in `path`, if the file exists and holds one.
pub(crate) fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Writes `pid` to `path`.
pub(crate) fn write_pid(path: &Path, pid: u32) -> anyhow::Result<()> {
    std::fs::write(path, format!("{pid}\n"))
        .with_context(|| format!("cannot write the pid file {}", path.display()))
}

/// The pid of `path` if that process runs and its command line contains `needle`.
pub(crate) fn live_pid(path: &Path, needle: &str) -> Option<u32> {
    read_pid(path).filter(|pid| pid_alive(*pid) && pid_matches(*pid, needle))
}

/// The error for a missing binary.
pub(crate) fn check_binary(path: &Path) -> anyhow::Result<()> {
    if !path.is_file() {
        bail!(
            "the binary {} does not exist; build the binaries with `cargo build --release --bins` \
             (or pass another --bin-dir)",
            path.display()
        );
    }
    Ok(())
}

/// Spawns `program args` in its own process group (so a Ctrl-C in the terminal reaches only
/// the supervisor, which stops the children in order), stdin closed, stdout and stderr
/// appended to `log`; writes its pid to `pid_file`.
pub(crate) fn spawn_logged(
    program: &Path,
    args: &[OsString],
    log: &Path,
    pid_file: &Path,
) -> anyhow::Result<Child> {
    check_binary(program)?;
    if let Some(parent) = log.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open the log {}", log.display()))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let _ = writeln!(
        file,
        "===== walrus-localnet: starting {} (unix time {now}) =====",
        program.display()
    );
    let stderr = file.try_clone().context("cannot clone a log handle")?;
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(stderr);
    if std::env::var_os("RUST_LOG").is_none() {
        command.env("RUST_LOG", "info");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let child = command
        .spawn()
        .with_context(|| format!("cannot start {}", program.display()))?;
    write_pid(pid_file, child.id())?;
    Ok(child)
}

/// Waits until the process exits (reaping `child` if it is ours); false after `timeout`.
pub(crate) async fn wait_exit(child: Option<&mut Child>, pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut child = child;
    loop {
        let exited = match child.as_deref_mut() {
            Some(child) => !matches!(child.try_wait(), Ok(None)),
            None => !pid_alive(pid),
        };
        if exited {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// SIGTERM, wait up to `timeout`, then SIGKILL. Returns whether the process exited on
/// SIGTERM.
pub(crate) async fn terminate(child: Option<&mut Child>, pid: u32, timeout: Duration) -> bool {
    let mut child = child;
    if send_signal(pid, "TERM").is_err() {
        if let Some(child) = child.as_deref_mut() {
            let _ = child.try_wait();
        }
        return true;
    }
    if wait_exit(child.as_deref_mut(), pid, timeout).await {
        return true;
    }
    tracing::warn!(pid, "the process ignored SIGTERM; sending SIGKILL");
    kill_now(child, pid);
    false
}

/// SIGKILL, and reaps `child` if it is ours (waits briefly for others to disappear).
pub(crate) fn kill_now(child: Option<&mut Child>, pid: u32) {
    match child {
        Some(child) => {
            let _ = child.kill();
            let _ = child.wait();
        }
        None => {
            let _ = send_signal(pid, "KILL");
            let deadline = Instant::now() + Duration::from_secs(5);
            while pid_alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// The last `lines` lines of the file at `path`.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let Ok(file) = std::fs::File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let all: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// 32 random bytes from the operating system.
pub(crate) fn random_bytes() -> anyhow::Result<[u8; 32]> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut file| file.read_exact(&mut bytes))
        .context("cannot read /dev/urandom")?;
    Ok(bytes)
}

/// Free ports on 127.0.0.1 (all bound at once, so they differ).
pub(crate) fn free_addresses(count: usize) -> anyhow::Result<Vec<std::net::SocketAddr>> {
    let listeners = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .context("cannot find free ports on 127.0.0.1")?;
    listeners
        .iter()
        .map(|listener| listener.local_addr().context("a bound address"))
        .collect()
}

/// `path` as an argument.
pub(crate) fn arg(path: impl Into<PathBuf>) -> OsString {
    path.into().into_os_string()
}
