//! Streaming reader for NI LabVIEW TDMS files, following NI's "TDMS File Format
//! Internal Structure" with npTDMS 1.13 as the behavioural reference.
//!
//! [`TdmsFile::open`] indexes a file by reading segment lead-ins and metadata
//! only. Channel values are then streamed with [`TdmsFile::read_channel`] (one
//! channel, optional offset/limit) or [`TdmsFile::read_all`] (every channel in
//! one pass over the file).
//!
//! Conventions:
//! - Timestamps are kept raw ([`Timestamp`]: seconds since 1904-01-01 UTC plus
//!   2^-64 s fractions); conversions to Unix microseconds round to nearest.
//! - Scaled values (NI scaling chains, see [`scaling`]) are `f64`.
//! - Damaged files (unclosed or truncated last segment) give the valid data and
//!   entries in [`TdmsFile::warnings`]; malformed input is a [`TdmsError`], never a panic.

mod decode;
mod error;
mod file;
mod layout;
mod path;
pub mod scaling;
mod scan;
mod types;
mod values;

pub use error::{TdmsError, Warning};
pub use file::{
    ChannelInfo, ChannelReader, ChannelVisitor, DaqmxScalerInfo, GroupInfo, ReadMode, TdmsFile,
    Waveform,
};
pub use path::{format_path, parse_path, ObjectPath};
pub use scaling::{Scale, ScaleChain, ScaleInput, Scaling};
pub use types::{
    properties_to_json, Complex, DataType, ElemType, PropertyValue, Timestamp,
    TDMS_EPOCH_TO_UNIX_SECONDS,
};
pub use values::ValuesBlock;
