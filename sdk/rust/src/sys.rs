//! Raw host imports, exactly as `wit/signalk.wit` declares them: every string or byte buffer is a
//! (ptr, len) pair in the plugin's memory, out-buffers are (ptr, max) and return the bytes written.
//! Only the functions a plugin calls end up as imports of its module (the linker drops the rest),
//! so a plugin that never touches `signalk_hal` still loads on signalk-server.

#[link(wasm_import_module = "env")]
extern "C" {
    pub fn sk_debug(ptr: *const u8, len: usize);
    pub fn sk_set_status(ptr: *const u8, len: usize);
    pub fn sk_set_error(ptr: *const u8, len: usize);
    pub fn sk_get_self_path(path_ptr: *const u8, path_len: usize, buf: *mut u8, buf_max: usize) -> i32;
    /// Not provided by signalk-server 2.32 (a plugin importing it does not link there).
    pub fn sk_get_path(path_ptr: *const u8, path_len: usize, buf: *mut u8, buf_max: usize) -> i32;
    pub fn sk_handle_message(ptr: *const u8, len: usize, version: i32);
    pub fn sk_publish_notification(path_ptr: *const u8, path_len: usize, value_ptr: *const u8, value_len: usize) -> i32;
    pub fn sk_read_config(buf: *mut u8, buf_max: usize) -> i32;
    pub fn sk_save_config(ptr: *const u8, len: usize) -> i32;
    pub fn sk_has_capability(ptr: *const u8, len: usize) -> i32;
    pub fn sk_register_put_handler(ctx_ptr: *const u8, ctx_len: usize, path_ptr: *const u8, path_len: usize) -> i32;
    pub fn sk_register_radar_provider(name_ptr: *const u8, name_len: usize) -> i32;
    pub fn sk_radar_emit_spokes(id_ptr: *const u8, id_len: usize, data_ptr: *const u8, data_len: usize) -> i32;
}

#[link(wasm_import_module = "signalk_hal")]
extern "C" {
    pub fn hal_last_error(buf: *mut u8, buf_max: usize) -> i32;
    pub fn serial_open(dev_ptr: *const u8, dev_len: usize, mode: i32, baud: i32) -> i32;
    pub fn serial_read(handle: i32, buf: *mut u8, buf_max: usize) -> i32;
    pub fn serial_write(handle: i32, ptr: *const u8, len: usize) -> i32;
    pub fn serial_close(handle: i32) -> i32;
    pub fn can_open(iface_ptr: *const u8, iface_len: usize, pgns_ptr: *const u8, pgns_len: usize) -> i32;
    pub fn can_read(handle: i32, buf: *mut u8, buf_max: usize) -> i32;
    pub fn can_send(handle: i32, ptr: *const u8, len: usize) -> i32;
    pub fn can_close(handle: i32) -> i32;
    pub fn mqtt_publish(topic_ptr: *const u8, topic_len: usize, payload_ptr: *const u8, payload_len: usize, flags: i32) -> i32;
    pub fn mqtt_subscribe(filter_ptr: *const u8, filter_len: usize, qos: i32) -> i32;
    pub fn mqtt_poll(handle: i32, buf: *mut u8, buf_max: usize) -> i32;
    pub fn mqtt_unsubscribe(handle: i32) -> i32;
}
