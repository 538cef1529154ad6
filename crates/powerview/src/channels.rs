//! Channel layout of a T302 file: which device owns each column and what the column is called.

use std::collections::HashMap;

/// Whether a column belongs to the master logger or to a slave module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceType {
    /// The logger whose serial number is in column 0 of the serial-number line.
    Master,
    /// Any other device (a slave module such as `04000466`).
    Slave,
}

impl DeviceType {
    /// `"master"` or `"slave"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Master => "master",
            Self::Slave => "slave",
        }
    }
}

/// Electrical layout of the master logger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhaseType {
    /// One voltage channel (`U1`).
    Single,
    /// Three voltage channels (`U1`, `U2`, `U3`).
    Three,
}

impl PhaseType {
    /// `"single"` or `"three"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::Three => "three",
        }
    }
}

/// One data column of a T302 file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    /// Position of the column in a line: 1 for the first value after the timestamp, and so on.
    /// Also the index + 1 of this channel in [`crate::Row::values`].
    pub column: usize,
    /// `M{master}_{label}` for the master's channels, `M{master}_S{slave}_{label}` for a slave's.
    pub channel_id: String,
    /// Serial number of the master (column 0 of the serial-number line), as text.
    pub device_master_sn: String,
    /// Serial number of the device that owns this column, as text.
    pub device_sn: String,
    /// Master or slave.
    pub device_type: DeviceType,
    /// `U1`…`U3` for the master's voltage channels, `Ch1`, `Ch2`, … for the others, numbered per
    /// device in column order.
    pub label: String,
    /// Column label text without its unit (`Ph 1`, `Voie1`, `minipince`).
    pub name: String,
    /// Unit: the text after the last space of the column label (`V`, `W`); empty if the label has no
    /// space.
    pub unit: String,
    /// The format marker of the file (`MV_T302_V002`, `MV_T302_V003`).
    pub source_format: String,
}

/// Splits a column label at its last space into (name, unit): `Ph 1 V` → (`Ph 1`, `V`).
/// A label without a space is all name, with an empty unit.
pub fn split_label(label: &str) -> (&str, &str) {
    match label.rsplit_once(' ') {
        Some((name, unit)) => (name.trim(), unit.trim()),
        None => (label.trim(), ""),
    }
}

/// Three-phase if the column names include `Ph 1`, `Ph 2` and `Ph 3` (spaces and letter case
/// ignored), single-phase otherwise.
pub fn detect_phase_type<'a>(names: impl IntoIterator<Item = &'a str>) -> PhaseType {
    let mut seen = [false; 3];
    for name in names {
        let compact: String = name
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect();
        match compact.as_str() {
            "ph1" => seen[0] = true,
            "ph2" => seen[1] = true,
            "ph3" => seen[2] = true,
            _ => {}
        }
    }
    if seen == [true; 3] {
        PhaseType::Three
    } else {
        PhaseType::Single
    }
}

/// Builds the channel list from the device serial of each data column and its label (both without the
/// leading column 0). The caller guarantees `serials.len() == labels.len()`.
pub(crate) fn build_channels(
    master_sn: &str,
    serials: &[String],
    labels: &[String],
    phase: PhaseType,
    marker: &str,
) -> Vec<ChannelInfo> {
    let voltage_channels = match phase {
        PhaseType::Single => 1,
        PhaseType::Three => 3,
    };
    let mut per_device: HashMap<&str, usize> = HashMap::new();
    serials
        .iter()
        .zip(labels)
        .enumerate()
        .map(|(index, (serial, label_text))| {
            let count = per_device.entry(serial.as_str()).or_insert(0);
            *count += 1;
            let number = *count;
            let device_type = if serial == master_sn {
                DeviceType::Master
            } else {
                DeviceType::Slave
            };
            let label = match device_type {
                DeviceType::Master if number <= voltage_channels => format!("U{number}"),
                DeviceType::Master => format!("Ch{}", number - voltage_channels),
                DeviceType::Slave => format!("Ch{number}"),
            };
            let channel_id = match device_type {
                DeviceType::Master => format!("M{master_sn}_{label}"),
                DeviceType::Slave => format!("M{master_sn}_S{serial}_{label}"),
            };
            let (name, unit) = split_label(label_text);
            ChannelInfo {
                column: index + 1,
                channel_id,
                device_master_sn: master_sn.to_owned(),
                device_sn: serial.clone(),
                device_type,
                label,
                name: name.to_owned(),
                unit: unit.to_owned(),
                source_format: marker.to_owned(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_labels_on_last_space() {
        assert_eq!(split_label("Ph 1 V"), ("Ph 1", "V"));
        assert_eq!(split_label("Voie1 W"), ("Voie1", "W"));
        assert_eq!(split_label("minipince W"), ("minipince", "W"));
        assert_eq!(split_label("D39L1 W"), ("D39L1", "W"));
        assert_eq!(split_label("nounit"), ("nounit", ""));
        assert_eq!(split_label(""), ("", ""));
    }

    #[test]
    fn phase_detection() {
        assert_eq!(
            detect_phase_type(["Ph 1", "Ph 2", "Ph 3", "Voie1"]),
            PhaseType::Three
        );
        assert_eq!(detect_phase_type(["ph3", "PH 2", "Ph1"]), PhaseType::Three);
        assert_eq!(detect_phase_type(["Ph 1", "Voie1"]), PhaseType::Single);
        assert_eq!(detect_phase_type(["Ph 1", "Ph 2"]), PhaseType::Single);
        assert_eq!(
            detect_phase_type(["Ph 10", "Ph 2", "Ph 3"]),
            PhaseType::Single
        );
    }

    #[test]
    fn numbering_per_device() {
        let serials: Vec<String> = ["M", "M", "S1", "M", "S1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let labels: Vec<String> = ["Ph 1 V", "Voie1 W", "Voie1 W", "Voie2 W", "x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let ch = build_channels("M", &serials, &labels, PhaseType::Single, "MV_T302_V002");
        let ids: Vec<&str> = ch.iter().map(|c| c.channel_id.as_str()).collect();
        assert_eq!(
            ids,
            ["MM_U1", "MM_Ch1", "MM_SS1_Ch1", "MM_Ch2", "MM_SS1_Ch2"]
        );
        assert_eq!(ch[4].unit, "");
        assert_eq!(ch[4].name, "x");
        assert_eq!(ch[2].device_type, DeviceType::Slave);
        assert_eq!(ch[3].column, 4);
    }
}
