//! # liveness-server
//!
//! The verification backend. Integrators' backends create sessions with their API key; the
//! device uploads signed evidence with a one-time submission token; a background job checks
//! the evidence (device signature, frame hashes, session binding, timing) and re-runs the
//! vision models on the key frames to confirm each challenge really happened; the verdict is
//! signed with an Ed25519 key published as a JWKS, stored, served behind the result token and
//! pushed to the integrator through a durable webhook outbox.
//!
//! Every piece of state lives in the database (SQLite file by default, PostgreSQL through
//! `DATABASE_URL`), so several instances can share one PostgreSQL: jobs and webhook
//! deliveries are claimed with expiring leases, rate limits are database counters.
//!
//! Data flow, by module: [`api`] (HTTP) → [`store`] (SQL) → [`worker`] (claims jobs) →
//! [`verify`] (evidence and model checks, [`light`] for the screen-light step) → [`keys`] (verdict signatures) → [`webhooks`];
//! [`ending`] closes the sessions that end without evidence (cancelled, or never uploaded).

#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod at_rest;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod egress;
pub mod ending;
pub mod error;
pub mod http;
pub mod keys;
pub mod lifecycle;
pub mod light;
pub mod metrics;
pub mod objects;
pub mod ratelimit;
pub mod server;
pub mod store;
pub mod tokens;
pub mod verify;
pub mod webhooks;
pub mod worker;

pub use clock::Clock;
pub use config::ServerConfig;
pub use db::Db;
pub use error::ApiError;
pub use server::{RunningServer, Server};
