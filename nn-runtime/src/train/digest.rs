//! Digests that must be equal across processes and runs: [`Fnv`], and [`weights_digest`],
//! which a distributed run compares between its workers (`GradientExchange::check_in_sync`)
//! to catch any whose weights drifted apart.

use super::flat::parameters;
use crate::layers::Layer;

/// FNV-1a, for digests that must be equal across processes and runs (std's hasher is
/// randomly keyed).
#[derive(Clone, Copy, Debug)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// A digest of every parameter's bits, in `visit_params` order: equal on two networks
/// exactly when their weights are (but for collisions).
pub fn weights_digest<N: Layer>(net: &mut N) -> u64 {
    let mut h = Fnv::default();
    for x in parameters(net) {
        h.write(&x.to_bits().to_le_bytes());
    }
    h.finish()
}
