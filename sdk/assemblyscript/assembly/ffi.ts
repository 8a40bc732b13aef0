// The `signalk_hal` host functions, exactly as the host provides them (see wit/signalk.wit).
// Every parameter and result is an i32; strings and byte blocks are (ptr, len) in this module's
// memory; results below 0 are the HAL_* error codes of ./errors.ts. Prefer the classes in
// ./serial.ts, ./can.ts and ./mqtt.ts, which own the buffers and decode the results.

@external("signalk_hal", "hal_last_error")
export declare function hal_last_error(buf: usize, bufMax: i32): i32

@external("signalk_hal", "serial_open")
export declare function serial_open(devicePtr: usize, deviceLen: i32, mode: i32, baud: i32): i32
@external("signalk_hal", "serial_read")
export declare function serial_read(handle: i32, buf: usize, bufMax: i32): i32
@external("signalk_hal", "serial_write")
export declare function serial_write(handle: i32, dataPtr: usize, dataLen: i32): i32
@external("signalk_hal", "serial_close")
export declare function serial_close(handle: i32): i32

@external("signalk_hal", "can_open")
export declare function can_open(ifacePtr: usize, ifaceLen: i32, pgnsPtr: usize, pgnsLen: i32): i32
@external("signalk_hal", "can_read")
export declare function can_read(handle: i32, buf: usize, bufMax: i32): i32
@external("signalk_hal", "can_send")
export declare function can_send(handle: i32, framePtr: usize, frameLen: i32): i32
@external("signalk_hal", "can_close")
export declare function can_close(handle: i32): i32

@external("signalk_hal", "mqtt_publish")
export declare function mqtt_publish(topicPtr: usize, topicLen: i32, payloadPtr: usize, payloadLen: i32, flags: i32): i32
@external("signalk_hal", "mqtt_subscribe")
export declare function mqtt_subscribe(filterPtr: usize, filterLen: i32, qos: i32): i32
@external("signalk_hal", "mqtt_poll")
export declare function mqtt_poll(handle: i32, buf: usize, bufMax: i32): i32
@external("signalk_hal", "mqtt_unsubscribe")
export declare function mqtt_unsubscribe(handle: i32): i32
