//! Sampling that never drops a denial or an approval request.

use crate::event::AuditDecision;

/// Keeps a share of allowed events; refusals always.
#[derive(Debug, Clone)]
pub(crate) struct Sampler {
    rate: f64,
    state: u64,
}

impl Sampler {
    /// `rate` in `0..=1` (clamped).
    pub(crate) fn new(rate: f64) -> Self {
        let seed = std::process::id() as u64 ^ chrono::Utc::now().timestamp_subsec_nanos() as u64;
        Self {
            rate: rate.clamp(0.0, 1.0),
            state: seed | 1,
        }
    }

    /// Whether to write an event with this decision.
    pub(crate) fn keep(&mut self, decision: AuditDecision) -> bool {
        if decision.is_refusal() || self.rate >= 1.0 {
            return true;
        }
        if self.rate <= 0.0 {
            return false;
        }
        // xorshift64*: sampling needs spread, not cryptographic randomness.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let draw =
            (self.state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
        draw < self.rate
    }
}
