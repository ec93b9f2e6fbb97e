//! A TCP proxy between fleettop and a test API server that can add round-trip time or stall
//! (a tarpit: connections are accepted, and nothing comes back), for the fault matrix
//! (`tests/faults.rs`).
//!
//! Each byte read on one side is written to the other side `delay` after it arrived (so a
//! delay of 1 s each way is a 2 s round trip, without slowing a stream's throughput); while
//! stalled, nothing is forwarded in either direction, on open connections and new ones alike,
//! until [`Tarpit::pass`]. Cut, every open connection is closed and new ones are closed as
//! soon as they are accepted (a network partition), until [`Tarpit::pass`].

#![allow(dead_code)] // Each test binary uses a different part of the support code.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// What the proxy does with the bytes it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Forward each chunk `delay` after it arrived.
    Pass { delay: Duration },
    /// Forward nothing.
    Stall,
    /// Close every connection.
    Cut,
}

/// The proxy: listens on `127.0.0.1:<random port>` and forwards to `upstream`.
#[derive(Debug)]
pub struct Tarpit {
    addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    accept: JoinHandle<()>,
}

impl Tarpit {
    /// Starts forwarding to `upstream` with no delay.
    pub async fn start(upstream: SocketAddr) -> Tarpit {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the tarpit");
        let addr = listener.local_addr().expect("the tarpit's address");
        let mode = Arc::new(Mutex::new(Mode::Pass { delay: Duration::ZERO }));
        let accept = tokio::spawn(accept_loop(listener, upstream, Arc::clone(&mode)));
        Tarpit { addr, mode, accept }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds `rtt / 2` each way.
    pub fn set_rtt(&self, rtt: Duration) {
        self.set(Mode::Pass { delay: rtt / 2 });
    }

    /// Forwards nothing from now on (open connections and new ones).
    pub fn stall(&self) {
        self.set(Mode::Stall);
    }

    /// Closes every open connection, and each new one as it comes, from now on.
    pub fn cut(&self) {
        self.set(Mode::Cut);
    }

    /// Forwards again, without delay.
    pub fn pass(&self) {
        self.set(Mode::Pass { delay: Duration::ZERO });
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner) = mode;
    }
}

impl Drop for Tarpit {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, mode: Arc<Mutex<Mode>>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                if current(&mode) == Mode::Cut {
                    continue;
                }
                let mode = Arc::clone(&mode);
                connections.spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else { return };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let both = async { tokio::join!(pipe(cr, sw, Arc::clone(&mode)), pipe(sr, cw, Arc::clone(&mode))) };
                    // Dropping the pipes closes both sockets.
                    tokio::select! {
                        _ = both => {}
                        () = until_cut(&mode) => {}
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

fn current(mode: &Mutex<Mode>) -> Mode {
    *mode.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Completes once the proxy is cut.
async fn until_cut(mode: &Mutex<Mode>) {
    while current(mode) != Mode::Cut {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Copies `from` to `to`, each chunk held until `delay` after it arrived and while stalled.
async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mode: Arc<Mutex<Mode>>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((arrived, chunk)) = rx.recv().await {
            loop {
                match current(&mode) {
                    Mode::Stall | Mode::Cut => tokio::time::sleep(Duration::from_millis(50)).await,
                    Mode::Pass { delay } => {
                        tokio::time::sleep_until(arrived + delay).await;
                        break;
                    }
                }
            }
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
