//! The public file API: opening, metadata, and streaming reads.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;

use crate::decode::{Buffers, Source};
use crate::error::{TdmsError, Warning};
use crate::layout::{Layout, LayoutKind, LayoutObj, ObjKind, Run};
use crate::path::{parse_path, ObjectPath};
use crate::scaling::{scaling_for, ScaleChain, ScaleInputs, Scaling};
use crate::scan::{scan, ObjectMeta};
use crate::types::{DataType, ElemType, PropertyValue, Timestamp};
use crate::values::ValuesBlock;

/// Largest byte span one decode step reads (bounds memory for wide rows).
const MAX_SPAN: u64 = 8 * 1024 * 1024;

/// Waveform timing from the `wf_start_time`, `wf_increment` and
/// `wf_start_offset` channel properties.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Waveform {
    /// `wf_start_time` as stored.
    pub start_raw: Timestamp,
    /// `wf_start_time` in microseconds since the Unix epoch, rounded to nearest.
    pub start_us: i64,
    /// `wf_increment`, seconds between samples.
    pub increment_s: f64,
    /// `wf_start_offset` in seconds (0 when absent).
    pub start_offset_s: f64,
    /// `wf_samples`, if present (informational).
    pub samples: Option<u64>,
}

impl Waveform {
    /// Time of sample `i` in microseconds since the Unix epoch:
    /// `wf_start_time + wf_start_offset + i * wf_increment`. The offset part is
    /// computed in `f64` seconds, added to the exact start (including its
    /// sub-microsecond part) and rounded to the nearest microsecond (ties away
    /// from zero). `None` if the result does not fit in `i64`.
    pub fn time_us(&self, i: u64) -> Option<i64> {
        let (floor_us, frac_us) = self.start_raw.unix_micros_floor()?;
        let rel_us = (self.start_offset_s + i as f64 * self.increment_s) * 1e6 + frac_us;
        let r = rel_us.round();
        if !r.is_finite() || r.abs() > 9.0e18 {
            return None;
        }
        floor_us.checked_add(r as i64)
    }
}

/// A DAQmx scaler of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaqmxScalerInfo {
    /// Scale id (what `NI_Scale[id]` entries without a type refer to).
    pub scale_id: u32,
    /// Type of the raw scaler values.
    pub elem_type: ElemType,
    /// Whether this is a digital line scaler (values are one bit, 0 or 1).
    pub digital_line: bool,
}

/// A channel and its metadata.
#[derive(Debug, Clone)]
pub struct ChannelInfo {
    /// Group name (unescaped).
    pub group: String,
    /// Channel name (unescaped).
    pub name: String,
    /// Object path as stored in the file, e.g. `/'group'/'chan''nel'`.
    pub path: String,
    /// Data type; `None` for a channel that never had a raw data index.
    pub data_type: Option<DataType>,
    /// Number of values.
    pub n_values: u64,
    /// Properties in first-seen order; a property set again in a later segment
    /// keeps its position and takes the later value.
    pub properties: Vec<(String, PropertyValue)>,
    /// Waveform timing; present when `wf_start_time` (a timestamp) and
    /// `wf_increment` (a number) are both set.
    pub waveform: Option<Waveform>,
    /// `NI_UnitDescription`, else `unit_string`.
    pub unit: Option<String>,
    /// Whether the channel's data is DAQmx raw data.
    pub is_daqmx: bool,
    /// DAQmx scalers (empty for non-DAQmx channels).
    pub daqmx_scalers: Vec<DaqmxScalerInfo>,
    /// Scaling applied by [`ReadMode::Scaled`].
    pub scaling: Scaling,
    object: u32,
}

impl ChannelInfo {
    /// A property by name.
    pub fn property(&self, name: &str) -> Option<&PropertyValue> {
        self.properties
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Whether absolute sample times are available ([`ChannelInfo::waveform`] is set).
    pub fn has_time(&self) -> bool {
        self.waveform.is_some()
    }
}

/// A group and its metadata.
#[derive(Debug, Clone)]
pub struct GroupInfo {
    /// Group name (unescaped).
    pub name: String,
    /// Object path, e.g. `/'group'`.
    pub path: String,
    /// Group properties (empty if the file has no group object).
    pub properties: Vec<(String, PropertyValue)>,
    /// Indexes into [`TdmsFile::channels`].
    pub channels: Vec<usize>,
}

/// Which values a read produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadMode {
    /// Apply the channel's scaling (output `F64`) if it has one; otherwise the
    /// raw values. DAQmx raw channels without scaling and with one scaler give
    /// that scaler's values (npTDMS raises "missing scaling" there).
    #[default]
    Scaled,
    /// Raw values in the file's type. DAQmx raw channels with several scalers
    /// need [`ReadMode::DaqmxScaler`].
    Raw,
    /// Raw values of the DAQmx scaler with this scale id.
    DaqmxScaler(u32),
}

/// Receives values from [`TdmsFile::read_all`], per channel in order.
pub trait ChannelVisitor {
    /// Whether to read this channel (default: all).
    fn wants(&mut self, _channel: usize, _info: &ChannelInfo) -> bool {
        true
    }
    /// The next block of values of `channel`.
    fn values(&mut self, channel: usize, block: ValuesBlock<'_>) -> Result<(), TdmsError>;
}

impl<F: FnMut(usize, ValuesBlock<'_>) -> Result<(), TdmsError>> ChannelVisitor for F {
    fn values(&mut self, channel: usize, block: ValuesBlock<'_>) -> Result<(), TdmsError> {
        self(channel, block)
    }
}

/// Where a channel's values (or a scaling input) come from in a layout object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    /// The object's own values (standard channels).
    Own,
    /// A DAQmx scaler by scale id.
    Scaler(u32),
}

/// How one channel's values are produced.
#[derive(Debug, Clone)]
enum Plan {
    Native(Input),
    Scaled {
        chain: ScaleChain,
        raw: Option<Input>,
        scalers: Vec<u32>,
    },
}

/// What a produce step left in the buffers.
enum Produced {
    Native(ElemType),
    Scaled,
}

/// Scratch space for scaled reads.
#[derive(Default)]
struct ScaleWork {
    raw: Vec<f64>,
    scalers: Vec<(u32, Vec<f64>)>,
    out: Vec<f64>,
}

/// An open TDMS file: the metadata index plus the byte source.
pub struct TdmsFile<R = File> {
    src: Source<R>,
    properties: Vec<(String, PropertyValue)>,
    groups: Vec<GroupInfo>,
    channels: Vec<ChannelInfo>,
    layouts: Vec<Layout>,
    runs: Vec<Run>,
    warnings: Vec<Warning>,
    version: Option<u32>,
    segments: u64,
}

impl TdmsFile<File> {
    /// Open and index a file (reads lead-ins and metadata only).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, TdmsError> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        TdmsFile::from_reader(file, len)
    }
}

fn channel_info(
    obj: &ObjectMeta,
    object: u32,
    group: String,
    name: String,
    group_props: &[(String, PropertyValue)],
    file_props: &[(String, PropertyValue)],
) -> ChannelInfo {
    let props = obj.properties.clone();
    let get = |k: &str| props.iter().find(|(n, _)| n == k).map(|(_, v)| v);
    let waveform = match (
        get("wf_start_time").and_then(|v| v.as_timestamp()),
        get("wf_increment").and_then(|v| v.as_f64()),
    ) {
        (Some(start), Some(increment_s)) => start.unix_micros().map(|start_us| Waveform {
            start_raw: start,
            start_us,
            increment_s,
            start_offset_s: get("wf_start_offset")
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0),
            samples: get("wf_samples")
                .and_then(|v| v.as_i64())
                .and_then(|v| u64::try_from(v).ok()),
        }),
        _ => None,
    };
    let unit = get("NI_UnitDescription")
        .and_then(|v| v.as_str())
        .or_else(|| get("unit_string").and_then(|v| v.as_str()))
        .map(str::to_string);
    let scaling = scaling_for(&props, group_props, file_props);
    ChannelInfo {
        group,
        name,
        path: obj.path.clone(),
        data_type: obj.data_type,
        n_values: obj.n_values,
        properties: props,
        waveform,
        unit,
        is_daqmx: obj.is_daqmx,
        daqmx_scalers: obj
            .scalers
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .map(|&(scale_id, elem_type, digital_line)| DaqmxScalerInfo {
                scale_id,
                elem_type,
                digital_line,
            })
            .collect(),
        scaling,
        object,
    }
}

impl<R: Read + Seek> TdmsFile<R> {
    /// Index a TDMS stream of `len` bytes. Reads only lead-ins and metadata.
    pub fn from_reader(mut reader: R, len: u64) -> Result<Self, TdmsError> {
        let scanned = scan(&mut reader, len)?;
        let mut properties = Vec::new();
        let mut groups: Vec<GroupInfo> = Vec::new();
        let mut chans: Vec<(u32, String, String)> = Vec::new();
        for (i, obj) in scanned.objects.iter().enumerate() {
            let parsed = parse_path(&obj.path).ok_or_else(|| {
                TdmsError::malformed(0, format!("invalid object path {:?}", obj.path))
            })?;
            match parsed {
                ObjectPath::Root => properties = obj.properties.clone(),
                ObjectPath::Group(g) => {
                    if !groups.iter().any(|x| x.name == g) {
                        groups.push(GroupInfo {
                            path: crate::path::format_path(&g, None),
                            name: g,
                            properties: obj.properties.clone(),
                            channels: Vec::new(),
                        });
                    }
                }
                ObjectPath::Channel(g, c) => chans.push((i as u32, g, c)),
            }
        }
        // Groups known only from their channels come after those with a group
        // object; channels are listed group by group (npTDMS order).
        let mut placed: Vec<(usize, u32, String, String)> = Vec::with_capacity(chans.len());
        for (object, g, c) in chans {
            let gi = match groups.iter().position(|x| x.name == g) {
                Some(gi) => gi,
                None => {
                    groups.push(GroupInfo {
                        path: crate::path::format_path(&g, None),
                        name: g.clone(),
                        properties: Vec::new(),
                        channels: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            placed.push((gi, object, g, c));
        }
        placed.sort_by_key(|p| p.0);
        let mut channels = Vec::with_capacity(placed.len());
        for (gi, object, g, c) in placed {
            let Some(obj) = scanned.objects.get(object as usize) else {
                continue;
            };
            let Some(group) = groups.get_mut(gi) else {
                continue;
            };
            let info = channel_info(obj, object, g, c, &group.properties, &properties);
            group.channels.push(channels.len());
            channels.push(info);
        }
        Ok(TdmsFile {
            src: Source::new(reader, len),
            properties,
            groups,
            channels,
            layouts: scanned.layouts,
            runs: scanned.runs,
            warnings: scanned.warnings,
            version: scanned.version,
            segments: scanned.segments,
        })
    }

    /// File (root object) properties.
    pub fn properties(&self) -> &[(String, PropertyValue)] {
        &self.properties
    }

    /// Groups in file order.
    pub fn groups(&self) -> &[GroupInfo] {
        &self.groups
    }

    /// Channels group by group (groups in [`TdmsFile::groups`] order), each group's
    /// channels by first appearance (npTDMS order).
    pub fn channels(&self) -> &[ChannelInfo] {
        &self.channels
    }

    /// Index of the channel with this group and channel name.
    pub fn channel_index(&self, group: &str, name: &str) -> Option<usize> {
        self.channels
            .iter()
            .position(|c| c.group == group && c.name == name)
    }

    /// Recoverable problems found while indexing (truncated last segment, ...).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// TDMS version number of the first segment (4712 or 4713).
    pub fn version(&self) -> Option<u32> {
        self.version
    }

    /// Number of segments indexed.
    pub fn segment_count(&self) -> u64 {
        self.segments
    }

    /// Number of entries in the run-length encoded chunk index (for diagnostics:
    /// metadata memory is proportional to this, not to the data size).
    pub fn index_runs(&self) -> usize {
        self.runs.len()
    }

    /// Give back the underlying reader.
    pub fn into_inner(self) -> R {
        self.src.inner
    }

    fn channel(&self, channel: usize) -> Result<&ChannelInfo, TdmsError> {
        self.channels.get(channel).ok_or_else(|| {
            TdmsError::InvalidArgument(format!(
                "channel index {channel} out of range (file has {})",
                self.channels.len()
            ))
        })
    }

    fn plan(info: &ChannelInfo, mode: ReadMode) -> Result<Plan, TdmsError> {
        let own = own_input(info);
        match mode {
            ReadMode::Raw => native_plan(info, own),
            ReadMode::DaqmxScaler(id) => {
                if info.daqmx_scalers.iter().any(|s| s.scale_id == id) {
                    Ok(Plan::Native(Input::Scaler(id)))
                } else {
                    Err(TdmsError::InvalidArgument(format!(
                        "channel {} has no DAQmx scaler {id}",
                        info.path
                    )))
                }
            }
            ReadMode::Scaled => scaled_plan(info, own),
        }
    }

    /// Stream values of one channel: values `offset..offset + limit` (to the end
    /// when `limit` is `None`; fewer when the channel is shorter), in blocks of
    /// at most `block_size` values, with [`ReadMode::Scaled`].
    pub fn read_channel(
        &mut self,
        channel: usize,
        offset: u64,
        limit: Option<u64>,
        block_size: usize,
    ) -> Result<ChannelReader<'_, R>, TdmsError> {
        self.read_channel_with(channel, offset, limit, block_size, ReadMode::Scaled)
    }

    /// [`TdmsFile::read_channel`] with an explicit [`ReadMode`].
    pub fn read_channel_with(
        &mut self,
        channel: usize,
        offset: u64,
        limit: Option<u64>,
        block_size: usize,
        mode: ReadMode,
    ) -> Result<ChannelReader<'_, R>, TdmsError> {
        check_block_size(block_size)?;
        let info = self.channel(channel)?;
        let n = info.n_values;
        let start = offset.min(n);
        let end = match limit {
            Some(l) => start.saturating_add(l).min(n),
            None => n,
        };
        let object = info.object;
        let plan = if end > start {
            Some(Self::plan(info, mode)?)
        } else {
            None
        };
        let mut pieces = Vec::new();
        let mut before: u64 = 0;
        if plan.is_some() {
            for (ri, run) in self.runs.iter().enumerate() {
                let Some(layout) = self.layouts.get(run.layout as usize) else {
                    continue;
                };
                let Some(oi) = layout.object_of(object) else {
                    continue;
                };
                let Some(obj) = layout.objects.get(oi) else {
                    continue;
                };
                let total = obj
                    .count
                    .checked_mul(run.total_chunks())
                    .ok_or_else(|| TdmsError::malformed(run.first_pos, "value count overflows"))?;
                pieces.push(ChanRun {
                    run: ri,
                    obj: oi,
                    before,
                    per_chunk: obj.count,
                });
                before = before.saturating_add(total);
            }
        }
        if before < end && plan.is_some() {
            return Err(TdmsError::malformed(
                0,
                "channel index is inconsistent with its value count",
            ));
        }
        Ok(ChannelReader {
            file: self,
            plan,
            pieces,
            pos: start,
            end,
            block_size,
            bufs: Buffers::default(),
            work: ScaleWork::default(),
            conv: Vec::new(),
        })
    }

    /// Read every wanted channel in one pass over the file (segment by segment;
    /// interleaved and DAQmx rows are read once for all channels), handing each
    /// channel's values to `visitor` in order, in blocks of at most `block_size`.
    pub fn read_all<V: ChannelVisitor + ?Sized>(
        &mut self,
        mode: ReadMode,
        block_size: usize,
        visitor: &mut V,
    ) -> Result<(), TdmsError> {
        check_block_size(block_size)?;
        let plans = self.plans_by_object(mode, visitor)?;
        let mut pass = AllPass {
            src: &mut self.src,
            visitor,
            block_size,
            bufs: Buffers::default(),
            work: ScaleWork::default(),
            rows: Vec::new(),
        };
        for run in &self.runs {
            let Some(layout) = self.layouts.get(run.layout as usize) else {
                continue;
            };
            pass.run(run, layout, &plans)?;
        }
        Ok(())
    }

    /// The plan of each channel `visitor` wants that has values, by object index
    /// (layouts refer to objects), with the channel's index.
    fn plans_by_object<V: ChannelVisitor + ?Sized>(
        &self,
        mode: ReadMode,
        visitor: &mut V,
    ) -> Result<Vec<Option<(usize, Plan)>>, TdmsError> {
        let max_object = self
            .channels
            .iter()
            .map(|c| c.object as usize + 1)
            .max()
            .unwrap_or(0);
        let mut plans: Vec<Option<(usize, Plan)>> = vec![None; max_object];
        for (ci, info) in self.channels.iter().enumerate() {
            if info.n_values == 0 || !visitor.wants(ci, info) {
                continue;
            }
            let plan = Self::plan(info, mode)?;
            if let Some(slot) = plans.get_mut(info.object as usize) {
                *slot = Some((ci, plan));
            }
        }
        Ok(plans)
    }
}

fn check_block_size(block_size: usize) -> Result<(), TdmsError> {
    if block_size == 0 {
        return Err(TdmsError::InvalidArgument(
            "block size must be positive".into(),
        ));
    }
    Ok(())
}

/// A wanted channel of a layout: its object there, its channel index and its plan.
type Wanted<'a> = (&'a LayoutObj, usize, &'a Plan);

/// One [`TdmsFile::read_all`] pass: where values come from and go, and the scratch
/// reused for every chunk.
struct AllPass<'a, R, V: ?Sized> {
    src: &'a mut Source<R>,
    visitor: &'a mut V,
    block_size: usize,
    bufs: Buffers,
    work: ScaleWork,
    rows: Vec<Vec<u8>>,
}

impl<R: Read + Seek, V: ChannelVisitor + ?Sized> AllPass<'_, R, V> {
    /// Every chunk of `run`, for the channels of `layout` that have a plan.
    fn run(
        &mut self,
        run: &Run,
        layout: &Layout,
        plans: &[Option<(usize, Plan)>],
    ) -> Result<(), TdmsError> {
        let wanted: Vec<Wanted<'_>> = layout
            .objects
            .iter()
            .filter_map(|o| {
                plans
                    .get(o.channel as usize)
                    .and_then(|p| p.as_ref())
                    .map(|(ci, p)| (o, *ci, p))
            })
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        for chunk in 0..run.total_chunks() {
            let chunk_pos = run
                .chunk_pos(layout.chunk_size, chunk)
                .ok_or_else(|| TdmsError::malformed(run.first_pos, "chunk position overflows"))?;
            match layout.kind {
                LayoutKind::Contiguous => self.contiguous_chunk(layout, &wanted, chunk_pos)?,
                LayoutKind::Interleaved { row_width, rows } => {
                    self.interleaved_chunk(layout, &wanted, chunk_pos, row_width, rows)?
                }
                LayoutKind::Daqmx => self.daqmx_chunk(layout, &wanted, chunk_pos)?,
            }
        }
        Ok(())
    }

    /// Each channel's values read from the file in blocks, channel after channel.
    fn contiguous_chunk(
        &mut self,
        layout: &Layout,
        wanted: &[Wanted<'_>],
        chunk_pos: u64,
    ) -> Result<(), TdmsError> {
        for &(obj, ci, plan) in wanted {
            let mut i = 0;
            while i < obj.count {
                let want = (obj.count - i).min(self.block_size as u64) as usize;
                let (what, n) = produce_from_file(
                    self.src,
                    &mut self.bufs,
                    &mut self.work,
                    layout,
                    obj,
                    plan,
                    chunk_pos,
                    i,
                    want,
                )?;
                emit(self.visitor, ci, &self.bufs, &self.work, what)?;
                i += n as u64;
            }
        }
        Ok(())
    }

    /// Blocks of whole rows read once, every channel decoded from each block.
    fn interleaved_chunk(
        &mut self,
        layout: &Layout,
        wanted: &[Wanted<'_>],
        chunk_pos: u64,
        row_width: u64,
        n_rows: u64,
    ) -> Result<(), TdmsError> {
        let step = (MAX_SPAN / row_width.max(1))
            .max(1)
            .min(self.block_size as u64);
        self.rows.resize_with(1, Vec::new);
        let mut r0 = 0;
        while r0 < n_rows {
            let k = (n_rows - r0).min(step);
            let len = usize::try_from(k * row_width)
                .map_err(|_| TdmsError::malformed(chunk_pos, "row block too large"))?;
            if let Some(buf) = self.rows.first_mut() {
                buf.resize(len, 0);
                self.src.read_at(chunk_pos + r0 * row_width, buf)?;
            }
            for &(obj, ci, plan) in wanted {
                let what = produce_from_rows(
                    &mut self.bufs,
                    &mut self.work,
                    layout,
                    obj,
                    plan,
                    &self.rows,
                    k as usize,
                )?;
                emit(self.visitor, ci, &self.bufs, &self.work, what)?;
            }
            r0 += k;
        }
        Ok(())
    }

    /// Blocks of rows of every raw buffer read once, every channel decoded from them
    /// (buffers and channels may end at different rows).
    fn daqmx_chunk(
        &mut self,
        layout: &Layout,
        wanted: &[Wanted<'_>],
        chunk_pos: u64,
    ) -> Result<(), TdmsError> {
        let max_width = layout
            .buffers
            .iter()
            .map(|b| b.width)
            .max()
            .unwrap_or(1)
            .max(1);
        let max_rows = layout.objects.iter().map(|o| o.count).max().unwrap_or(0);
        let step = (MAX_SPAN / max_width).max(1).min(self.block_size as u64);
        self.rows.resize_with(layout.buffers.len(), Vec::new);
        let mut r0 = 0;
        while r0 < max_rows {
            let k = (max_rows - r0).min(step);
            for (b, buf) in layout.buffers.iter().zip(self.rows.iter_mut()) {
                let avail = b.rows.saturating_sub(r0).min(k);
                let len = usize::try_from(avail * b.width)
                    .map_err(|_| TdmsError::malformed(chunk_pos, "row block too large"))?;
                buf.resize(len, 0);
                self.src.read_at(chunk_pos + b.offset + r0 * b.width, buf)?;
            }
            for &(obj, ci, plan) in wanted {
                if obj.count <= r0 {
                    continue;
                }
                let n = (obj.count - r0).min(k) as usize;
                let what = produce_from_rows(
                    &mut self.bufs,
                    &mut self.work,
                    layout,
                    obj,
                    plan,
                    &self.rows,
                    n,
                )?;
                emit(self.visitor, ci, &self.bufs, &self.work, what)?;
            }
            r0 += k;
        }
        Ok(())
    }
}

/// A channel's own values: a standard channel's, or a DAQmx channel's only scaler
/// (`None` when it has several).
fn own_input(info: &ChannelInfo) -> Option<Input> {
    if info.is_daqmx {
        match info.daqmx_scalers.as_slice() {
            [only] => Some(Input::Scaler(only.scale_id)),
            _ => None,
        }
    } else {
        Some(Input::Own)
    }
}

/// Unscaled values of `own`; a DAQmx channel with several scalers must name one.
fn native_plan(info: &ChannelInfo, own: Option<Input>) -> Result<Plan, TdmsError> {
    own.map(Plan::Native).ok_or_else(|| {
        TdmsError::InvalidArgument(format!(
            "channel {} has {} DAQmx scalers; choose one with ReadMode::DaqmxScaler",
            info.path,
            info.daqmx_scalers.len()
        ))
    })
}

/// [`ReadMode::Scaled`]: the channel's scaling, or its own values when it has none.
fn scaled_plan(info: &ChannelInfo, own: Option<Input>) -> Result<Plan, TdmsError> {
    match &info.scaling {
        Scaling::None => {
            if own.is_none() {
                return Err(TdmsError::malformed(
                    0,
                    format!(
                        "channel {} has DAQmx data with several scalers but no scaling information",
                        info.path
                    ),
                ));
            }
            native_plan(info, own)
        }
        Scaling::Unsupported {
            scale_type,
            scale_index,
        } => Err(TdmsError::Unsupported(format!(
            "scale type '{scale_type}' (NI_Scale[{scale_index}]) of channel {}",
            info.path
        ))),
        Scaling::Invalid(msg) => Err(TdmsError::malformed(
            0,
            format!("scaling of channel {}: {msg}", info.path),
        )),
        Scaling::Chain(chain) => chain_plan(info, chain, own),
    }
}

/// A scaling chain over the channel: only real values scale, and every input the
/// chain names must exist (raw data for a standard channel, scalers for DAQmx raw data).
fn chain_plan(
    info: &ChannelInfo,
    chain: &ScaleChain,
    own: Option<Input>,
) -> Result<Plan, TdmsError> {
    let raw_daqmx = info.data_type == Some(DataType::DaqmxRawData);
    let (needs_raw, ids) = chain.needs()?;
    if let Some(e) = info.data_type.and_then(|t| t.elem()) {
        if !e.is_real() {
            return Err(TdmsError::Unsupported(format!(
                "scaling of {} channel {}",
                info.data_type.map_or(String::new(), |t| t.to_string()),
                info.path
            )));
        }
    }
    let raw = if needs_raw {
        if raw_daqmx {
            return Err(TdmsError::malformed(
                0,
                format!(
                    "scaling of DAQmx channel {} uses the raw data input",
                    info.path
                ),
            ));
        }
        own
    } else {
        None
    };
    for id in &ids {
        if !raw_daqmx || !info.daqmx_scalers.iter().any(|s| s.scale_id == *id) {
            return Err(TdmsError::malformed(
                0,
                format!(
                    "scaling of channel {} refers to missing DAQmx scaler {id}",
                    info.path
                ),
            ));
        }
    }
    Ok(Plan::Scaled {
        chain: chain.clone(),
        raw,
        scalers: ids,
    })
}

fn emit<V: ChannelVisitor + ?Sized>(
    visitor: &mut V,
    channel: usize,
    bufs: &Buffers,
    work: &ScaleWork,
    what: Produced,
) -> Result<(), TdmsError> {
    let block = match what {
        Produced::Native(elem) => bufs.block(elem),
        Produced::Scaled => ValuesBlock::F64(&work.out),
    };
    if block.is_empty() {
        return Ok(());
    }
    visitor.values(channel, block)
}

fn scaler_loc<'a>(
    layout: &'a Layout,
    obj: &'a LayoutObj,
    id: u32,
) -> Result<(&'a crate::layout::ScalerLoc, &'a crate::layout::BufferLoc), TdmsError> {
    let ObjKind::Daqmx { scalers } = &obj.kind else {
        return Err(TdmsError::malformed(
            0,
            "channel has no DAQmx data in this segment",
        ));
    };
    let s = scalers.iter().find(|s| s.scale_id == id).ok_or_else(|| {
        TdmsError::malformed(0, format!("DAQmx scaler {id} missing in a segment"))
    })?;
    let b = layout
        .buffers
        .get(s.buffer as usize)
        .ok_or_else(|| TdmsError::malformed(0, "DAQmx scaler refers to a missing buffer"))?;
    Ok((s, b))
}

/// Largest number of values of `input` to decode at once so that the byte span stays bounded.
fn span_cap(layout: &Layout, obj: &LayoutObj, input: Input) -> Result<u64, TdmsError> {
    let stride = match (FixedInput::of(layout, obj, input)?, &obj.kind) {
        (Some(f), _) => f.stride,
        (None, ObjKind::Strings { .. }) => 1,
        (None, _) => {
            return Err(TdmsError::malformed(
                0,
                "standard channel has DAQmx data in a segment",
            ))
        }
    };
    Ok((MAX_SPAN / stride.max(1)).max(1))
}

fn plan_inputs(plan: &Plan) -> Vec<Input> {
    match plan {
        Plan::Native(i) => vec![*i],
        Plan::Scaled { raw, scalers, .. } => raw
            .iter()
            .copied()
            .chain(scalers.iter().map(|&s| Input::Scaler(s)))
            .collect(),
    }
}

/// Where the fixed-size values of one input lie: value `j` of a chunk at
/// `chunk_offset + j * stride` in the chunk, or at `row_offset + j * stride` in buffer
/// `buffer`'s row block.
struct FixedInput {
    elem: ElemType,
    buffer: usize,
    chunk_offset: u64,
    row_offset: u64,
    stride: u64,
    /// Bit to keep (DAQmx digital line scaler).
    digital_bit: Option<u8>,
}

impl FixedInput {
    /// `None` for a string channel's own values and a DAQmx channel's own (it has none).
    fn of(layout: &Layout, obj: &LayoutObj, input: Input) -> Result<Option<Self>, TdmsError> {
        Ok(match (input, &obj.kind) {
            (
                Input::Own,
                ObjKind::Fixed {
                    elem,
                    offset,
                    stride,
                },
            ) => Some(FixedInput {
                elem: *elem,
                buffer: 0,
                chunk_offset: *offset,
                row_offset: *offset,
                stride: *stride,
                digital_bit: None,
            }),
            (Input::Scaler(id), _) => {
                let (s, b) = scaler_loc(layout, obj, id)?;
                Some(FixedInput {
                    elem: s.elem,
                    buffer: s.buffer as usize,
                    chunk_offset: b.offset + s.byte_offset,
                    row_offset: s.byte_offset,
                    stride: b.width,
                    digital_bit: s.digital_bit,
                })
            }
            (Input::Own, ObjKind::Strings { .. } | ObjKind::Daqmx { .. }) => None,
        })
    }

    fn keep_digital_bit(&self, bufs: &mut Buffers) {
        if let Some(bit) = self.digital_bit {
            bufs.extract_bit(self.elem, bit);
        }
    }
}

/// Read values `i..i + n` of one input of `obj` in the chunk at `chunk_pos`.
/// Returns the element type and how many values were read (strings may stop early).
#[allow(clippy::too_many_arguments)]
fn read_input<R: Read + Seek>(
    src: &mut Source<R>,
    bufs: &mut Buffers,
    layout: &Layout,
    obj: &LayoutObj,
    input: Input,
    chunk_pos: u64,
    i: u64,
    n: usize,
) -> Result<(ElemType, usize), TdmsError> {
    let big = layout.big_endian;
    if let Some(f) = FixedInput::of(layout, obj, input)? {
        let pos = chunk_pos + f.chunk_offset + i * f.stride;
        bufs.read_fixed(src, f.elem, pos, f.stride, n, big)?;
        f.keep_digital_bit(bufs);
        return Ok((f.elem, n));
    }
    match &obj.kind {
        ObjKind::Strings { offset, data_size } => {
            let k = bufs.read_strings(
                src,
                chunk_pos + offset,
                obj.count,
                *data_size,
                i,
                n,
                big,
                MAX_SPAN,
            )?;
            Ok((ElemType::String, k))
        }
        _ => Err(TdmsError::malformed(
            chunk_pos,
            "standard channel has DAQmx data in a segment",
        )),
    }
}

/// Decode `n` values of one input of `obj` from in-memory rows (interleaved: one
/// row block; DAQmx: one row block per buffer), starting at row 0.
fn decode_input(
    bufs: &mut Buffers,
    layout: &Layout,
    obj: &LayoutObj,
    input: Input,
    rows: &[Vec<u8>],
    n: usize,
) -> Result<ElemType, TdmsError> {
    let f = FixedInput::of(layout, obj, input)?
        .ok_or_else(|| TdmsError::malformed(0, "unexpected object kind in a row layout"))?;
    let bytes = rows
        .get(f.buffer)
        .and_then(|r| r.get(f.row_offset as usize..))
        .unwrap_or(&[]);
    bufs.decode(f.elem, bytes, f.stride as usize, n, layout.big_endian);
    f.keep_digital_bit(bufs);
    Ok(f.elem)
}

/// Turn decoded inputs into the plan's output.
fn finish(
    plan: &Plan,
    bufs: &mut Buffers,
    work: &mut ScaleWork,
    n: usize,
    mut fetch: impl FnMut(&mut Buffers, Input) -> Result<ElemType, TdmsError>,
) -> Result<Produced, TdmsError> {
    match plan {
        Plan::Native(input) => Ok(Produced::Native(fetch(bufs, *input)?)),
        Plan::Scaled {
            chain,
            raw,
            scalers,
        } => {
            let mut have_raw = false;
            if let Some(input) = raw {
                let e = fetch(bufs, *input)?;
                bufs.block(e).to_f64(&mut work.raw)?;
                have_raw = true;
            }
            work.scalers.resize_with(scalers.len(), || (0, Vec::new()));
            for (slot, &id) in work.scalers.iter_mut().zip(scalers.iter()) {
                let e = fetch(bufs, Input::Scaler(id))?;
                slot.0 = id;
                bufs.block(e).to_f64(&mut slot.1)?;
            }
            let inputs = ScaleInputs {
                raw: if have_raw { Some(&work.raw) } else { None },
                scalers: &work.scalers,
                len: n,
            };
            chain.apply(&inputs, &mut work.out)?;
            Ok(Produced::Scaled)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn produce_from_file<R: Read + Seek>(
    src: &mut Source<R>,
    bufs: &mut Buffers,
    work: &mut ScaleWork,
    layout: &Layout,
    obj: &LayoutObj,
    plan: &Plan,
    chunk_pos: u64,
    i: u64,
    want: usize,
) -> Result<(Produced, usize), TdmsError> {
    let mut n = want as u64;
    for input in plan_inputs(plan) {
        n = n.min(span_cap(layout, obj, input)?);
    }
    let mut n = n as usize;
    // Strings may come back shorter; they are never scaled (checked in `plan`).
    let what = finish(plan, bufs, work, n, |bufs, input| {
        let (e, k) = read_input(src, bufs, layout, obj, input, chunk_pos, i, n)?;
        n = k;
        Ok(e)
    })?;
    // Callers loop until they have every value: a step that yields none would never end.
    if n == 0 {
        return Err(TdmsError::malformed(
            chunk_pos,
            "no progress reading channel data",
        ));
    }
    Ok((what, n))
}

fn produce_from_rows(
    bufs: &mut Buffers,
    work: &mut ScaleWork,
    layout: &Layout,
    obj: &LayoutObj,
    plan: &Plan,
    rows: &[Vec<u8>],
    n: usize,
) -> Result<Produced, TdmsError> {
    finish(plan, bufs, work, n, |bufs, input| {
        decode_input(bufs, layout, obj, input, rows, n)
    })
}

/// A channel's values within one run of the index.
struct ChanRun {
    run: usize,
    obj: usize,
    before: u64,
    per_chunk: u64,
}

/// Streams one channel's values in blocks. Buffers are reused between calls.
pub struct ChannelReader<'f, R> {
    file: &'f mut TdmsFile<R>,
    plan: Option<Plan>,
    pieces: Vec<ChanRun>,
    pos: u64,
    end: u64,
    block_size: usize,
    bufs: Buffers,
    work: ScaleWork,
    conv: Vec<f64>,
}

impl<R: Read + Seek> ChannelReader<'_, R> {
    /// Values left to read.
    pub fn remaining(&self) -> u64 {
        self.end - self.pos
    }

    fn fill(&mut self) -> Result<Option<Produced>, TdmsError> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let Some(plan) = &self.plan else {
            return Ok(None);
        };
        let v = self.pos;
        let idx = self
            .pieces
            .partition_point(|p| p.before <= v)
            .saturating_sub(1);
        let piece = self
            .pieces
            .get(idx)
            .ok_or_else(|| TdmsError::malformed(0, "value index outside the channel index"))?;
        let run = self
            .file
            .runs
            .get(piece.run)
            .ok_or_else(|| TdmsError::malformed(0, "bad run index"))?;
        let layout = self
            .file
            .layouts
            .get(run.layout as usize)
            .ok_or_else(|| TdmsError::malformed(0, "bad layout index"))?;
        let obj = layout
            .objects
            .get(piece.obj)
            .ok_or_else(|| TdmsError::malformed(0, "bad layout object index"))?;
        let rel = v - piece.before;
        let per_chunk = piece.per_chunk.max(1);
        let chunk = rel / per_chunk;
        let i = rel % per_chunk;
        let chunk_pos = run
            .chunk_pos(layout.chunk_size, chunk)
            .ok_or_else(|| TdmsError::malformed(run.first_pos, "chunk position overflows"))?;
        let want = (per_chunk - i)
            .min(self.end - v)
            .min(self.block_size as u64) as usize;
        let (what, n) = produce_from_file(
            &mut self.file.src,
            &mut self.bufs,
            &mut self.work,
            layout,
            obj,
            plan,
            chunk_pos,
            i,
            want,
        )?;
        self.pos += n as u64;
        Ok(Some(what))
    }

    /// The next block of values (typed as the channel, or `F64` when scaled),
    /// or `None` at the end.
    pub fn next_block(&mut self) -> Result<Option<ValuesBlock<'_>>, TdmsError> {
        Ok(match self.fill()? {
            None => None,
            Some(Produced::Native(e)) => Some(self.bufs.block(e)),
            Some(Produced::Scaled) => Some(ValuesBlock::F64(&self.work.out)),
        })
    }

    /// The next block converted to `f64` (see [`ValuesBlock::to_f64`]), or `None` at the end.
    pub fn next_f64(&mut self) -> Result<Option<&[f64]>, TdmsError> {
        match self.fill()? {
            None => Ok(None),
            Some(Produced::Scaled) => Ok(Some(&self.work.out)),
            Some(Produced::Native(e)) => {
                self.bufs.block(e).to_f64(&mut self.conv)?;
                Ok(Some(&self.conv))
            }
        }
    }

    /// Read everything left as `f64` into a vector (convenience for small reads).
    pub fn collect_f64(&mut self) -> Result<Vec<f64>, TdmsError> {
        let mut out = Vec::new();
        while let Some(b) = self.next_f64()? {
            out.extend_from_slice(b);
        }
        Ok(out)
    }
}
