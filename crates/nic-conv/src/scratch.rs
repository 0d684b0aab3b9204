//! Patch matrices and other temporaries kept from one layer to the next.
//!
//! A layer's patch matrix is up to 32 MiB ([`crate::PATCH_BUDGET`]), and a training step runs
//! some thirty layer passes: allocated afresh, each would be zeroed by the allocator before
//! im2col overwrites it (`memset` was 9–11 % of a training step). Kept here, a buffer is
//! zeroed only where it grows.

use std::sync::Mutex;

/// Buffers waiting for their next layer; a pass takes at most three at a time.
static FREE: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

/// At most this many buffers are kept (more are freed).
const KEPT: usize = 4;

/// A temporary buffer taken from the kept ones, given back when dropped.
pub(crate) struct Scratch(Vec<f32>);

impl Scratch {
    pub fn take() -> Self {
        let kept = FREE.lock().ok().and_then(|mut free| free.pop());
        Scratch(kept.unwrap_or_default())
    }

    /// The first `len` values (whatever an earlier user left there; new ones zero).
    pub fn sized(&mut self, len: usize) -> &mut [f32] {
        if self.0.len() < len {
            self.0.resize(len, 0.0);
        }
        &mut self.0[..len]
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Ok(mut free) = FREE.lock()
            && free.len() < KEPT
        {
            free.push(std::mem::take(&mut self.0));
        }
    }
}
