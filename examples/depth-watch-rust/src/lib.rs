//! Depth watch, a Signal K plugin in Rust on the repo's SDK (sdk/rust).
//!
//! - Watches `environment.depth.belowKeel`; below the alarm depth it raises the notification
//!   `notifications.environment.depth.belowKeel` (state alarm), and clears it (normal) when the
//!   depth is back above.
//! - The alarm depth comes from the configuration (`alarmDepth`, metres, default 3) and can be
//!   changed by a PUT on `environment.depth.alarmDepth`, which it publishes.
//! - Publishes the shallowest depth seen as `environment.depth.shallowest`, kept in its VFS
//!   (`/data/state.json`) across restarts.
//! - HTTP: `GET /plugins/<id>/api/state` answers its state as JSON; `POST /plugins/<id>/api/reset`
//!   forgets the shallowest depth and the alarm count.

use signalk_edge_sdk::{env, export_plugin, http_endpoints, http_handler, put_handler, HttpResponse, Plugin, PutResponse, Value};
use std::fs;

const DEPTH_PATH: &str = "environment.depth.belowKeel";
const ALARM_DEPTH_PATH: &str = "environment.depth.alarmDepth";
const SHALLOWEST_PATH: &str = "environment.depth.shallowest";
const NOTIFICATION: &str = "environment.depth.belowKeel";
const STATE_FILE: &str = "/data/state.json";
const DEFAULT_ALARM_DEPTH: f64 = 3.0;

#[derive(Default)]
struct DepthWatch {
    alarm_depth: f64,
    shallowest: Option<f64>,
    alarmed: bool,
    alarms: u32,
}

impl DepthWatch {
    fn load_state(&mut self) {
        let state = fs::read_to_string(STATE_FILE).ok().and_then(|t| Value::parse(&t).ok());
        if let Some(state) = state {
            self.shallowest = state.get("shallowest").and_then(Value::as_f64);
            self.alarms = state.get("alarms").and_then(Value::as_f64).unwrap_or(0.0) as u32;
        }
    }

    fn save_state(&self) -> std::io::Result<()> {
        let state = Value::object(vec![
            ("shallowest", self.shallowest.map(Value::from).unwrap_or(Value::Null)),
            ("alarms", Value::from(self.alarms as f64)),
        ]);
        fs::create_dir_all("/data")?;
        // Written aside and renamed: a power cut leaves the old state or the new, never half.
        fs::write("/data/state.json.tmp", state.to_string())?;
        fs::rename("/data/state.json.tmp", STATE_FILE)
    }

    fn status(&self) {
        let shallowest = self.shallowest.map(|d| format!("{:.1} m", d)).unwrap_or_else(|| "none yet".to_string());
        env::set_status(&format!("Alarm below {:.1} m; shallowest {}; {} alarms", self.alarm_depth, shallowest, self.alarms));
    }

    fn depth(&mut self, depth: f64) {
        if self.shallowest.map_or(true, |s| depth < s) {
            self.shallowest = Some(depth);
            env::emit_values(&[(SHALLOWEST_PATH, Value::from(depth))]);
        }
        let shallow = depth < self.alarm_depth;
        if shallow != self.alarmed {
            self.alarmed = shallow;
            if shallow {
                self.alarms += 1;
                env::publish_notification(NOTIFICATION, "alarm", &format!("Depth {:.1} m is below {:.1} m", depth, self.alarm_depth));
            } else {
                env::publish_notification(NOTIFICATION, "normal", "Depth is back above the alarm depth");
            }
        }
        self.status();
    }

    fn put_alarm_depth(&mut self, value_json: &str) -> PutResponse {
        match Value::parse(value_json).ok().and_then(|v| v.as_f64()) {
            Some(d) if d > 0.0 && d < 1000.0 => {
                self.alarm_depth = d;
                env::emit_values(&[(ALARM_DEPTH_PATH, Value::from(d))]);
                self.status();
                PutResponse::ok()
            }
            _ => PutResponse::bad_request("alarm depth must be a number of metres between 0 and 1000"),
        }
    }
}

impl DepthWatch {
    fn http_state(&mut self, _request: &str) -> HttpResponse {
        let state = Value::object(vec![
            ("alarmDepth", Value::from(self.alarm_depth)),
            ("shallowest", self.shallowest.map(Value::from).unwrap_or(Value::Null)),
            ("alarmed", Value::Bool(self.alarmed)),
            ("alarms", Value::from(self.alarms as f64)),
        ]);
        HttpResponse::json(200, &state)
    }

    fn http_reset(&mut self, _request: &str) -> HttpResponse {
        self.shallowest = None;
        self.alarms = 0;
        self.status();
        match self.save_state() {
            Ok(()) => HttpResponse::json(200, &Value::object(vec![("reset", Value::Bool(true))])),
            Err(e) => HttpResponse::text(500, &format!("saving {}: {}", STATE_FILE, e)),
        }
    }
}

impl Plugin for DepthWatch {
    fn name(&self) -> String {
        "Depth watch (Rust)".to_string()
    }

    fn schema(&self) -> String {
        r#"{"type":"object","properties":{"alarmDepth":{"type":"number","title":"Alarm below (m)","default":3}}}"#.to_string()
    }

    fn start(&mut self, config: &str) -> i32 {
        let config = match Value::parse(config) {
            Ok(c) => c,
            Err(e) => {
                env::set_error(&format!("configuration: {}", e));
                return 1;
            }
        };
        self.alarm_depth = config.get("alarmDepth").and_then(Value::as_f64).filter(|d| *d > 0.0).unwrap_or(DEFAULT_ALARM_DEPTH);
        self.alarmed = false;
        self.load_state();
        if !env::register_put_handler("vessels.self", ALARM_DEPTH_PATH) {
            env::set_error("PUT handler for the alarm depth was not registered (putHandlers capability?)");
            return 1;
        }
        let mut values = vec![(ALARM_DEPTH_PATH, Value::from(self.alarm_depth))];
        if let Some(s) = self.shallowest {
            values.push((SHALLOWEST_PATH, Value::from(s)));
        }
        env::emit_values(&values);
        self.status();
        0
    }

    fn stop(&mut self) -> i32 {
        match self.save_state() {
            Ok(()) => 0,
            Err(e) => {
                env::set_error(&format!("saving {}: {}", STATE_FILE, e));
                1
            }
        }
    }

    fn delta(&mut self, delta_json: &str) {
        let delta = match Value::parse(delta_json) {
            Ok(d) => d,
            Err(e) => return env::debug(&format!("delta ignored: {}", e)),
        };
        let updates = delta.get("updates").map(Value::as_array).unwrap_or(&[]);
        for value in updates.iter().flat_map(|u| u.get("values").map(Value::as_array).unwrap_or(&[])) {
            if value.get("path").and_then(Value::as_str) == Some(DEPTH_PATH) {
                if let Some(d) = value.get("value").and_then(Value::as_f64) {
                    self.depth(d);
                }
            }
        }
    }
}

export_plugin!(DepthWatch, delta_handler);
put_handler!(handle_put_vessels_self_environment_depth_alarmDepth, DepthWatch::put_alarm_depth);
http_endpoints!(r#"[{"method":"GET","path":"/api/state","handler":"http_get_state"},{"method":"POST","path":"/api/reset","handler":"http_post_reset"}]"#);
http_handler!(http_get_state, DepthWatch::http_state);
http_handler!(http_post_reset, DepthWatch::http_reset);
