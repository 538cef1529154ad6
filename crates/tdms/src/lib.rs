//! Streaming reader for NI LabVIEW TDMS files, following NI's "TDMS File Format
//! Internal Structure" with npTDMS 1.13 as the behavioural reference.
//!
//! # Use
//! ```no_run
//! use tdms::{ReadMode, TdmsFile, ValuesBlock, TdmsError};
//! let mut f = TdmsFile::open("data.tdms")?;
//! for (i, c) in f.channels().iter().enumerate() {
//!     println!("{i}: {}/{} {:?} n={}", c.group, c.name, c.data_type, c.n_values);
//! }
//! // One channel, values 1000.., in blocks of up to 65536, as f64:
//! let mut r = f.read_channel(0, 1000, None, 65536)?;
//! while let Some(block) = r.next_f64()? { let _ = block; }
//! // Every channel in one pass over the file:
//! f.read_all(ReadMode::Scaled, 65536, &mut |ch: usize, b: ValuesBlock<'_>| {
//!     let _ = (ch, b.len());
//!     Ok::<(), TdmsError>(())
//! })?;
//! # Ok::<(), TdmsError>(())
//! ```
//!
//! [`TdmsFile::open`] indexes a file by reading segment lead-ins and metadata
//! only. The index is a list of deduplicated chunk layouts plus run-length
//! encoded chunk positions (a run covers consecutive segments with the same
//! layout at a constant stride), so its size does not grow with the data and
//! stays at one run for regular streaming files with any number of segments.
//!
//! # Conventions
//! - Timestamps are kept raw ([`Timestamp`]: seconds since 1904-01-01 UTC plus
//!   2^-64 s fractions). [`Timestamp::unix_micros`] rounds to the nearest
//!   microsecond; [`ValuesBlock::to_f64`] gives seconds since the Unix epoch.
//! - Waveform time of sample `i` is `wf_start_time + wf_start_offset + i * wf_increment`
//!   ([`Waveform::time_us`], microseconds since the Unix epoch, rounded to nearest).
//! - Scaled values (NI scaling chains, see [`scaling`]) are always `f64`.
//! - Bools decode nonzero as true. Complex values are [`Complex`]; they have no
//!   `f64` conversion (an [`TdmsError::Unsupported`] error).
//! - Damaged files (unclosed or truncated last segment) give the valid data and
//!   entries in [`TdmsFile::warnings`]; malformed input is a [`TdmsError`], never
//!   a panic. Counts and offsets from the file are checked against the file size
//!   before anything is allocated or looped on.
//!
//! # Differences from npTDMS
//! - A file with no complete segment (including an empty file) is an error;
//!   npTDMS returns an empty file.
//! - An unsupported `NI_Scale[n]_Scale_Type` (RTD, Strain, Table, Thermistor,
//!   Thermocouple, ...) is an [`TdmsError::Unsupported`] error on scaled reads;
//!   npTDMS logs a warning and returns unscaled data. [`ReadMode::Raw`] still works.
//! - Scaling is computed in `f64`; npTDMS keeps float32 (and integer) dtypes for
//!   some inputs under NumPy 2 promotion rules, so float32 scaled values differ
//!   in the last float32 bits.
//! - DAQmx raw channels without scaling information but with a single scaler
//!   return that scaler's values; npTDMS raises "missing scaling information".
//! - Timestamps convert to microseconds with rounding; npTDMS truncates.
//! - Complex-valued properties are decoded (npTDMS cannot read them).
//! - Object paths that npTDMS half-parses (e.g. an unterminated quote) are
//!   errors. A channel listed twice with data in one segment is an error.
//! - `.tdms_index` files are not used; the data file alone is read.
//! - Strings (object names, properties, string values) are text: a NUL byte reads as
//!   U+2400 ([`NUL_REPLACEMENT`]) and invalid UTF-8 as U+FFFD; npTDMS keeps NUL.

#![forbid(unsafe_code)]

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
    decode_text, properties_to_json, Complex, DataType, ElemType, PropertyValue, Timestamp,
    NUL_REPLACEMENT, TDMS_EPOCH_TO_UNIX_SECONDS,
};
pub use values::ValuesBlock;
