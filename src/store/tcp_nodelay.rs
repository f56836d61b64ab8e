//! Turns off Nagle's algorithm on PostgreSQL connections.
//!
//! sqlx 0.9.0 stopped setting `TCP_NODELAY` on the sockets it opens (sqlx issue #4335; the
//! fix, #4336, is merged but not released). Without it, a statement larger than one TCP
//! segment (our batch inserts of a few hundred rows; on a real network anything above about
//! 1.4 kB) ends in a short segment that the kernel holds back until the server acknowledges
//! the previous one, and the server delays that acknowledgement by up to 40 ms. Measured on
//! the benchmark: a group commit's two batch inserts took 50 ms each instead of 10.
//!
//! sqlx does not hand out its socket, so after connecting the pool asks the server which port
//! it sees the connection coming from (`inet_client_port()`) and [`enable`] looks for the
//! process's own TCP socket with that local port and the server's port as its peer. It sets
//! the option through a duplicate of that descriptor (`pidfd_getfd` on our own process): a
//! duplicate is the same socket, so the option holds for sqlx's descriptor too, and no unsafe
//! code is needed. Where this is not possible (not Linux, a kernel older than 5.6, a seccomp
//! profile refusing the call, a proxy in between that changes the port) the connection works
//! as before, only slower, and a debug line says so.
//!
//! Remove this module once sqlx sets the option again.

/// What [`enable`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The socket was found and the option set.
    Set,
    /// No socket of this process has that local port and peer port.
    NotFound,
}

/// Sets `TCP_NODELAY` on this process's TCP socket whose local port is `local_port` and whose
/// peer port is `server_port`.
#[cfg(target_os = "linux")]
pub fn enable(local_port: u16, server_port: u16) -> std::io::Result<Outcome> {
    match find(local_port, server_port)? {
        Some(socket) => {
            rustix::net::sockopt::set_tcp_nodelay(&socket, true)?;
            Ok(Outcome::Set)
        }
        None => Ok(Outcome::NotFound),
    }
}

/// A duplicate of the process's TCP socket with these ports, if there is one.
#[cfg(target_os = "linux")]
fn find(local_port: u16, server_port: u16) -> std::io::Result<Option<std::os::fd::OwnedFd>> {
    use rustix::net::{getpeername, getsockname};
    use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};
    use std::net::SocketAddr;

    let ours = pidfd_open(getpid(), PidfdFlags::empty())?;
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let entry = entry?;
        // Sockets read as `socket:[inode]`; everything else (files, pipes, epoll) is skipped
        // without touching it.
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.as_os_str().as_encoded_bytes().starts_with(b"socket:"));
        let number = entry.file_name().to_str().and_then(|name| name.parse::<i32>().ok());
        let (true, Some(number)) = (is_socket, number) else { continue };
        // The descriptor may have been closed since the directory was read: skip it then.
        let Ok(socket) = pidfd_getfd(&ours, number, PidfdGetfdFlags::empty()) else { continue };
        let local = getsockname(&socket).ok().and_then(|address| SocketAddr::try_from(address).ok());
        let peer = getpeername(&socket).ok().flatten().and_then(|address| SocketAddr::try_from(address).ok());
        if let (Some(local), Some(peer)) = (local, peer)
            && local.port() == local_port
            && peer.port() == server_port
        {
            return Ok(Some(socket));
        }
    }
    Ok(None)
}

/// Whether the socket with these ports has Nagle's algorithm off; `None` if there is none.
#[cfg(all(test, target_os = "linux"))]
pub fn is_set(local_port: u16, server_port: u16) -> std::io::Result<Option<bool>> {
    find(local_port, server_port)?
        .map(|socket| rustix::net::sockopt::tcp_nodelay(&socket).map_err(std::io::Error::from))
        .transpose()
}

#[cfg(not(target_os = "linux"))]
pub fn enable(_local_port: u16, _server_port: u16) -> std::io::Result<Outcome> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "only implemented for Linux"))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn finds_the_socket_by_its_ports_and_sets_the_option() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server_port = listener.local_addr().unwrap().port();
        let client = TcpStream::connect(("127.0.0.1", server_port)).unwrap();
        let (_accepted, _) = listener.accept().unwrap();
        assert!(!client.nodelay().unwrap(), "Nagle's algorithm is on by default");

        let local_port = client.local_addr().unwrap().port();
        assert_eq!(enable(local_port, server_port).unwrap(), Outcome::Set);
        assert!(client.nodelay().unwrap(), "the option reaches the original descriptor");
    }

    #[test]
    fn a_port_pair_no_socket_has_is_reported() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server_port = listener.local_addr().unwrap().port();
        let client = TcpStream::connect(("127.0.0.1", server_port)).unwrap();
        let local_port = client.local_addr().unwrap().port();
        // The right local port with the wrong peer is not our connection.
        assert_eq!(enable(local_port, server_port.wrapping_add(1)).unwrap(), Outcome::NotFound);
        assert!(!client.nodelay().unwrap());
    }
}
