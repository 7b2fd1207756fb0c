//! A hostile client against the service from outside: sockets that never speak or trickle, huge
//! WebSocket frames before sign-in, floods of upgrades, made-up quote symbols, and one user's
//! bursts against another user's streams. Each promise of docs/security.md's threat table that
//! these attacks test fails without its defence.

mod quotes;
mod replicas;
mod server;
mod streams;
