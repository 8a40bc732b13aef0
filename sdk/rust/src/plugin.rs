//! The plugin trait and the macros that turn an implementation into the exports the host calls.

use crate::json::quote;

/// A Signal K plugin. One instance lives for the module's lifetime (the host calls `start` again
/// after `stop` when the operator restarts it).
pub trait Plugin {
    /// Display name.
    fn name(&self) -> String;
    /// JSON Schema of the configuration.
    fn schema(&self) -> String {
        "{\"type\":\"object\",\"properties\":{}}".to_string()
    }
    /// `config` is the configuration object as JSON; 0 = started, anything else = failed.
    fn start(&mut self, config: &str) -> i32;
    fn stop(&mut self) -> i32;
    /// One delta as JSON; called only when the plugin is exported with `delta_handler`.
    fn delta(&mut self, _delta_json: &str) {}
    /// Called every second; only when exported with `poll`. Non-zero is logged by the host.
    fn poll(&mut self) -> i32 {
        0
    }
    /// One of the plugin's HAL handles has data; only when exported with `hal_data`.
    fn hal_data(&mut self) {}
}

/// What a PUT handler answers.
pub struct PutResponse {
    /// HTTP-like status: 200 done, 400 bad value, …
    pub status_code: u16,
    pub message: Option<String>,
}

impl PutResponse {
    pub fn ok() -> PutResponse {
        PutResponse { status_code: 200, message: None }
    }
    pub fn bad_request(message: &str) -> PutResponse {
        PutResponse { status_code: 400, message: Some(message.to_string()) }
    }
    pub fn failed(message: &str) -> PutResponse {
        PutResponse { status_code: 500, message: Some(message.to_string()) }
    }

    /// The JSON the host expects: `{"state":"COMPLETED"|"FAILED","statusCode":n,"message"?}`.
    pub fn to_json(&self) -> String {
        let state = if self.status_code >= 500 { "FAILED" } else { "COMPLETED" };
        match &self.message {
            Some(m) => format!("{{\"state\":\"{}\",\"statusCode\":{},\"message\":{}}}", state, self.status_code, quote(m)),
            None => format!("{{\"state\":\"{}\",\"statusCode\":{}}}", state, self.status_code),
        }
    }
}

/// What an HTTP endpoint handler answers: upstream's `{statusCode, headers, body}`.
pub struct HttpResponse {
    pub status_code: u16,
    pub content_type: &'static str,
    /// Sent as it is (JSON text when `content_type` is JSON).
    pub body: String,
}

impl HttpResponse {
    /// A JSON answer.
    pub fn json(status_code: u16, body: &crate::Value) -> HttpResponse {
        HttpResponse { status_code, content_type: "application/json", body: body.to_string() }
    }
    /// A plain-text answer.
    pub fn text(status_code: u16, body: &str) -> HttpResponse {
        HttpResponse { status_code, content_type: "text/plain; charset=utf-8", body: body.to_string() }
    }

    /// The JSON the host expects; the body travels as a JSON string.
    pub fn to_json(&self) -> String {
        format!("{{\"statusCode\":{},\"headers\":{{\"Content-Type\":{}}},\"body\":{}}}", self.status_code, quote(self.content_type), quote(&self.body))
    }
}

/// Writes an HTTP response into the host's buffer; one that does not fit becomes a 500 saying so
/// (a cut one would be invalid JSON).
///
/// # Safety
/// (out, max) must be a writable block of the plugin's memory, as the host passes it.
pub unsafe fn write_http_response(response: &HttpResponse, out: *mut u8, max: usize) -> i32 {
    let json = response.to_json();
    if json.len() <= max {
        return crate::ffi::write_out(&json, out, max);
    }
    let too_big = HttpResponse::text(500, &format!("response of {} bytes does not fit the host's {}-byte buffer", json.len(), max));
    crate::ffi::write_out(&too_big.to_json(), out, max)
}

/// Exports a [`Plugin`] type (which must implement `Default`): `allocate`, `deallocate`,
/// `plugin_name`, `plugin_schema`, `plugin_start`, `plugin_stop`, and each optional export named
/// after the type: `delta_handler`, `poll`, `hal_data`.
///
/// ```ignore
/// signalk_edge_sdk::export_plugin!(DepthWatch, delta_handler);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty $(, $optional:ident)* $(,)?) => {
        /// The plugin instance (a wasm module is single-threaded: one caller at a time).
        fn __signalk_plugin() -> &'static mut $plugin {
            static mut INSTANCE: Option<$plugin> = None;
            unsafe { INSTANCE.get_or_insert_with(<$plugin as Default>::default) }
        }

        #[no_mangle]
        pub extern "C" fn allocate(size: usize) -> *mut u8 {
            $crate::ffi::allocate(size)
        }

        #[no_mangle]
        pub unsafe extern "C" fn deallocate(ptr: *mut u8, size: usize) {
            $crate::ffi::deallocate(ptr, size)
        }

        #[no_mangle]
        pub unsafe extern "C" fn plugin_name(out: *mut u8, max: usize) -> i32 {
            $crate::ffi::write_out(&$crate::Plugin::name(__signalk_plugin()), out, max)
        }

        #[no_mangle]
        pub unsafe extern "C" fn plugin_schema(out: *mut u8, max: usize) -> i32 {
            $crate::ffi::write_out(&$crate::Plugin::schema(__signalk_plugin()), out, max)
        }

        #[no_mangle]
        pub unsafe extern "C" fn plugin_start(ptr: *const u8, len: usize) -> i32 {
            $crate::Plugin::start(__signalk_plugin(), &$crate::ffi::arg(ptr, len))
        }

        #[no_mangle]
        pub extern "C" fn plugin_stop() -> i32 {
            $crate::Plugin::stop(__signalk_plugin())
        }

        $( $crate::__export_optional!($optional); )*
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_optional {
    (delta_handler) => {
        #[no_mangle]
        pub unsafe extern "C" fn delta_handler(ptr: *const u8, len: usize) {
            $crate::Plugin::delta(__signalk_plugin(), &$crate::ffi::arg(ptr, len))
        }
    };
    (poll) => {
        #[no_mangle]
        pub extern "C" fn poll() -> i32 {
            $crate::Plugin::poll(__signalk_plugin())
        }
    };
    (hal_data) => {
        #[no_mangle]
        pub extern "C" fn hal_data() {
            $crate::Plugin::hal_data(__signalk_plugin())
        }
    };
}

/// Exports a PUT handler under the name the host calls for a registered (context, path):
/// `handle_put_<context>_<path>` with dots as underscores. The function gets the plugin and the
/// value as JSON text and answers a [`PutResponse`].
///
/// ```ignore
/// signalk_edge_sdk::put_handler!(handle_put_vessels_self_environment_depth_alarmDepth, DepthWatch::put_alarm_depth);
/// ```
#[macro_export]
macro_rules! put_handler {
    ($export:ident, $handler:path) => {
        #[no_mangle]
        #[allow(non_snake_case)]
        pub unsafe extern "C" fn $export(ptr: *const u8, len: usize, out: *mut u8, max: usize) -> i32 {
            let response: $crate::PutResponse = $handler(__signalk_plugin(), &$crate::ffi::arg(ptr, len));
            $crate::ffi::write_out(&response.to_json(), out, max)
        }
    };
}

/// Exports `http_endpoints`, the list of the plugin's HTTP endpoints as JSON
/// (`[{"method":"GET","path":"/api/state","handler":"http_get_state"}]`), served by the host under
/// `/plugins/<id>/<path>`; each handler is exported with [`http_handler!`].
#[macro_export]
macro_rules! http_endpoints {
    ($json:expr) => {
        #[no_mangle]
        pub unsafe extern "C" fn http_endpoints(out: *mut u8, max: usize) -> i32 {
            $crate::ffi::write_out($json, out, max)
        }
    };
}

/// Exports an HTTP endpoint handler: the function gets the plugin and the request as JSON
/// (`{method, path, query, params, body, headers}`) and answers an [`HttpResponse`].
///
/// ```ignore
/// signalk_edge_sdk::http_handler!(http_get_state, DepthWatch::http_state);
/// ```
#[macro_export]
macro_rules! http_handler {
    ($export:ident, $handler:path) => {
        #[no_mangle]
        pub unsafe extern "C" fn $export(ptr: *const u8, len: usize, out: *mut u8, max: usize) -> i32 {
            let response: $crate::HttpResponse = $handler(__signalk_plugin(), &$crate::ffi::arg(ptr, len));
            $crate::write_http_response(&response, out, max)
        }
    };
}

/// Exports a provider handler (upstream's `radar_*`, `resources_*`, `weather_*`): the function gets
/// the plugin and the request as JSON text and answers JSON text, written into the host's buffer.
///
/// ```ignore
/// signalk_edge_sdk::provider_handler!(radar_get_radar_info, Radar::info);
/// ```
#[macro_export]
macro_rules! provider_handler {
    ($export:ident, $handler:path) => {
        #[no_mangle]
        pub unsafe extern "C" fn $export(ptr: *const u8, len: usize, out: *mut u8, max: usize) -> i32 {
            let answer: String = $handler(__signalk_plugin(), &$crate::ffi::arg(ptr, len));
            $crate::ffi::write_out(&answer, out, max)
        }
    };
}

/// Exports `radar_get_radars`, which upstream calls without a request (`(out, max)` only): the
/// function gets the plugin and answers the JSON array of its radar ids.
#[macro_export]
macro_rules! radar_radars {
    ($handler:path) => {
        #[no_mangle]
        pub unsafe extern "C" fn radar_get_radars(out: *mut u8, max: usize) -> i32 {
            let answer: String = $handler(__signalk_plugin());
            $crate::ffi::write_out(&answer, out, max)
        }
    };
}
