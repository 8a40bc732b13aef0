//! Upstream's buffer convention for Rust plugins: the host places strings with the plugin's
//! `allocate` export and frees them with `deallocate`; strings the plugin returns are written into
//! a host buffer (out, max) and the export returns the bytes written. Used by the export macros.

use std::alloc::{alloc, dealloc, Layout};

fn layout(size: usize) -> Option<Layout> {
    Layout::from_size_align(size.max(1), 1).ok()
}

/// Body of the `allocate` export: a block of `size` bytes, 0 when memory is exhausted.
pub fn allocate(size: usize) -> *mut u8 {
    match layout(size) {
        Some(l) => unsafe { alloc(l) },
        None => std::ptr::null_mut(),
    }
}

/// Body of the `deallocate` export.
///
/// # Safety
/// `ptr` must come from [`allocate`] with the same `size`.
pub unsafe fn deallocate(ptr: *mut u8, size: usize) {
    if let Some(l) = layout(size) {
        if !ptr.is_null() {
            dealloc(ptr, l)
        }
    }
}

/// The host's (ptr, len) argument as text (invalid UTF-8 replaced).
///
/// # Safety
/// (ptr, len) must be a block of the plugin's memory, as the host passes it.
pub unsafe fn arg<'a>(ptr: *const u8, len: usize) -> std::borrow::Cow<'a, str> {
    if ptr.is_null() || len == 0 {
        return std::borrow::Cow::Borrowed("");
    }
    String::from_utf8_lossy(std::slice::from_raw_parts(ptr, len))
}

/// Writes `text` into the host's (out, max) buffer, cut at a character boundary when it does not
/// fit; returns the bytes written.
///
/// # Safety
/// (out, max) must be a writable block of the plugin's memory, as the host passes it.
pub unsafe fn write_out(text: &str, out: *mut u8, max: usize) -> i32 {
    let mut n = text.len().min(max);
    while n > 0 && !text.is_char_boundary(n) {
        n -= 1;
    }
    std::ptr::copy_nonoverlapping(text.as_ptr(), out, n);
    n as i32
}
