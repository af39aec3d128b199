//! A real `redis-server` (Debian's package; `.ci/run` installs it) for the
//! tests that follow authorizations through Redis, the library's and the
//! proxy's (which includes this file by path).
#![allow(dead_code, unreachable_pub)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` on a free port of 127.0.0.1, with nothing saved.
pub struct Redis {
    child: Child,
    pub address: SocketAddr,
}

impl Redis {
    /// On a port the system has free now.
    pub fn start() -> Self {
        let address = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        Self::start_on(address)
    }

    /// On `address` (a caller that hands out ports keeps them apart).
    pub fn start_on(address: SocketAddr) -> Self {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--port", &address.port().to_string()])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (apt-get install redis-server), as .ci/run installs it");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(address).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, address }
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(format!("redis://{}", self.address)).unwrap()
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
