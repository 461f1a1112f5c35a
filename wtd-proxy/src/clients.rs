//! What one client address may hold on the routes anyone can use without registering.
//!
//! `/apply` needs no registration: that is what lets a script or the `wtd call` command
//! run a call without being a node. The callee still checks every call, but without a
//! bound per address one stranger could hold all of the proxy's `/apply` slots, or keep a
//! callee busy refusing junk. So each address gets a few slots and a rate of its own.
//!
//! Memory is bounded too: at most [`MAX_CLIENTS`] addresses are tracked, and an address
//! with nothing in flight and a full bucket is forgotten by [`Clients::sweep`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Most client addresses tracked at once.
pub const MAX_CLIENTS: usize = 65_536;

/// Per-address `/apply` slots and rate.
#[derive(Debug)]
pub struct Clients {
    slots: usize,
    rate: f64,
    burst: f64,
    table: Mutex<HashMap<IpAddr, Client>>,
}

#[derive(Debug)]
struct Client {
    in_flight: usize,
    tokens: f64,
    refilled: Instant,
}

/// Why a client is turned away.
#[derive(Debug, PartialEq, Eq)]
pub enum Turned {
    /// It already has this many requests waiting.
    Slots(usize),
    /// It sends more than this many requests per second.
    Rate(u32),
    /// Too many addresses are tracked right now.
    Crowded,
}

impl std::fmt::Display for Turned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Turned::Slots(n) => write!(f, "this address already has {n} calls waiting on /apply"),
            Turned::Rate(n) => write!(
                f,
                "this address sends more than {n} /apply calls per second"
            ),
            Turned::Crowded => write!(f, "too many clients right now: try again in a minute"),
        }
    }
}

impl Clients {
    /// `slots` requests in flight and `rate` per second (with a burst of twice that) for
    /// each address.
    pub fn new(slots: usize, rate: u32) -> Arc<Clients> {
        let rate = f64::from(rate.max(1));
        Arc::new(Clients {
            slots: slots.max(1),
            rate,
            burst: rate * 2.0,
            table: Mutex::new(HashMap::new()),
        })
    }

    /// Takes a slot for `ip`, spending one token; the slot is given back when the
    /// returned guard drops.
    pub fn admit(self: &Arc<Clients>, ip: IpAddr) -> Result<Slot, Turned> {
        let ip = client_of(ip);
        let now = Instant::now();
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if !table.contains_key(&ip) && table.len() >= MAX_CLIENTS {
            return Err(Turned::Crowded);
        }
        let client = table.entry(ip).or_insert(Client {
            in_flight: 0,
            tokens: self.burst,
            refilled: now,
        });
        let elapsed = now.duration_since(client.refilled).as_secs_f64();
        client.tokens = (client.tokens + elapsed * self.rate).min(self.burst);
        client.refilled = now;
        if client.in_flight >= self.slots {
            return Err(Turned::Slots(self.slots));
        }
        if client.tokens < 1.0 {
            return Err(Turned::Rate(self.rate as u32));
        }
        client.tokens -= 1.0;
        client.in_flight += 1;
        Ok(Slot {
            clients: self.clone(),
            ip,
        })
    }

    /// Forgets addresses with nothing in flight whose bucket has refilled.
    pub fn sweep(&self) {
        let now = Instant::now();
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        table.retain(|_, c| {
            let tokens = c.tokens + now.duration_since(c.refilled).as_secs_f64() * self.rate;
            c.in_flight > 0 || tokens < self.burst
        });
    }

    /// Addresses tracked now.
    pub fn len(&self) -> usize {
        self.table.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no address is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The client an address belongs to. An IPv6 host is usually given a whole /64 and can
/// pick any address in it, so all of a /64 counts as one client; an IPv4 address mapped
/// into IPv6 counts as the IPv4 address.
pub fn client_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

/// The network an address belongs to: its IPv4 /24 or IPv6 /48, what one site (a
/// household, an office, a small hosting customer) usually holds. Connections are also
/// counted per network, so many addresses of one network still count as one crowd.
pub fn network_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 80) - 1);
            IpAddr::V6(prefix.into())
        }
        IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & 0xffff_ff00).into()),
    }
}

/// A request in flight for one address.
#[derive(Debug)]
pub struct Slot {
    clients: Arc<Clients>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut table = self.clients.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = table.get_mut(&self.ip) {
            client.in_flight = client.in_flight.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn an_ipv6_slash_64_is_one_client() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("v6");
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().expect("v6");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("v6");
        assert_eq!(client_of(a), client_of(b));
        assert_ne!(client_of(a), client_of(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("mapped");
        assert_eq!(client_of(mapped), IpAddr::from([192, 0, 2, 7]));

        let clients = Clients::new(1, 1000);
        let _held = clients.admit(a).expect("first");
        assert_eq!(clients.admit(b).err(), Some(Turned::Slots(1)));
        clients.admit(other).expect("another /64");
    }

    #[test]
    fn a_network_is_an_ipv4_slash_24_or_an_ipv6_slash_48() {
        let net = |ip: &str| network_of(ip.parse().expect("an address"));
        assert_eq!(net("192.0.2.7"), net("192.0.2.200"));
        assert_ne!(net("192.0.2.7"), net("192.0.3.7"));
        assert_eq!(net("::ffff:192.0.2.7"), net("192.0.2.1"));
        assert_eq!(net("2001:db8:1:2::1"), net("2001:db8:1:ffff::1"));
        assert_ne!(net("2001:db8:1::1"), net("2001:db8:2::1"));
    }

    #[test]
    fn slots_are_per_address_and_come_back() {
        let clients = Clients::new(2, 1000);
        let a1 = clients.admit(ip(1)).expect("first");
        let _a2 = clients.admit(ip(1)).expect("second");
        assert_eq!(clients.admit(ip(1)).err(), Some(Turned::Slots(2)));
        // Another address is not affected.
        let _b = clients.admit(ip(2)).expect("another address");
        drop(a1);
        clients.admit(ip(1)).expect("a slot came back");
    }

    #[test]
    fn the_rate_allows_a_burst_then_refuses() {
        let clients = Clients::new(1000, 5);
        let mut admitted = 0;
        while clients.admit(ip(1)).is_ok() {
            admitted += 1;
            assert!(admitted <= 20, "never refused");
        }
        assert!(
            (10..=11).contains(&admitted),
            "burst of twice the rate: {admitted}"
        );
        assert_eq!(clients.admit(ip(1)).err(), Some(Turned::Rate(5)));
        clients
            .admit(ip(2))
            .expect("another address has its own bucket");
    }

    #[test]
    fn idle_addresses_are_forgotten_busy_ones_kept() {
        let clients = Clients::new(4, 1000);
        let busy = clients.admit(ip(1)).expect("busy");
        drop(clients.admit(ip(2)).expect("idle"));
        clients.sweep();
        // ip(2) spent a token that refills within a millisecond at 1000/s; ip(1) is busy.
        std::thread::sleep(std::time::Duration::from_millis(5));
        clients.sweep();
        assert_eq!(clients.len(), 1);
        drop(busy);
        std::thread::sleep(std::time::Duration::from_millis(5));
        clients.sweep();
        assert!(clients.is_empty());
    }
}
