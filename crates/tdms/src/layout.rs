//! The compact data index: deduplicated chunk layouts and run-length encoded
//! chunk locations. Its size depends on the number of distinct layouts and on
//! how regular the segment positions are, never on the amount of raw data.

use crate::types::ElemType;

/// Where one DAQmx scaler's values sit inside a raw data buffer row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ScalerLoc {
    pub scale_id: u32,
    pub elem: ElemType,
    pub buffer: u32,
    /// Byte offset inside a buffer row.
    pub byte_offset: u64,
    /// Bit to extract for digital line scalers.
    pub digital_bit: Option<u8>,
}

/// A DAQmx raw data buffer inside a chunk: `rows` rows of `width` bytes at `offset`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct BufferLoc {
    pub rows: u64,
    pub width: u64,
    pub offset: u64,
}

/// How one object's values are laid out inside a chunk.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ObjKind {
    /// Fixed-size values: value `r` is at `chunk + offset + r * stride`.
    Fixed {
        elem: ElemType,
        offset: u64,
        stride: u64,
    },
    /// Strings: `count` u32 end offsets at `chunk + offset`, then the UTF-8 bytes;
    /// `data_size` bytes in total.
    Strings { offset: u64, data_size: u64 },
    /// DAQmx: values come from scalers in the layout's buffers.
    Daqmx { scalers: Vec<ScalerLoc> },
}

/// One object with data in a chunk.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct LayoutObj {
    pub channel: u32,
    /// Values of this object in one chunk.
    pub count: u64,
    pub kind: ObjKind,
}

/// How a chunk is organised; decides the bulk-read strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum LayoutKind {
    /// Objects one after another.
    Contiguous,
    /// Rows of `row_width` bytes holding one value of every object.
    Interleaved { row_width: u64, rows: u64 },
    /// DAQmx raw buffers.
    Daqmx,
}

/// A chunk layout, shared by every chunk that looks the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Layout {
    pub big_endian: bool,
    pub kind: LayoutKind,
    /// Bytes in one chunk.
    pub chunk_size: u64,
    pub objects: Vec<LayoutObj>,
    pub buffers: Vec<BufferLoc>,
}

impl Layout {
    /// Index into `objects` of the given channel, if it has data in this layout.
    pub fn object_of(&self, channel: u32) -> Option<usize> {
        self.objects.iter().position(|o| o.channel == channel)
    }
}

/// A run of chunks with the same layout: `n_segs` groups (segments) starting at
/// `first_pos + s * seg_stride`, each holding `chunks_per_seg` chunks back to back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Run {
    pub layout: u32,
    pub first_pos: u64,
    pub chunks_per_seg: u64,
    pub n_segs: u64,
    pub seg_stride: u64,
}

impl Run {
    /// Byte position of chunk `chunk` (0-based over the whole run).
    pub fn chunk_pos(&self, chunk_size: u64, chunk: u64) -> Option<u64> {
        let seg = chunk.checked_div(self.chunks_per_seg)?;
        let within = chunk.checked_rem(self.chunks_per_seg)?;
        self.first_pos
            .checked_add(seg.checked_mul(self.seg_stride)?)?
            .checked_add(within.checked_mul(chunk_size)?)
    }

    pub fn total_chunks(&self) -> u64 {
        // Checked when the run is built.
        self.chunks_per_seg.saturating_mul(self.n_segs)
    }
}
