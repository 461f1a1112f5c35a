//! End-to-end tests: a real proxy and real nodes on 127.0.0.1, talking HTTP for real.
//! Every port is picked free; every test stops what it started.

mod harness;

mod adversarial;
mod backpressure;
mod behaviours;
mod billets;
mod calls;
mod chat;
mod crowds;
mod events;
mod failover;
mod faults;
mod gate;
mod gen_fsm;
mod limits;
mod monitors;
mod operator;
mod proxy;
mod proxy_failover;
mod quickstart;
mod refusals;
mod replay;
mod restart;
mod several_proxies;
mod supervision;
