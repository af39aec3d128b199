//! Out of file descriptors, the proxy's accept loop backs off instead of
//! spinning, says so at most once a second, counts it, and serves again as
//! soon as descriptors free up. Runs the built binary under a low
//! `RLIMIT_NOFILE` (set by `ulimit -n` in the shell that execs it), on
//! 127.0.0.1 only.

mod support;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use support::{free_address, runtime, send, upstream};

fn ok(_request: &Request<Bytes>) -> Response<Bytes> {
    Response::new(Bytes::from_static(b"ok"))
}

/// Clock ticks (user + system) the process has used.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn out_of_descriptors_the_accept_loop_backs_off_and_recovers() {
    let runtime = runtime();
    let upstream = upstream(&runtime, ok, Duration::ZERO);
    let listen = free_address();
    let admin = free_address();
    let mut config = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(
        &mut config,
        format!(
            "listen = \"{listen}\"\nupstream = \"http://{}\"\nknown_scopes = [\"read\"]\n[admin]\nlisten = \"{admin}\"\n",
            upstream.address
        )
        .as_bytes(),
    )
    .unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 48 && exec \"$0\" --config \"$1\"")
        .arg(env!("CARGO_BIN_EXE_invalid-scope-proxy"))
        .arg(config.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let stdout = child.stdout.take().unwrap();
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    support::wait_until_listening(listen, "the proxy");

    // Hold more connections than the proxy has descriptors for.
    let held: Vec<TcpStream> = (0..80)
        .map(|_| TcpStream::connect(listen).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_ticks(child.id());
    std::thread::sleep(Duration::from_secs(2));
    let spent = cpu_ticks(child.id()) - before;
    // A loop that retried at once burned about 2 s of CPU in these 2 s.
    assert!(
        spent < 30,
        "the proxy spent {spent} ticks in 2 s out of descriptors"
    );

    // Descriptors free: served again.
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    let response = runtime.block_on(send(listen, Request::get("/").body(Bytes::new()).unwrap()));
    assert_eq!(response.status(), StatusCode::OK);
    let metrics = runtime.block_on(send(
        admin,
        Request::get("/metrics").body(Bytes::new()).unwrap(),
    ));
    let text = String::from_utf8_lossy(metrics.body()).into_owned();
    assert!(
        text.contains("invalid_scope_proxy_accept_errors_total{listener=\"main\"}"),
        "{text}"
    );

    let _ = child.kill();
    let _ = child.wait();
    let warnings = lines
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.contains("invalid_scope_proxy.accept_failed"))
        .count();
    // At most one a second over the 2.3 s out of descriptors (and the moment
    // before they freed up).
    assert!((1..=4).contains(&warnings), "{warnings} warnings");
}
