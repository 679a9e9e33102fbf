//! The addresses assigned to this host's own interfaces. A service on the
//! host bound to `0.0.0.0` (or `::`) answers on every one of them, so the
//! proxy treats them as local destinations.
//!
//! Read with `getifaddrs` and cached: a decision costs a read lock and a
//! clock read; the list is read again when it is older than [`REFRESH`]
//! (tens of microseconds, once a second at most).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, LazyLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// How old the cached list may be.
const REFRESH: Duration = Duration::from_secs(1);

struct Snapshot {
    taken: Instant,
    addresses: Arc<[IpAddr]>,
}

static CACHE: LazyLock<RwLock<Snapshot>> = LazyLock::new(|| {
    RwLock::new(Snapshot {
        taken: Instant::now(),
        addresses: read_interfaces().unwrap_or_default().into(),
    })
});

/// The host's own addresses (IPv4-mapped ones as IPv4), at most about a
/// second old. When the system cannot list them, the last list read.
pub(crate) fn host_addresses() -> Arc<[IpAddr]> {
    {
        let snapshot = CACHE.read().unwrap_or_else(PoisonError::into_inner);
        if snapshot.taken.elapsed() < REFRESH {
            return Arc::clone(&snapshot.addresses);
        }
    }
    let mut snapshot = CACHE.write().unwrap_or_else(PoisonError::into_inner);
    // Another thread may have refreshed it while this one waited.
    if snapshot.taken.elapsed() >= REFRESH {
        if let Ok(fresh) = read_interfaces() {
            snapshot.addresses = fresh.into();
        }
        snapshot.taken = Instant::now();
    }
    Arc::clone(&snapshot.addresses)
}

/// Every IPv4 and IPv6 address of every interface, sorted, without
/// duplicates.
fn read_interfaces() -> io::Result<Vec<IpAddr>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: `head` is a valid out-pointer; on success the list is freed
    // below with `freeifaddrs`, once, after the last use of its entries.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: a non-null entry of the list `getifaddrs` returned.
        let entry = unsafe { &*cursor };
        if let Some(ip) = address_of(entry.ifa_addr) {
            let ip = match ip {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
                v4 => v4,
            };
            out.push(ip);
        }
        cursor = entry.ifa_next;
    }
    // SAFETY: the list `getifaddrs` returned; no entry is used after this.
    unsafe { libc::freeifaddrs(head) };
    out.sort();
    out.dedup();
    Ok(out)
}

/// The IP address of an interface's `sockaddr`, if it is IPv4 or IPv6.
fn address_of(addr: *const libc::sockaddr) -> Option<IpAddr> {
    if addr.is_null() {
        return None;
    }
    // SAFETY: `getifaddrs` gives a valid sockaddr whose family says its type.
    match i32::from(unsafe { (*addr).sa_family }) {
        libc::AF_INET => {
            // SAFETY: an AF_INET address is a sockaddr_in.
            let sin = unsafe { &*addr.cast::<libc::sockaddr_in>() };
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))))
        }
        libc::AF_INET6 => {
            // SAFETY: an AF_INET6 address is a sockaddr_in6.
            let sin6 = unsafe { &*addr.cast::<libc::sockaddr_in6>() };
            Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_address_listed_is_one_this_host_can_bind() {
        let addresses = host_addresses();
        if addresses.is_empty() {
            println!("SKIPPED: getifaddrs lists no address here");
            return;
        }
        // An address that is not the host's cannot be bound
        // (EADDRNOTAVAIL): a byte-order or a parsing mistake would show.
        let mut bound = 0;
        for &ip in addresses.iter() {
            if let IpAddr::V6(v6) = ip
                && (v6.segments()[0] & 0xffc0) == 0xfe80
            {
                continue; // link-local: needs its interface's scope
            }
            let socket = std::net::UdpSocket::bind((ip, 0));
            assert!(socket.is_ok(), "{ip} is not this host's: {socket:?}");
            bound += 1;
        }
        assert!(bound > 0, "{addresses:?}");
    }
}
