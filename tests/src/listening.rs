//! Starting a helper server (a child process) that reports its port as its first line
//! on stdout, `LISTENING <port>`, so there is no port race.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Spawns `cmd` with piped standard input, output and error and waits up to `timeout` for
/// its first stdout line `LISTENING <port>`. Returns the child (its standard input stays
/// open until the child is dropped, for servers that exit when it closes) and the port.
/// Later output is read and dropped on threads so no pipe fills up.
///
/// # Panics
/// When the program cannot be started, or it does not report a port within `timeout`
/// (the child is killed then); the message names `what` and adds `hint` (what to run),
/// with whatever the child wrote to stderr.
pub fn spawn_listening(mut cmd: Command, timeout: Duration, what: &str, hint: &str) -> (Child, u16) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {what} ({e}); {hint}"));
    let (tx, rx) = mpsc::channel::<Option<String>>();
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok);
        let _ = tx.send(first);
        for _ in lines {}
    });
    let (etx, erx) = mpsc::channel::<String>();
    let mut stderr = child.stderr.take().expect("piped stderr");
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        let _ = etx.send(text);
    });
    let line = rx.recv_timeout(timeout);
    let port = match &line {
        Ok(Some(l)) => l.strip_prefix("LISTENING ").and_then(|p| p.trim().parse::<u16>().ok()),
        _ => None,
    };
    let Some(port) = port else {
        let _ = child.kill();
        let _ = child.wait();
        let err = erx.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
        panic!("{what} did not start (first line {line:?}); {hint}\nstderr:\n{err}");
    };
    (child, port)
}
