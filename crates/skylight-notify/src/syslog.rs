//! Syslog senders: one message per UDP datagram, or a TCP stream of framed messages (octet
//! counting or newline), kept open between messages.

use std::net::SocketAddr;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

use crate::Failure;
use crate::cef::octet_counted;
use crate::config::{Framing, Protocol, Syslog};
use crate::webhook::chain;

/// A syslog channel's sender; the TCP connection is reused while the receiver keeps it open.
#[derive(Debug)]
pub(crate) struct SyslogSender {
    target: Syslog,
    tcp: tokio::sync::Mutex<Option<TcpStream>>,
}

fn fail(what: &str, e: &dyn std::error::Error) -> Failure {
    Failure {
        error: format!("{what}: {}", chain(e)),
        retry_after: None,
    }
}

impl SyslogSender {
    pub(crate) fn new(target: Syslog) -> SyslogSender {
        SyslogSender {
            target,
            tcp: tokio::sync::Mutex::new(None),
        }
    }

    async fn resolve(&self) -> Result<SocketAddr, Failure> {
        let addr = &self.target.address;
        tokio::net::lookup_host(addr.as_str())
            .await
            .map_err(|e| fail(&format!("cannot resolve {addr}"), &e))?
            .next()
            .ok_or_else(|| Failure {
                error: format!("{addr} resolves to no address"),
                retry_after: None,
            })
    }

    /// Sends one syslog message (without framing); success means UDP handed the datagram to
    /// the network, or TCP wrote the frame to a connection the receiver had not closed.
    pub(crate) async fn send(&self, message: &[u8]) -> Result<(), Failure> {
        match self.target.protocol {
            Protocol::Udp => self.within(self.send_udp(message)).await,
            Protocol::Tcp => self.send_tcp(message).await,
        }
    }

    /// Runs a step within the channel's timeout.
    async fn within<T>(
        &self,
        step: impl std::future::Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        let timeout = self.target.timeout;
        tokio::time::timeout(timeout, step)
            .await
            .unwrap_or_else(|_| {
                Err(Failure {
                    error: format!(
                        "no progress with {} within {} s",
                        self.target.address,
                        timeout.as_secs_f64()
                    ),
                    retry_after: None,
                })
            })
    }

    async fn send_udp(&self, message: &[u8]) -> Result<(), Failure> {
        let to = self.resolve().await?;
        let local: SocketAddr = if to.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local)
            .await
            .map_err(|e| fail("cannot open a UDP socket", &e))?;
        let sent = socket
            .send_to(message, to)
            .await
            .map_err(|e| fail(&format!("cannot send to {to}"), &e))?;
        if sent != message.len() {
            return Err(Failure {
                error: format!("sent {sent} of {} bytes to {to}", message.len()),
                retry_after: None,
            });
        }
        Ok(())
    }

    async fn send_tcp(&self, message: &[u8]) -> Result<(), Failure> {
        let frame = match self.target.framing {
            Framing::OctetCounting => octet_counted(message),
            Framing::Newline => {
                let mut f = message.to_vec();
                f.push(b'\n');
                f
            }
        };
        let mut conn = self.tcp.lock().await;
        // A connection the receiver has closed still accepts a write (which is then lost):
        // look first. Receivers send nothing, so readable means closed (or noise to discard).
        if let Some(stream) = conn.as_ref() {
            let mut probe = [0u8; 512];
            match stream.try_read(&mut probe) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Ok(n) if n > 0 => {}
                _ => *conn = None,
            }
        }
        if conn.is_none() {
            let stream = self
                .within(async {
                    let to = self.resolve().await?;
                    TcpStream::connect(to)
                        .await
                        .map_err(|e| fail(&format!("cannot connect to {to}"), &e))
                })
                .await?;
            let _ = stream.set_nodelay(true);
            *conn = Some(stream);
        }
        let Some(stream) = conn.as_mut() else {
            return Err(Failure {
                error: "no connection".into(),
                retry_after: None,
            });
        };
        let address = &self.target.address;
        let written = self
            .within(async {
                let io = async {
                    stream.write_all(&frame).await?;
                    stream.flush().await
                };
                io.await
                    .map_err(|e| fail(&format!("cannot write to {address}"), &e))
            })
            .await;
        if written.is_err() {
            // A frame may be half written: the stream cannot carry another one.
            *conn = None;
        }
        written
    }
}
