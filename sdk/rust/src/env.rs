//! Safe wrappers of the upstream `env` host functions.

use crate::json::{quote, Value};
use crate::sys;

/// Largest JSON value read back from the host (data model path or configuration).
const READ_MAX: usize = 64 * 1024;

/// Calls a host function that writes into a buffer; None when it wrote nothing (absent or too big).
fn read_into(max: usize, call: impl FnOnce(*mut u8, usize) -> i32) -> Option<String> {
    let mut buf = vec![0u8; max];
    let n = call(buf.as_mut_ptr(), buf.len());
    if n <= 0 {
        return None;
    }
    buf.truncate((n as usize).min(max));
    String::from_utf8(buf).ok()
}

/// A line in the plugin's log (shown when the operator enables debug for it).
pub fn debug(message: &str) {
    unsafe { sys::sk_debug(message.as_ptr(), message.len()) }
}

/// The plugin's status line.
pub fn set_status(message: &str) {
    unsafe { sys::sk_set_status(message.as_ptr(), message.len()) }
}

/// The plugin's error line.
pub fn set_error(message: &str) {
    unsafe { sys::sk_set_error(message.as_ptr(), message.len()) }
}

/// Emits a Signal K v1 delta given as JSON text.
pub fn handle_message(delta_json: &str) {
    unsafe { sys::sk_handle_message(delta_json.as_ptr(), delta_json.len(), 1) }
}

/// Emits a Signal K v2 delta (upstream: course and other v2 API paths; not merged into the v1 tree).
pub fn handle_message_v2(delta_json: &str) {
    unsafe { sys::sk_handle_message(delta_json.as_ptr(), delta_json.len(), 2) }
}

/// Emits one update of the self vessel with these (path, value) pairs.
pub fn emit_values(values: &[(&str, Value)]) {
    let items: Vec<Value> = values
        .iter()
        .map(|(path, value)| Value::object(vec![("path", Value::from(*path)), ("value", value.clone())]))
        .collect();
    let delta = Value::object(vec![("updates", Value::Array(vec![Value::object(vec![("values", Value::Array(items))])]))]);
    handle_message(&delta.to_string());
}

/// The value at `vessels.self.<path>` (JSON parsed), None when absent.
pub fn get_self_path(path: &str) -> Option<Value> {
    let text = read_into(READ_MAX, |buf, max| unsafe { sys::sk_get_self_path(path.as_ptr(), path.len(), buf, max) })?;
    Value::parse(&text).ok()
}

/// The value at a full path `<context>.<path>` (signalk-edge only: signalk-server 2.32 does not link it).
pub fn get_path(full_path: &str) -> Option<Value> {
    let text = read_into(READ_MAX, |buf, max| unsafe { sys::sk_get_path(full_path.as_ptr(), full_path.len(), buf, max) })?;
    Value::parse(&text).ok()
}

/// Publishes `notifications.<path>` with this state (normal, alert, warn, alarm, emergency) and message.
pub fn publish_notification(path: &str, state: &str, message: &str) -> bool {
    let value = format!("{{\"state\":{},\"method\":[\"visual\",\"sound\"],\"message\":{}}}", quote(state), quote(message));
    unsafe { sys::sk_publish_notification(path.as_ptr(), path.len(), value.as_ptr(), value.len()) == 0 }
}

/// The saved configuration object (also handed to `start`).
pub fn read_config() -> Option<Value> {
    let text = read_into(READ_MAX, |buf, max| unsafe { sys::sk_read_config(buf, max) })?;
    Value::parse(&text).ok()
}

/// Saves the configuration (atomically); false when refused.
pub fn save_config(configuration: &Value) -> bool {
    let text = configuration.to_string();
    unsafe { sys::sk_save_config(text.as_ptr(), text.len()) == 0 }
}

/// Whether the host grants `network` or `rawSockets` (any other name is false).
pub fn has_capability(name: &str) -> bool {
    unsafe { sys::sk_has_capability(name.as_ptr(), name.len()) == 1 }
}

/// Registers a PUT handler for (context, path); needs the `putHandlers` capability. On a PUT the
/// host calls the export `handle_put_<context>_<path>` (dots as underscores): define it with
/// [`crate::put_handler!`].
pub fn register_put_handler(context: &str, path: &str) -> bool {
    unsafe { sys::sk_register_put_handler(context.as_ptr(), context.len(), path.as_ptr(), path.len()) == 1 }
}

/// Registers the plugin as a radar provider under `name`; needs the `radarProvider` capability. The
/// host then calls the plugin's `radar_*` exports: define them with [`crate::radar_radars!`] and
/// [`crate::provider_handler!`].
pub fn register_radar_provider(name: &str) -> bool {
    unsafe { sys::sk_register_radar_provider(name.as_ptr(), name.len()) == 1 }
}

/// Sends one spoke frame (in the plugin's own encoding) to the WebSocket clients of the radar's
/// spokes stream; false when refused (not a registered radar provider, or another's radar id).
pub fn radar_emit_spokes(radar_id: &str, data: &[u8]) -> bool {
    unsafe { sys::sk_radar_emit_spokes(radar_id.as_ptr(), radar_id.len(), data.as_ptr(), data.len()) == 1 }
}
