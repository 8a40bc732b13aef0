//! signalk-edge's hardware functions (wasm module `signalk_hal`): serial, CAN and MQTT, each call
//! checked against the plugin's grants (`signalkEdge.requests` in package.json ∩ the operator's
//! grants). Reads never block; handles are closed when dropped.

use crate::sys;
use std::fmt;

pub const INVALID: i32 = -1;
pub const DENIED: i32 = -2;
pub const NOT_FOUND: i32 = -3;
pub const UNAVAILABLE: i32 = -4;
pub const TOO_SMALL: i32 = -5;
pub const LIMIT: i32 = -6;
pub const IO: i32 = -7;

/// A failed HAL call: the code and the host's explanation (e.g. which grant is missing).
#[derive(Clone, Debug, PartialEq)]
pub struct HalError {
    pub code: i32,
    pub message: String,
}

impl fmt::Display for HalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HAL code {})", self.message, self.code)
    }
}

/// The host's text for this plugin's last HAL error.
pub fn last_error() -> String {
    let mut buf = vec![0u8; 512];
    let n = unsafe { sys::hal_last_error(buf.as_mut_ptr(), buf.len()) };
    buf.truncate(n.max(0) as usize);
    String::from_utf8_lossy(&buf).into_owned()
}

/// A non-negative result as is, a negative one as a HalError.
fn check(result: i32) -> Result<i32, HalError> {
    if result >= 0 {
        Ok(result)
    } else {
        Err(HalError { code: result, message: last_error() })
    }
}

/// Serial mode bits: NMEA lines (else raw bytes) and write access.
pub const SERIAL_LINES: i32 = 1;
pub const SERIAL_WRITE: i32 = 2;
const SERIAL_LINE_MAX: usize = 1024;

pub struct SerialPort {
    handle: i32,
}

impl SerialPort {
    /// Opens a device path or board alias; baud 0 = the speed it is already open at (else 4800).
    /// Needs `serial:<device>` (and `serial:<device>:write` with [`SERIAL_WRITE`]).
    pub fn open(device: &str, mode: i32, baud: i32) -> Result<SerialPort, HalError> {
        let handle = check(unsafe { sys::serial_open(device.as_ptr(), device.len(), mode, baud) })?;
        Ok(SerialPort { handle })
    }

    /// Lines mode: the next line without CR/LF, None when nothing is pending.
    pub fn read_line(&self) -> Result<Option<String>, HalError> {
        let mut buf = vec![0u8; SERIAL_LINE_MAX];
        let n = self.read(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }

    /// Raw mode: bytes read into `buf` (0 = none pending).
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, HalError> {
        check(unsafe { sys::serial_read(self.handle, buf.as_mut_ptr(), buf.len()) }).map(|n| n as usize)
    }

    /// Queues bytes for writing; bytes accepted.
    pub fn write(&self, data: &[u8]) -> Result<usize, HalError> {
        check(unsafe { sys::serial_write(self.handle, data.as_ptr(), data.len()) }).map(|n| n as usize)
    }
}

impl Drop for SerialPort {
    fn drop(&mut self) {
        unsafe { sys::serial_close(self.handle) };
    }
}

/// One CAN frame: 29-bit id and up to 8 data bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct CanFrame {
    pub id: u32,
    pub data: Vec<u8>,
}

const FRAME_SIZE: usize = 16;

impl CanFrame {
    /// The NMEA 2000 PGN in the id.
    pub fn pgn(&self) -> u32 {
        let pgn = (self.id >> 8) & 0x3ffff;
        // PDU1 (PF < 240): the low byte is the destination, not part of the PGN.
        if ((pgn >> 8) & 0xff) < 240 {
            pgn & 0x3ff00
        } else {
            pgn
        }
    }

    pub fn source(&self) -> u8 {
        (self.id & 0xff) as u8
    }

    fn encode(&self) -> [u8; FRAME_SIZE] {
        let mut out = [0u8; FRAME_SIZE];
        out[..4].copy_from_slice(&self.id.to_le_bytes());
        let n = self.data.len().min(8);
        out[4] = n as u8;
        out[8..8 + n].copy_from_slice(&self.data[..n]);
        out
    }

    fn decode(bytes: &[u8]) -> CanFrame {
        let id = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let n = (bytes[4] as usize).min(8);
        CanFrame { id, data: bytes[8..8 + n].to_vec() }
    }
}

pub struct CanChannel {
    handle: i32,
}

impl CanChannel {
    /// Opens an interface (name or board alias) for these PGNs (empty = every PGN granted).
    /// Needs `can:<iface>` or `can:<iface>:<pgns>`.
    pub fn open(iface: &str, pgns: &[u32]) -> Result<CanChannel, HalError> {
        let list = if pgns.is_empty() {
            String::new()
        } else {
            format!("[{}]", pgns.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(","))
        };
        let handle = check(unsafe { sys::can_open(iface.as_ptr(), iface.len(), list.as_ptr(), list.len()) })?;
        Ok(CanChannel { handle })
    }

    /// Every frame pending now.
    pub fn read(&self) -> Result<Vec<CanFrame>, HalError> {
        let mut frames = Vec::new();
        let mut buf = vec![0u8; FRAME_SIZE * 32];
        loop {
            let n = check(unsafe { sys::can_read(self.handle, buf.as_mut_ptr(), buf.len()) })? as usize;
            frames.extend(buf.chunks_exact(FRAME_SIZE).take(n).map(CanFrame::decode));
            if n < buf.len() / FRAME_SIZE {
                return Ok(frames);
            }
        }
    }

    /// Sends one frame; needs `can:<iface>:write`.
    pub fn send(&self, frame: &CanFrame) -> Result<(), HalError> {
        let bytes = frame.encode();
        check(unsafe { sys::can_send(self.handle, bytes.as_ptr(), bytes.len()) }).map(|_| ())
    }
}

impl Drop for CanChannel {
    fn drop(&mut self) {
        unsafe { sys::can_close(self.handle) };
    }
}

/// Publishes on the runtime's MQTT connection (qos 0-2); needs `mqtt:publish:<filter>`.
pub fn mqtt_publish(topic: &str, payload: &[u8], qos: u8, retain: bool) -> Result<(), HalError> {
    let flags = (qos.min(2) as i32) | if retain { 4 } else { 0 };
    check(unsafe { sys::mqtt_publish(topic.as_ptr(), topic.len(), payload.as_ptr(), payload.len(), flags) }).map(|_| ())
}

pub struct MqttMessage {
    pub topic: String,
    pub payload: Vec<u8>,
}

pub struct MqttSubscription {
    handle: i32,
}

const MQTT_MESSAGE_MAX: usize = 64 * 1024;

impl MqttSubscription {
    /// Subscribes (wildcards allowed); needs `mqtt:subscribe:<filter>` covering it.
    pub fn subscribe(filter: &str, qos: u8) -> Result<MqttSubscription, HalError> {
        let handle = check(unsafe { sys::mqtt_subscribe(filter.as_ptr(), filter.len(), qos.min(2) as i32) })?;
        Ok(MqttSubscription { handle })
    }

    /// The next message, None when none is queued.
    pub fn poll(&self) -> Result<Option<MqttMessage>, HalError> {
        let mut buf = vec![0u8; MQTT_MESSAGE_MAX];
        let n = check(unsafe { sys::mqtt_poll(self.handle, buf.as_mut_ptr(), buf.len()) })? as usize;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        let split = buf.iter().position(|b| *b == 0).unwrap_or(n);
        let payload = buf.get(split + 1..).map(|p| p.to_vec()).unwrap_or_default();
        buf.truncate(split);
        Ok(Some(MqttMessage { topic: String::from_utf8_lossy(&buf).into_owned(), payload }))
    }
}

impl Drop for MqttSubscription {
    fn drop(&mut self) {
        unsafe { sys::mqtt_unsubscribe(self.handle) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn can_frame_layout_and_pgn() {
        // PGN 129025 (PDU2: the low byte is part of the PGN), priority 2, source 35.
        let position = CanFrame { id: (2 << 26) | (129025 << 8) | 35, data: vec![1, 2, 3, 4, 5, 6, 7, 8] };
        assert_eq!(position.pgn(), 129025);
        assert_eq!(position.source(), 35);
        assert_eq!(CanFrame::decode(&position.encode()), position);
        // ISO request 59904 (PDU1: the low byte 0x17 is the destination).
        let request = CanFrame { id: (6 << 26) | (0xEA17 << 8) | 1, data: vec![0x14, 0xF0, 0x01] };
        assert_eq!(request.pgn(), 59904);
        let bytes = request.encode();
        assert_eq!(&bytes[..5], &[(request.id & 0xff) as u8, 0x17, 0xEA, 0x18, 3]);
        assert_eq!(&bytes[8..16], &[0x14, 0xF0, 0x01, 0, 0, 0, 0, 0]);
    }
}
