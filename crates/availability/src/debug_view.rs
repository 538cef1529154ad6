//! JSON debug view of an aggregate state (serde `Serialize`).

use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::state::AvailabilityState;

#[derive(serde::Serialize)]
struct RunView<'a> {
    state: &'a str,
    start: i64,
    last: i64,
}

#[derive(serde::Serialize)]
struct EventView<'a> {
    time: i64,
    state: &'a str,
}

/// Serializes as `{"format_version", "from", "to", "liveness_us",
/// "gap_policy", "weights", "carry_in_param", "carry_in_event", "approximate",
/// "holes", "runs"}`
/// with buffered events folded into `runs` (times in µs).
impl Serialize for AvailabilityState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let runs = self.snapshot_runs();
        let run_views: Vec<RunView<'_>> = runs
            .iter()
            .map(|r| RunView {
                state: self.names.name(r.state),
                start: r.start,
                last: r.last,
            })
            .collect();
        let mut s = serializer.serialize_struct("AvailabilityState", 11)?;
        s.serialize_field("format_version", &1u8)?;
        s.serialize_field("from", &self.from)?;
        s.serialize_field("to", &self.to)?;
        s.serialize_field("liveness_us", &self.config.liveness_us())?;
        s.serialize_field("gap_policy", &self.config.gap_policy())?;
        s.serialize_field("weights", self.config.weights())?;
        s.serialize_field(
            "carry_in_param",
            &self.carry_in_param.map(|id| self.names.name(id)),
        )?;
        s.serialize_field(
            "carry_in_event",
            &self.carry_in_event.map(|(time, id)| EventView {
                time,
                state: self.names.name(id),
            }),
        )?;
        s.serialize_field("approximate", &self.is_approximate())?;
        s.serialize_field("holes", &self.holes)?;
        s.serialize_field("runs", &run_views)?;
        s.end()
    }
}
