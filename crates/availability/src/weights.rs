//! State weights and the severity order ("worst state") used for duplicate
//! timestamps and timeline reduction.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{AvailabilityError, Result};

/// Name of the no-information state: the time before the first event when
/// there is no carry-in, time after an event with the literal state
/// `"unknown"`, and heartbeat gaps under [`crate::GapPolicy::Unknown`].
pub const UNKNOWN: &str = "unknown";

/// Name of the pseudo-state given to heartbeat gaps under
/// [`crate::GapPolicy::Down`] (default weight 0, so a gap is an outage).
pub const NO_HEARTBEAT: &str = "no_heartbeat";

/// Weight of each state in the availability figure.
///
/// A state has either a weight in `[0, 1]` (it is *included* in the
/// denominator) or no weight (it is *excluded*: its time is reported by
/// `time_in` but counts neither up nor down).
///
/// Defaults: `online` 1, `warning` 0.5, `offline` 0, `no_heartbeat` 0;
/// `maintenance` and `unknown` are excluded. Any state not listed is excluded.
/// States are compared byte-exactly (case-sensitive).
///
/// A weight of exactly 0 makes a state a *down* state: time in it is
/// downtime and entering it starts an outage.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Weights {
    entries: BTreeMap<String, Option<f64>>,
}

impl Default for Weights {
    fn default() -> Self {
        let mut entries = BTreeMap::new();
        entries.insert("online".to_string(), Some(1.0));
        entries.insert("warning".to_string(), Some(0.5));
        entries.insert("offline".to_string(), Some(0.0));
        entries.insert(NO_HEARTBEAT.to_string(), Some(0.0));
        entries.insert("maintenance".to_string(), None);
        entries.insert(UNKNOWN.to_string(), None);
        Weights { entries }
    }
}

impl Weights {
    /// The default weights (see the type documentation).
    pub fn new() -> Self {
        Self::default()
    }

    /// Weights with no entries at all: every state is excluded until
    /// [`Weights::set`] gives it a weight.
    pub fn empty() -> Self {
        Weights {
            entries: BTreeMap::new(),
        }
    }

    /// Sets the weight of `state` (`None` = excluded from the denominator).
    /// Errors with `InvalidArgument` unless the weight is finite and in `[0, 1]`.
    pub fn set(&mut self, state: &str, weight: Option<f64>) -> Result<()> {
        let weight = match weight {
            Some(w) if (0.0..=1.0).contains(&w) => Some(if w == 0.0 { 0.0 } else { w }),
            Some(w) => {
                return Err(AvailabilityError::InvalidArgument(format!(
                    "weight of state {state:?} must be a number in [0, 1], got {w}"
                )))
            }
            None => None,
        };
        self.entries.insert(state.to_string(), weight);
        Ok(())
    }

    /// Default weights overridden by a JSON object such as
    /// `{"maintenance": 1, "calibrating": 0.25, "warning": null}`: a number in
    /// `[0, 1]` sets the weight, `null` excludes the state. JSON `null` (no
    /// map at all) gives the defaults. Anything else is `InvalidArgument`.
    pub fn from_json(value: &serde_json::Value) -> Result<Self> {
        let mut weights = Weights::default();
        let map = match value {
            serde_json::Value::Null => return Ok(weights),
            serde_json::Value::Object(map) => map,
            other => {
                return Err(AvailabilityError::InvalidArgument(format!(
                    "weights must be a JSON object mapping state to number or null, got {other}"
                )))
            }
        };
        for (state, w) in map {
            let weight = match w {
                serde_json::Value::Null => None,
                serde_json::Value::Number(n) => match n.as_f64() {
                    Some(f) => Some(f),
                    None => {
                        return Err(AvailabilityError::InvalidArgument(format!(
                            "weight of state {state:?} is not a representable number"
                        )))
                    }
                },
                other => {
                    return Err(AvailabilityError::InvalidArgument(format!(
                        "weight of state {state:?} must be a number or null, got {other}"
                    )))
                }
            };
            weights.set(state, weight)?;
        }
        Ok(weights)
    }

    /// [`Weights::from_json`] on JSON text.
    pub fn from_json_str(text: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            AvailabilityError::InvalidArgument(format!("weights are not valid JSON: {e}"))
        })?;
        Self::from_json(&value)
    }

    /// Weight of `state`; `None` means excluded from the denominator.
    pub fn weight(&self, state: &str) -> Option<f64> {
        self.entries.get(state).copied().flatten()
    }

    /// All explicit entries in name order (`None` = excluded).
    pub fn entries(&self) -> impl Iterator<Item = (&str, Option<f64>)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// Severity order, worst first: `Less` means `a` is worse than `b`.
    ///
    /// 1. weighted states by ascending weight (weight 0 is the worst);
    /// 2. then excluded states other than `unknown` (e.g. `maintenance`);
    /// 3. then `unknown` when it is excluded (no information loses to any
    ///    information).
    ///
    /// Ties (same class and weight) are broken by byte order of the name, so
    /// the order is total and independent of input order. Rationale: the
    /// reduction keeps what hurts availability most; a state that does not
    /// count never hides one that does.
    pub fn severity_cmp(&self, a: &str, b: &str) -> Ordering {
        let (ca, wa) = self.severity_key(a);
        let (cb, wb) = self.severity_key(b);
        ca.cmp(&cb)
            .then_with(|| wa.total_cmp(&wb))
            .then_with(|| a.cmp(b))
    }

    fn severity_key(&self, state: &str) -> (u8, f64) {
        match self.weight(state) {
            Some(w) => (0, w),
            None if state == UNKNOWN => (2, 0.0),
            None => (1, 0.0),
        }
    }
}
