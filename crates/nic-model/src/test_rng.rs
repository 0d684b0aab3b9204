//! Turns at burn's random state for this crate's tests. The state is global to the process and
//! tests run in parallel, so a test that draws weights while another draws too gets other
//! weights than when run alone, and a check that holds for the weights of one seed can fail on
//! those of another. (`nic-testkit` has the same turn for the other crates; it depends on this
//! one, so these tests cannot use it.)

use std::sync::{Mutex, MutexGuard};

use burn::tensor::Device;

/// Seeds `device`'s random state and holds it until the guard is dropped.
pub fn seeded(device: &Device, seed: u64) -> MutexGuard<'static, ()> {
    static RNG: Mutex<()> = Mutex::new(());
    let turn = RNG.lock().unwrap_or_else(|e| e.into_inner());
    device.seed(seed);
    turn
}
