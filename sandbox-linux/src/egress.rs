//! The caller's side of a filtered network: each start's socket pair, and
//! the two listeners the sandbox's first process made on its own loopback
//! and sent back on it (see `hand_out_listeners` in `child.rs`).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use codex_policy_model::{EgressListeners, EgressPorts};

use crate::child::{RIGHTS_BUFFER_BYTES, RightsBuffer, rights_message};

/// The ports as the child takes them: HTTP, then SOCKS (the order of the
/// descriptors in the one message it sends).
pub(crate) fn child_ports(ports: EgressPorts) -> [u16; 2] {
    [ports.http, ports.socks]
}

/// Why two ports cannot serve as the egress proxy's: zero (the kernel would
/// pick one the command cannot know) or the same for both.
pub(crate) fn invalid_ports(ports: EgressPorts) -> Option<&'static str> {
    if ports.http == 0 || ports.socks == 0 {
        Some("port 0 would be an ephemeral port the command cannot know")
    } else if ports.http == ports.socks {
        Some("the HTTP and SOCKS listeners need two different ports")
    } else {
        None
    }
}

/// A fresh `SOCK_SEQPACKET` pair for one start: (ours, the sandbox's).
/// Seqpacket keeps the message whole: both descriptors arrive together.
pub(crate) fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: socketpair fills two descriptors we then own.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Receives the two listeners from our end of the pair, once the sandbox's
/// setup is over (the message is queued by then: this never waits). Both
/// or an error: a filtered network without its listeners must not start.
pub(crate) fn receive_listeners(ours: &OwnedFd) -> io::Result<EgressListeners> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = RightsBuffer {
        bytes: [0; RIGHTS_BUFFER_BYTES],
    };
    let mut msg = rights_message(&mut iov, &mut control);
    // SAFETY: recvmsg into our buffers; the CMSG_* arithmetic of the C ABI
    // over a control buffer the kernel filled (its length checked first).
    let received = unsafe {
        let n = libc::recvmsg(
            ours.as_raw_fd(),
            &mut msg,
            libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC,
        );
        if n < 0 {
            let err = io::Error::last_os_error();
            return Err(if err.kind() == io::ErrorKind::WouldBlock {
                missing()
            } else {
                err
            });
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return Err(missing());
        }
        let data = libc::CMSG_DATA(cmsg).cast::<libc::c_int>();
        let header = data as usize - cmsg as usize;
        let count =
            ((*cmsg).cmsg_len as usize).saturating_sub(header) / std::mem::size_of::<libc::c_int>();
        // Whatever arrived is ours to close, even when it is not what was
        // expected (the control buffer bounds how many).
        let fds: Vec<OwnedFd> = (0..count)
            .map(|i| OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))))
            .collect();
        if n != 1 || count != 2 || msg.msg_flags & libc::MSG_CTRUNC != 0 {
            return Err(missing());
        }
        fds
    };
    let [http, socks]: [OwnedFd; 2] = received.try_into().map_err(|_| missing())?;
    Ok(EgressListeners {
        http: http.into(),
        socks: socks.into(),
    })
}

fn missing() -> io::Error {
    io::Error::other("the sandbox did not hand out its two egress listeners")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    //! The caller's side against a sandbox that sends nothing, too little,
    //! or both listeners; the child's side with a socket it cannot send on.
    //! (A real start that fails at these steps cannot be provoked from
    //! outside: the namespace is fresh, and the first process holds every
    //! capability it needs.)

    use std::os::fd::{AsRawFd, IntoRawFd};

    use super::*;
    use crate::child::{Stage, hand_out_listeners, send_fds};

    #[test]
    fn nothing_sent_is_an_error_not_none() {
        let (ours, _theirs) = socket_pair().unwrap();
        let err = receive_listeners(&ours).unwrap_err();
        assert!(err.to_string().contains("two egress listeners"), "{err}");
    }

    #[test]
    fn one_listener_is_an_error_and_is_closed() {
        let (ours, theirs) = socket_pair().unwrap();
        let one = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = one.local_addr().unwrap();
        // SAFETY: sending a descriptor we hold on a socket we hold.
        assert!(unsafe { send_fds(theirs.as_raw_fd(), &[one.as_raw_fd()]) });
        drop(one);
        assert!(receive_listeners(&ours).is_err());
        // The copy that arrived was the last one, and it was not kept: the
        // socket is gone.
        assert!(std::net::TcpStream::connect(addr).is_err());
    }

    #[test]
    fn both_listeners_arrive_close_on_exec() {
        let (ours, theirs) = socket_pair().unwrap();
        // Port 0 here: this test runs in the host's namespace.
        // SAFETY: the function closes `theirs`, given up by the OwnedFd.
        unsafe { hand_out_listeners([0, 0], theirs.into_raw_fd()) }.unwrap();
        let listeners = receive_listeners(&ours).unwrap();
        for listener in [&listeners.http, &listeners.socks] {
            assert!(listener.local_addr().unwrap().ip().is_loopback());
            // SAFETY: F_GETFD on a descriptor we hold.
            let flags = unsafe { libc::fcntl(listener.as_raw_fd(), libc::F_GETFD) };
            assert_ne!(flags & libc::FD_CLOEXEC, 0);
        }
        assert_ne!(
            listeners.http.local_addr().unwrap(),
            listeners.socks.local_addr().unwrap()
        );
    }

    #[test]
    fn a_failed_send_names_its_stage() {
        let (_ours, theirs) = socket_pair().unwrap();
        // A socket that is not connected: the message cannot go.
        // SAFETY: a descriptor we create and give to the function.
        let lone =
            unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
        assert!(lone >= 0);
        // SAFETY: the function closes `lone`.
        let err = unsafe { hand_out_listeners([0, 0], lone) }.unwrap_err();
        assert_eq!(err.0, Stage::EgressListeners);
        assert!(matches!(
            Stage::from_code(err.0 as u32),
            Some(Stage::EgressListeners)
        ));
        assert!(matches!(
            Stage::from_code(Stage::Loopback as u32),
            Some(Stage::Loopback)
        ));
        drop(theirs);
    }

    #[test]
    fn unusable_ports_are_named() {
        let ports = |http, socks| EgressPorts { http, socks };
        assert!(invalid_ports(ports(3128, 1080)).is_none());
        assert!(invalid_ports(ports(0, 1080)).is_some());
        assert!(invalid_ports(ports(1080, 1080)).is_some());
    }
}
