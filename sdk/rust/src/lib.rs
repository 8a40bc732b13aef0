//! Signal K WASM plugins in Rust for signalk-edge and signalk-server 2.32.
//!
//! - [`env`]: the upstream host functions (status, deltas, data model, configuration, PUT).
//! - [`hal`]: signalk-edge's hardware functions (serial, CAN, MQTT) under operator grants; a
//!   plugin that uses them loads on signalk-edge only.
//! - [`json`]: a small JSON value (no crates needed).
//! - [`http_endpoints!`] and [`http_handler!`]: the plugin's own HTTP endpoints.
//! - [`provider_handler!`] and [`radar_radars!`]: provider exports (radar, resources, weather).
//! - [`export_plugin!`] and [`put_handler!`]: the exports the host calls, with upstream's Rust
//!   buffer convention (`allocate`/`deallocate`, strings as (ptr, len), results written into a
//!   host buffer).
//!
//! Build with `cargo build --release --target wasm32-wasi` (crate-type `cdylib`). Files under `/`
//! are the plugin's VFS (`/data`, `/config`, `/tmp`), through `std::fs`.

pub mod env;
pub mod ffi;
pub mod hal;
pub mod json;
mod plugin;
pub mod sys;

pub use json::Value;
pub use plugin::{write_http_response, HttpResponse, Plugin, PutResponse};
