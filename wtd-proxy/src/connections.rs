//! Which connections the proxy holds, for whom, and which one to close when it is full.
//!
//! Polite clients can fill a server as surely as slow ones: thousands of keep-alive
//! connections that each send a request now and then are neither slow nor idle for long.
//! So when every slot is taken, a new connection is not made to wait: the proxy closes the
//! idlest connection of the *heaviest network* (the IPv4 /24 or IPv6 /48 holding the most
//! connections), and the newcomer takes its place. Whoever holds the most pays for the
//! crowd, and a node with a handful of connections is never the one closed while anyone
//! holds more.
//!
//! Within that network the connection closed is, in order: one that never carried a
//! node's signed request that succeeded (`/tx`, `/rx`, `/ping`, `/bye`), one with no
//! request in progress, and the one that has waited longest since its last request. So
//! signed node traffic keeps its connections longest: that is the share kept for it.
//!
//! Counts are bounded too: per client (an IPv4 address, an IPv6 /64) and per network; a
//! connection past either is closed at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

use crate::clients::{client_of, network_of};

/// The bounds a [`ConnectionTable`] keeps.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionBounds {
    /// Connections held at once; past it the idlest of the heaviest network is closed.
    pub max: usize,
    /// Connections one client (address, IPv6 /64) may hold.
    pub per_client: usize,
    /// Connections one network (IPv4 /24, IPv6 /48) may hold.
    pub per_network: usize,
}

/// Every connection held, shared by the accept loop and the connections' tasks.
#[derive(Debug)]
pub struct ConnectionTable {
    bounds: ConnectionBounds,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    connections: HashMap<u64, Connection>,
    per_client: HashMap<IpAddr, usize>,
    per_network: HashMap<IpAddr, usize>,
}

#[derive(Debug)]
struct Connection {
    client: IpAddr,
    network: IpAddr,
    /// Requests in progress.
    busy: usize,
    /// When its last request started or ended (or it opened).
    last_active: Instant,
    /// It carried a node's signed request that succeeded.
    node_traffic: bool,
    /// Chosen to be closed; its task is on its way out.
    evicted: bool,
    /// Wakes its task to close it.
    close: Arc<Notify>,
}

/// Why a new connection was closed at once.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Its client holds its share.
    Client,
    /// Its network holds its share.
    Network,
}

impl ConnectionTable {
    /// An empty table.
    pub fn new(bounds: ConnectionBounds) -> Arc<ConnectionTable> {
        Arc::new(ConnectionTable {
            bounds,
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a new connection from `ip`. Past the bound on connections, the idlest
    /// connection of the heaviest network is told to close (it may be one of `ip`'s own).
    pub fn open(self: &Arc<Self>, ip: IpAddr) -> Result<Held, Refused> {
        let (client, network) = (client_of(ip), network_of(ip));
        let mut inner = self.lock();
        if inner.per_client.get(&client).copied().unwrap_or(0) >= self.bounds.per_client.max(1) {
            return Err(Refused::Client);
        }
        if inner.per_network.get(&network).copied().unwrap_or(0) >= self.bounds.per_network.max(1) {
            return Err(Refused::Network);
        }
        *inner.per_client.entry(client).or_insert(0) += 1;
        *inner.per_network.entry(network).or_insert(0) += 1;
        let id = inner.next_id;
        inner.next_id += 1;
        let close = Arc::new(Notify::new());
        inner.connections.insert(
            id,
            Connection {
                client,
                network,
                busy: 0,
                last_active: Instant::now(),
                node_traffic: false,
                evicted: false,
                close: close.clone(),
            },
        );
        let live = inner.connections.values().filter(|c| !c.evicted).count();
        if live > self.bounds.max.max(1) {
            inner.evict_one();
        }
        Ok(Held {
            table: self.clone(),
            id,
            close,
        })
    }

    /// Connections counted now (those being closed included).
    pub fn len(&self) -> usize {
        self.lock().connections.len()
    }

    /// Whether no connection is counted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    /// Tells the idlest connection of the heaviest network to close.
    fn evict_one(&mut self) {
        // Counted afresh, leaving out connections already on their way out.
        let mut live: HashMap<IpAddr, usize> = HashMap::new();
        for c in self.connections.values().filter(|c| !c.evicted) {
            *live.entry(c.network).or_insert(0) += 1;
        }
        let heaviest = live.into_iter().max_by_key(|(_, n)| *n).map(|(net, _)| net);
        let victim = self
            .connections
            .values_mut()
            .filter(|c| !c.evicted && Some(c.network) == heaviest)
            .min_by_key(|c| (c.node_traffic, c.busy > 0, c.last_active));
        if let Some(victim) = victim {
            victim.evicted = true;
            // A stored permit: the task closes even if it is not waiting right now.
            victim.close.notify_one();
            tracing::debug!(network = %victim.network, "the proxy is full: closing the idlest connection of the busiest network");
        }
    }
}

/// One counted connection, given back when dropped.
#[derive(Debug)]
pub struct Held {
    table: Arc<ConnectionTable>,
    id: u64,
    close: Arc<Notify>,
}

impl Held {
    /// Completes when this connection is chosen to be closed.
    pub async fn evicted(&self) {
        self.close.notified().await;
    }

    /// A request started on this connection.
    pub fn request_started(&self) {
        if let Some(c) = self.table.lock().connections.get_mut(&self.id) {
            c.busy += 1;
            c.last_active = Instant::now();
        }
    }

    /// A request ended; `node_traffic` if it was a node's signed request that succeeded.
    pub fn request_ended(&self, node_traffic: bool) {
        if let Some(c) = self.table.lock().connections.get_mut(&self.id) {
            c.busy = c.busy.saturating_sub(1);
            c.last_active = Instant::now();
            c.node_traffic |= node_traffic;
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut guard = self.table.lock();
        let inner = &mut *guard;
        if let Some(c) = inner.connections.remove(&self.id) {
            uncount(&mut inner.per_client, c.client);
            uncount(&mut inner.per_network, c.network);
        }
    }
}

/// Takes one connection off `key`'s count, forgetting it at zero.
fn uncount(counts: &mut HashMap<IpAddr, usize>, key: IpAddr) {
    if let Some(n) = counts.get_mut(&key) {
        *n -= 1;
        if *n == 0 {
            counts.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(a: u8, b: u8) -> IpAddr {
        IpAddr::from([192, 0, a, b])
    }

    fn evicted(held: &Held) -> bool {
        let inner = held.table.lock();
        inner.connections.get(&held.id).is_some_and(|c| c.evicted)
    }

    #[test]
    fn clients_and_networks_have_shares() {
        let table = ConnectionTable::new(ConnectionBounds {
            max: 100,
            per_client: 2,
            per_network: 3,
        });
        let _a = [
            table.open(ip(1, 1)).expect("1"),
            table.open(ip(1, 1)).expect("2"),
        ];
        assert_eq!(table.open(ip(1, 1)).err(), Some(Refused::Client));
        let b = table.open(ip(1, 2)).expect("another address");
        assert_eq!(table.open(ip(1, 3)).err(), Some(Refused::Network));
        table.open(ip(2, 1)).expect("another network");
        drop(b);
        table.open(ip(1, 3)).expect("a share came back");
    }

    #[test]
    fn when_full_the_idlest_of_the_heaviest_network_is_closed() {
        let table = ConnectionTable::new(ConnectionBounds {
            max: 4,
            per_client: 10,
            per_network: 10,
        });
        let node = table.open(ip(1, 1)).expect("a node");
        node.request_started();
        node.request_ended(true);
        let crowd: Vec<Held> = (0..3)
            .map(|_| table.open(ip(2, 1)).expect("crowd"))
            .collect();
        // The newest of the crowd is busy, the others idle.
        crowd[2].request_started();
        let newcomer = table.open(ip(3, 1)).expect("never made to wait");
        assert!(evicted(&crowd[0]), "the crowd's idlest pays");
        assert!(!evicted(&node) && !evicted(&newcomer) && !evicted(&crowd[2]));
        let _another = table.open(ip(4, 1)).expect("again");
        assert!(evicted(&crowd[1]));
        assert!(!evicted(&node), "a node's connection is closed last");
    }
}
