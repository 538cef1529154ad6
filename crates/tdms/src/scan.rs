//! Index building: walks the segment lead-ins and metadata (never the raw data)
//! and produces the object table plus the run-length encoded chunk index.
//!
//! The incremental-metadata rules follow npTDMS (`tdms_segment.py`, `reader.py`).

use std::collections::HashMap;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::sync::Arc;

use crate::error::{TdmsError, Warning};
use crate::layout::{BufferLoc, Layout, LayoutKind, LayoutObj, ObjKind, Run, ScalerLoc};
use crate::types::{Complex, DataType, ElemType, PropertyValue, Timestamp};

const LEAD_IN_LEN: u64 = 28;
pub(crate) const TOC_META_DATA: u32 = 1 << 1;
pub(crate) const TOC_NEW_OBJ_LIST: u32 = 1 << 2;
pub(crate) const TOC_RAW_DATA: u32 = 1 << 3;
pub(crate) const TOC_INTERLEAVED: u32 = 1 << 5;
pub(crate) const TOC_BIG_ENDIAN: u32 = 1 << 6;
pub(crate) const TOC_DAQMX_RAW_DATA: u32 = 1 << 7;

const RAW_INDEX_NO_DATA: u32 = 0xFFFF_FFFF;
const RAW_INDEX_MATCHES_PREVIOUS: u32 = 0;
const DAQMX_FORMAT_CHANGING: u32 = 0x1269;
const DAQMX_DIGITAL_LINE: u32 = 0x126A;

/// Everything learned about one object (root, group or channel) across all segments.
#[derive(Debug, Default)]
pub(crate) struct ObjectMeta {
    pub path: String,
    pub properties: Vec<(String, PropertyValue)>,
    prop_index: HashMap<String, usize>,
    pub data_type: Option<DataType>,
    /// DAQmx scalers (scale id, type, digital line) in file order.
    pub scalers: Option<Vec<(u32, ElemType, bool)>>,
    pub n_values: u64,
    pub is_daqmx: bool,
}

impl ObjectMeta {
    fn set_property(&mut self, name: String, value: PropertyValue) {
        match self.prop_index.get(&name) {
            Some(&i) => {
                if let Some(slot) = self.properties.get_mut(i) {
                    slot.1 = value;
                }
            }
            None => {
                self.prop_index.insert(name.clone(), self.properties.len());
                self.properties.push((name, value));
            }
        }
    }
}

#[derive(Debug, PartialEq)]
struct DaqmxScaler {
    scale_id: u32,
    elem: ElemType,
    buffer: u32,
    byte_offset: u64,
    digital_bit: Option<u8>,
}

#[derive(Debug, PartialEq)]
enum RawIndex {
    Standard {
        data_type: DataType,
        count: u64,
        data_size: u64,
    },
    Daqmx {
        data_type: DataType,
        count: u64,
        scalers: Vec<DaqmxScaler>,
        widths: Vec<u64>,
    },
}

impl RawIndex {
    fn data_type(&self) -> DataType {
        match self {
            RawIndex::Standard { data_type, .. } | RawIndex::Daqmx { data_type, .. } => *data_type,
        }
    }
    fn count(&self) -> u64 {
        match self {
            RawIndex::Standard { count, .. } | RawIndex::Daqmx { count, .. } => *count,
        }
    }
}

/// An object as listed in one segment (npTDMS's segment object).
#[derive(Debug, Clone)]
struct SegObj {
    object: u32,
    has_data: bool,
    index: Option<Arc<RawIndex>>,
}

/// The result of indexing a file.
#[derive(Debug, Default)]
pub(crate) struct ScanResult {
    pub objects: Vec<ObjectMeta>,
    pub layouts: Vec<Layout>,
    pub runs: Vec<Run>,
    pub warnings: Vec<Warning>,
    pub version: Option<u32>,
    pub segments: u64,
}

/// Bounded little/big-endian reader over one segment's metadata region.
struct Meta<'a, R: Read> {
    rd: &'a mut BufReader<R>,
    pos: u64,
    end: u64,
    big: bool,
}

/// `fn u16(&mut self)` and friends of [`Meta`]: the next bytes as an unsigned integer in
/// the segment's byte order.
macro_rules! unsigned_readers {
    ($($ty:ident),*) => {$(
        fn $ty(&mut self) -> Result<$ty, TdmsError> {
            let b = self.array::<{ std::mem::size_of::<$ty>() }>()?;
            Ok(if self.big {
                $ty::from_be_bytes(b)
            } else {
                $ty::from_le_bytes(b)
            })
        }
    )*};
}

impl<R: Read> Meta<'_, R> {
    fn remaining(&self) -> u64 {
        self.end.saturating_sub(self.pos)
    }

    /// A count of `what` (e.g. "object"), each at least `min_bytes` of metadata: a count
    /// the rest of the metadata cannot hold is malformed, before anything is allocated.
    fn count(&mut self, what: &str, min_bytes: u64) -> Result<u32, TdmsError> {
        let at = self.pos;
        let n = self.u32()?;
        if u64::from(n).saturating_mul(min_bytes) > self.remaining() {
            return Err(TdmsError::malformed(
                at,
                format!(
                    "{what} count {n} does not fit in {} metadata bytes",
                    self.remaining()
                ),
            ));
        }
        Ok(n)
    }

    fn need(&self, n: u64) -> Result<(), TdmsError> {
        if n > self.remaining() {
            return Err(TdmsError::malformed(
                self.pos,
                format!(
                    "metadata needs {n} more bytes but only {} remain before the raw data",
                    self.remaining()
                ),
            ));
        }
        Ok(())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], TdmsError> {
        self.need(N as u64)?;
        let mut b = [0u8; N];
        self.rd
            .read_exact(&mut b)
            .map_err(|e| eof_to_malformed(e, self.pos))?;
        self.pos += N as u64;
        Ok(b)
    }

    fn u8(&mut self) -> Result<u8, TdmsError> {
        Ok(self.array::<1>()?[0])
    }
    unsigned_readers!(u16, u32, u64);

    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, TdmsError> {
        self.need(n)?;
        let len = usize::try_from(n)
            .map_err(|_| TdmsError::malformed(self.pos, "string length does not fit in memory"))?;
        let mut v = vec![0u8; len];
        self.rd
            .read_exact(&mut v)
            .map_err(|e| eof_to_malformed(e, self.pos))?;
        self.pos += n;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, TdmsError> {
        let len = u64::from(self.u32()?);
        let b = self.bytes(len)?;
        Ok(crate::types::decode_text(&b))
    }

    fn timestamp(&mut self) -> Result<Timestamp, TdmsError> {
        let a = self.u64()?;
        let b = self.u64()?;
        // Little-endian files store (fractions, seconds); big-endian (seconds, fractions).
        Ok(if self.big {
            Timestamp {
                seconds: a as i64,
                fractions: b,
            }
        } else {
            Timestamp {
                seconds: b as i64,
                fractions: a,
            }
        })
    }

    fn property_value(&mut self, name: &str, code: u32) -> Result<PropertyValue, TdmsError> {
        let at = self.pos;
        let dt = DataType::from_code(code).ok_or_else(|| {
            TdmsError::malformed(
                at,
                format!("property '{name}' has unknown data type code 0x{code:X}"),
            )
        })?;
        Ok(match dt {
            DataType::I8 => PropertyValue::I8(self.u8()? as i8),
            DataType::I16 => PropertyValue::I16(self.u16()? as i16),
            DataType::I32 => PropertyValue::I32(self.u32()? as i32),
            DataType::I64 => PropertyValue::I64(self.u64()? as i64),
            DataType::U8 => PropertyValue::U8(self.u8()?),
            DataType::U16 => PropertyValue::U16(self.u16()?),
            DataType::U32 => PropertyValue::U32(self.u32()?),
            DataType::U64 => PropertyValue::U64(self.u64()?),
            DataType::SingleFloat | DataType::SingleFloatWithUnit => {
                PropertyValue::F32(f32::from_bits(self.u32()?))
            }
            DataType::DoubleFloat | DataType::DoubleFloatWithUnit => {
                PropertyValue::F64(f64::from_bits(self.u64()?))
            }
            DataType::String => PropertyValue::String(self.string()?),
            DataType::Boolean => PropertyValue::Bool(self.u8()? != 0),
            DataType::TimeStamp => PropertyValue::Timestamp(self.timestamp()?),
            DataType::ComplexSingleFloat => PropertyValue::ComplexF32(Complex {
                re: f32::from_bits(self.u32()?),
                im: f32::from_bits(self.u32()?),
            }),
            DataType::ComplexDoubleFloat => PropertyValue::ComplexF64(Complex {
                re: f64::from_bits(self.u64()?),
                im: f64::from_bits(self.u64()?),
            }),
            DataType::Void
            | DataType::ExtendedFloat
            | DataType::ExtendedFloatWithUnit
            | DataType::DaqmxRawData => {
                return Err(TdmsError::Unsupported(format!(
                    "property '{name}' has data type {dt}, which cannot be read"
                )))
            }
        })
    }
}

fn eof_to_malformed(e: std::io::Error, pos: u64) -> TdmsError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        TdmsError::malformed(pos, "unexpected end of file in metadata")
    } else {
        TdmsError::Io(e)
    }
}

/// Scanner state carried from segment to segment.
struct Scanner {
    result: ScanResult,
    path_index: HashMap<String, u32>,
    /// npTDMS `_prev_segment_objects`: the last segment object seen per object.
    last_seen: HashMap<u32, SegObj>,
    /// The previous segment's ordered object list (`None` before the first segment).
    prev_list: Option<Vec<SegObj>>,
    layout_index: HashMap<Layout, u32>,
}

/// Index a TDMS file of `file_len` bytes.
pub(crate) fn scan<R: Read + Seek>(reader: &mut R, file_len: u64) -> Result<ScanResult, TdmsError> {
    let mut rd = BufReader::with_capacity(16 * 1024, reader);
    rd.seek(SeekFrom::Start(0))?;
    let mut cur: u64 = 0;
    let mut sc = Scanner {
        result: ScanResult::default(),
        path_index: HashMap::new(),
        last_seen: HashMap::new(),
        prev_list: None,
        layout_index: HashMap::new(),
    };
    let mut pos: u64 = 0;
    loop {
        let remaining = file_len.saturating_sub(pos);
        if remaining < LEAD_IN_LEN {
            if remaining > 0 {
                sc.warn(
                    pos,
                    format!("ignoring {remaining} trailing bytes after the last segment"),
                );
            }
            break;
        }
        // Forward moves inside the buffer keep it; others seek.
        let delta = i64::try_from(i128::from(pos) - i128::from(cur))
            .map_err(|_| TdmsError::malformed(pos, "segment offset out of range"))?;
        rd.seek_relative(delta)?;
        let mut lead = [0u8; LEAD_IN_LEN as usize];
        rd.read_exact(&mut lead)
            .map_err(|e| eof_to_malformed(e, pos))?;
        let seg = parse_lead_in(&lead, pos, file_len, &mut sc)?;
        let Some(seg) = seg else { break };
        let meta_len = seg.data_pos - pos - LEAD_IN_LEN;
        {
            let mut meta = Meta {
                rd: &mut rd,
                pos: pos + LEAD_IN_LEN,
                end: pos + LEAD_IN_LEN + meta_len,
                big: seg.toc & TOC_BIG_ENDIAN != 0,
            };
            sc.segment(&seg, &mut meta)?;
            cur = meta.pos;
        }
        sc.result.segments += 1;
        pos = seg.next_pos;
        if seg.incomplete {
            break;
        }
    }
    if sc.result.segments == 0 {
        return Err(TdmsError::malformed(0, "no complete TDMS segment in file"));
    }
    Ok(sc.result)
}

struct SegmentHeader {
    pos: u64,
    toc: u32,
    data_pos: u64,
    next_pos: u64,
    incomplete: bool,
}

fn parse_lead_in(
    lead: &[u8; 28],
    pos: u64,
    file_len: u64,
    sc: &mut Scanner,
) -> Result<Option<SegmentHeader>, TdmsError> {
    let fields = LeadIn::decode(lead, pos)?;
    sc.note_version(pos, fields.version);
    place_segment(&fields, pos, file_len, sc)
}

/// A segment lead-in's fields as stored; the offsets count from the lead-in's end.
struct LeadIn {
    toc: u32,
    version: u32,
    next_off: u64,
    raw_off: u64,
}

impl LeadIn {
    fn decode(lead: &[u8; 28], pos: u64) -> Result<LeadIn, TdmsError> {
        let word = |i: usize| -> [u8; 4] {
            let mut b = [0u8; 4];
            b.copy_from_slice(&lead[i..i + 4]);
            b
        };
        let dword = |i: usize| -> [u8; 8] {
            let mut b = [0u8; 8];
            b.copy_from_slice(&lead[i..i + 8]);
            b
        };
        if &lead[0..4] != b"TDSm" {
            let what = if pos == 0 { "not a TDMS file: " } else { "" };
            return Err(TdmsError::malformed(
                pos,
                format!(
                    "{what}segment does not start with 'TDSm' (found {:02X?})",
                    &lead[0..4]
                ),
            ));
        }
        // The ToC is always little-endian; it says how the rest is stored.
        let toc = u32::from_le_bytes(word(4));
        let big = toc & TOC_BIG_ENDIAN != 0;
        let (version, next_off, raw_off) = if big {
            (
                u32::from_be_bytes(word(8)),
                u64::from_be_bytes(dword(12)),
                u64::from_be_bytes(dword(20)),
            )
        } else {
            (
                u32::from_le_bytes(word(8)),
                u64::from_le_bytes(dword(12)),
                u64::from_le_bytes(dword(20)),
            )
        };
        Ok(LeadIn {
            toc,
            version,
            next_off,
            raw_off,
        })
    }
}

/// Where the segment at `pos` has its raw data and where the next one starts; a last
/// segment that is unclosed or runs past the end is read to the end of the file, and
/// one whose metadata is cut off is dropped (`None`).
fn place_segment(
    lead: &LeadIn,
    pos: u64,
    file_len: u64,
    sc: &mut Scanner,
) -> Result<Option<SegmentHeader>, TdmsError> {
    let LeadIn {
        toc,
        next_off,
        raw_off,
        ..
    } = *lead;
    let data_pos = pos
        .checked_add(LEAD_IN_LEN)
        .and_then(|p| p.checked_add(raw_off));
    let mut incomplete = next_off == u64::MAX;
    let next_pos = if incomplete {
        file_len
    } else {
        match pos
            .checked_add(LEAD_IN_LEN)
            .and_then(|p| p.checked_add(next_off))
        {
            Some(p) if p <= file_len => p,
            _ => {
                incomplete = true;
                file_len
            }
        }
    };
    let data_pos = match data_pos {
        Some(d) if d <= next_pos => d,
        _ if incomplete => {
            sc.warn(pos, "last segment metadata is incomplete; segment ignored");
            return Ok(None);
        }
        _ => {
            return Err(TdmsError::malformed(
                pos,
                format!("raw data offset {raw_off} is beyond the next segment offset {next_off}"),
            ))
        }
    };
    if incomplete {
        if next_off == u64::MAX {
            sc.warn(pos, "last segment was not closed (next segment offset unknown); reading its data to the end of the file");
        } else {
            sc.warn(pos, format!(
                "last segment is truncated: next segment offset {next_off} is past the end of the file; reading the data present"
            ));
        }
    }
    Ok(Some(SegmentHeader {
        pos,
        toc,
        data_pos,
        next_pos,
        incomplete,
    }))
}

impl Scanner {
    fn warn(&mut self, pos: u64, message: impl Into<String>) {
        self.result.warnings.push(Warning {
            segment_offset: pos,
            message: message.into(),
        });
    }

    /// Record the first segment's version; warn on an unknown one or a change.
    fn note_version(&mut self, pos: u64, version: u32) {
        match self.result.version {
            None => {
                if version != 4712 && version != 4713 {
                    self.warn(pos, format!("unrecognised TDMS version {version}"));
                }
                self.result.version = Some(version);
            }
            Some(v) if v != version => {
                self.warn(pos, format!("segment version {version} differs from {v}"))
            }
            Some(_) => {}
        }
    }

    fn intern(&mut self, path: String) -> u32 {
        if let Some(&i) = self.path_index.get(&path) {
            return i;
        }
        let i = self.result.objects.len() as u32;
        self.path_index.insert(path.clone(), i);
        self.result.objects.push(ObjectMeta {
            path,
            ..ObjectMeta::default()
        });
        i
    }

    fn segment<R: Read>(
        &mut self,
        seg: &SegmentHeader,
        meta: &mut Meta<'_, R>,
    ) -> Result<(), TdmsError> {
        if seg.toc & TOC_META_DATA == 0 {
            // Same objects as the previous segment: nothing to update but the counts.
            let Some(list) = self.prev_list.take() else {
                return Err(TdmsError::malformed(
                    seg.pos,
                    "first segment has no metadata (kTocMetaData not set)",
                ));
            };
            let r = self.add_chunks(seg, &list);
            self.prev_list = Some(list);
            return r;
        }
        let list = self.read_metadata(seg, meta)?;
        self.add_chunks(seg, &list)?;
        // Update per-object totals (npTDMS `_update_object_metadata`).
        for so in &list {
            self.last_seen.insert(so.object, so.clone());
            let Some(obj) = self.result.objects.get_mut(so.object as usize) else {
                continue;
            };
            let seg_type = so.index.as_ref().map(|i| i.data_type());
            if let Some(t) = obj.data_type {
                if Some(t) != seg_type {
                    return Err(TdmsError::malformed(
                        seg.pos,
                        format!(
                            "object {} changes data type from {} to {}",
                            obj.path,
                            t,
                            seg_type.map_or("none".to_string(), |t| t.to_string())
                        ),
                    ));
                }
            }
            obj.data_type = seg_type;
            if let Some(RawIndex::Daqmx { scalers, .. }) = so.index.as_deref() {
                obj.is_daqmx = true;
                let types: Vec<(u32, ElemType, bool)> = scalers
                    .iter()
                    .map(|s| (s.scale_id, s.elem, s.digital_bit.is_some()))
                    .collect();
                if let Some(prev) = &obj.scalers {
                    let same_types = prev.len() == types.len()
                        && prev
                            .iter()
                            .zip(types.iter())
                            .all(|(a, b)| a.0 == b.0 && a.1 == b.1);
                    if !same_types {
                        return Err(TdmsError::malformed(
                            seg.pos,
                            format!("object {} changes DAQmx scaler data types", obj.path),
                        ));
                    }
                }
                obj.scalers = Some(types);
            }
        }
        self.prev_list = Some(list);
        Ok(())
    }

    fn read_metadata<R: Read>(
        &mut self,
        seg: &SegmentHeader,
        meta: &mut Meta<'_, R>,
    ) -> Result<Vec<SegObj>, TdmsError> {
        let new_list = seg.toc & TOC_NEW_OBJ_LIST != 0;
        // Objects appended in this segment are not in `existing` (npTDMS maps only
        // the copied list), so a repeated path within one segment is appended again.
        let (mut list, existing) = match (&self.prev_list, new_list) {
            (Some(prev), false) => {
                let map: HashMap<u32, usize> = prev
                    .iter()
                    .enumerate()
                    .map(|(i, o)| (o.object, i))
                    .collect();
                (prev.clone(), Some(map))
            }
            _ => (Vec::new(), None),
        };
        // Each object needs at least path length, raw index header and property count.
        let n_objects = meta.count("object", 12)?;
        for _ in 0..n_objects {
            let path_at = meta.pos;
            let path = meta.string()?;
            let header = meta.u32()?;
            let object = self.intern(path);
            let existing_slot = existing.as_ref().and_then(|m| m.get(&object).copied());
            if let Some(slot) = existing_slot {
                let Some(cur) = list.get(slot).cloned() else {
                    return Err(TdmsError::malformed(
                        path_at,
                        "internal object list mismatch",
                    ));
                };
                list[slot] = self.updated_object(cur, header, meta, path_at)?;
            } else if let Some(prev) = self.last_seen.get(&object).cloned() {
                let so = self.updated_object(prev, header, meta, path_at)?;
                list.push(so);
            } else {
                let so = match header {
                    RAW_INDEX_MATCHES_PREVIOUS => {
                        return Err(TdmsError::malformed(
                            path_at,
                            format!(
                                "raw data index of {} says to reuse the previous structure, but the object has not been seen before",
                                self.object_path(object)
                            ),
                        ))
                    }
                    RAW_INDEX_NO_DATA => SegObj { object, has_data: false, index: None },
                    _ => SegObj {
                        object,
                        has_data: true,
                        index: Some(Arc::new(read_raw_index(header, meta)?)),
                    },
                };
                list.push(so);
            }
            // Each property needs at least name length, type code and one byte of value.
            let n_props = meta.count("property", 9)?;
            for _ in 0..n_props {
                let name = meta.string()?;
                let code = meta.u32()?;
                let value = meta.property_value(&name, code)?;
                if let Some(obj) = self.result.objects.get_mut(object as usize) {
                    obj.set_property(name, value);
                }
            }
        }
        Ok(list)
    }

    fn object_path(&self, object: u32) -> String {
        self.result
            .objects
            .get(object as usize)
            .map_or_else(String::new, |o| o.path.clone())
    }

    /// Apply a raw data index header to an object known from an earlier segment.
    fn updated_object<R: Read>(
        &mut self,
        mut so: SegObj,
        header: u32,
        meta: &mut Meta<'_, R>,
        at: u64,
    ) -> Result<SegObj, TdmsError> {
        match header {
            RAW_INDEX_NO_DATA => so.has_data = false,
            RAW_INDEX_MATCHES_PREVIOUS => {
                if so.index.is_none() {
                    return Err(TdmsError::malformed(
                        at,
                        format!(
                            "raw data index of {} says to reuse the previous structure, but it never had one",
                            self.object_path(so.object)
                        ),
                    ));
                }
                so.has_data = true;
            }
            _ => {
                so.index = Some(Arc::new(read_raw_index(header, meta)?));
                so.has_data = true;
            }
        }
        Ok(so)
    }

    fn layout_id(&mut self, layout: Layout) -> u32 {
        if let Some(&id) = self.layout_index.get(&layout) {
            return id;
        }
        let id = self.result.layouts.len() as u32;
        self.result.layouts.push(layout.clone());
        self.layout_index.insert(layout, id);
        id
    }

    fn push_run(&mut self, layout: Layout, pos: u64, chunks: u64) {
        if chunks == 0 || layout.objects.is_empty() {
            return;
        }
        let id = self.layout_id(layout);
        if let Some(last) = self.result.runs.last_mut() {
            if last.layout == id && last.chunks_per_seg == chunks {
                if last.n_segs == 1 && pos > last.first_pos {
                    last.seg_stride = pos - last.first_pos;
                    last.n_segs = 2;
                    return;
                }
                let expected = last
                    .n_segs
                    .checked_mul(last.seg_stride)
                    .and_then(|d| last.first_pos.checked_add(d));
                if last.n_segs > 1 && expected == Some(pos) {
                    last.n_segs += 1;
                    return;
                }
            }
        }
        self.result.runs.push(Run {
            layout: id,
            first_pos: pos,
            chunks_per_seg: chunks,
            n_segs: 1,
            seg_stride: 0,
        });
    }

    /// Work out the chunks of a segment (npTDMS `_calculate_chunks`), add them
    /// to the run index and add each object's value count.
    fn add_chunks(&mut self, seg: &SegmentHeader, list: &[SegObj]) -> Result<(), TdmsError> {
        let big = seg.toc & TOC_BIG_ENDIAN != 0;
        let mut data: Vec<(u32, &RawIndex)> = Vec::new();
        for so in list.iter().filter(|o| o.has_data) {
            let Some(ix) = so.index.as_deref() else {
                return Err(TdmsError::malformed(
                    seg.pos,
                    "object marked as having data has no raw data index",
                ));
            };
            data.push((so.object, ix));
        }
        for (i, (obj, _)) in data.iter().enumerate() {
            if data.iter().skip(i + 1).any(|(o, _)| o == obj) {
                return Err(TdmsError::malformed(
                    seg.pos,
                    format!(
                        "object {} has data twice in one segment",
                        self.object_path(*obj)
                    ),
                ));
            }
        }
        let total = seg.next_pos - seg.data_pos;
        let n_daqmx = data
            .iter()
            .filter(|(_, ix)| matches!(ix, RawIndex::Daqmx { .. }))
            .count();
        if n_daqmx > 0 && n_daqmx != data.len() {
            return Err(TdmsError::malformed(
                seg.pos,
                "segment mixes DAQmx and non-DAQmx data",
            ));
        }
        let plan = if n_daqmx > 0 {
            daqmx_plan(&data, total, big, seg.pos)?
        } else {
            standard_plan(&data, total, big, seg)?
        };
        let Some(plan) = plan else { return Ok(()) };
        if plan.remainder > 0 {
            self.warn(
                seg.pos,
                format!(
                    "data size {total} is not a multiple of the chunk size {}; reading the last partial chunk",
                    plan.full.chunk_size
                ),
            );
        }
        // Per-object value counts.
        for (obj, ix) in &data {
            let full = ix
                .count()
                .checked_mul(plan.full_chunks)
                .ok_or_else(|| TdmsError::malformed(seg.pos, "value count overflows"))?;
            let partial = plan
                .partial_counts
                .iter()
                .find(|(o, _)| o == obj)
                .map_or(0, |(_, c)| *c);
            let add = full
                .checked_add(partial)
                .ok_or_else(|| TdmsError::malformed(seg.pos, "value count overflows"))?;
            if let Some(o) = self.result.objects.get_mut(*obj as usize) {
                o.n_values = o
                    .n_values
                    .checked_add(add)
                    .ok_or_else(|| TdmsError::malformed(seg.pos, "value count overflows"))?;
            }
        }
        let full_chunks = plan.full_chunks;
        let full_bytes = plan.full.chunk_size.saturating_mul(full_chunks);
        let (full_layout, n) = normalise_interleaved(plan.full, full_chunks);
        self.push_run(full_layout, seg.data_pos, n);
        if let Some(partial) = plan.partial {
            self.push_run(partial, seg.data_pos + full_bytes, 1);
        }
        Ok(())
    }
}

/// Interleaved chunks are rows back to back; treat all full chunks of a segment
/// as one chunk so that reads are not split at chunk boundaries.
fn normalise_interleaved(mut layout: Layout, chunks: u64) -> (Layout, u64) {
    if let LayoutKind::Interleaved { row_width, rows } = layout.kind {
        if chunks > 1 {
            let rows = rows.saturating_mul(chunks);
            layout.kind = LayoutKind::Interleaved { row_width, rows };
            layout.chunk_size = rows.saturating_mul(row_width);
            for o in &mut layout.objects {
                o.count = rows;
            }
            return (layout, 1);
        }
    }
    (layout, chunks)
}

struct ChunkPlan {
    full: Layout,
    full_chunks: u64,
    remainder: u64,
    partial: Option<Layout>,
    partial_counts: Vec<(u32, u64)>,
}

fn elem_of(dt: DataType, at: u64) -> Result<Option<ElemType>, TdmsError> {
    match dt {
        DataType::Void => Ok(None),
        _ => dt.elem().map(Some).ok_or_else(|| {
            TdmsError::Unsupported(format!("channel data of type {dt} at byte {at}"))
        }),
    }
}

/// A channel of a segment with a standard (non-DAQmx) raw data index.
struct StdObject {
    obj: u32,
    elem: Option<ElemType>,
    count: u64,
    data_size: u64,
}

impl StdObject {
    /// Bytes per value; `None` for strings and void channels.
    fn value_size(&self) -> Option<u64> {
        self.elem.and_then(|e| e.size())
    }
}

fn standard_plan(
    data: &[(u32, &RawIndex)],
    total: u64,
    big: bool,
    seg: &SegmentHeader,
) -> Result<Option<ChunkPlan>, TdmsError> {
    let mut objs = Vec::with_capacity(data.len());
    for (obj, ix) in data {
        let RawIndex::Standard {
            data_type,
            count,
            data_size,
        } = ix
        else {
            return Err(TdmsError::malformed(seg.pos, "unexpected DAQmx index"));
        };
        objs.push(StdObject {
            obj: *obj,
            elem: elem_of(*data_type, seg.pos)?,
            count: *count,
            data_size: *data_size,
        });
    }
    let mut chunk_size: u64 = 0;
    for o in &objs {
        chunk_size = chunk_size
            .checked_add(o.data_size)
            .ok_or_else(|| TdmsError::malformed(seg.pos, "chunk size overflows"))?;
    }
    if chunk_size == 0 {
        if total != 0 {
            return Err(TdmsError::malformed(
                seg.pos,
                format!("segment has {total} bytes of data but its objects have a zero chunk size"),
            ));
        }
        return Ok(None);
    }
    let full_chunks = total / chunk_size;
    let remainder = total % chunk_size;
    let interleaved = standard_interleaved(&objs, seg)?;
    let full_counts: Vec<u64> = objs.iter().map(|o| o.count).collect();
    let full = standard_layout(&objs, &full_counts, chunk_size, interleaved, big);
    let mut partial = None;
    let mut partial_counts = Vec::new();
    if remainder > 0 {
        let counts = standard_final_counts(&objs, remainder, chunk_size, seg);
        for (o, &c) in objs.iter().zip(counts.iter()) {
            partial_counts.push((o.obj, c));
        }
        if counts.iter().any(|&c| c > 0) {
            partial = Some(standard_layout(&objs, &counts, remainder, interleaved, big));
        }
    }
    Ok(Some(ChunkPlan {
        full,
        full_chunks,
        remainder,
        partial,
        partial_counts,
    }))
}

/// Whether the segment's values are interleaved: its flag, unless one variable-size
/// channel stands alone (then it is read contiguously); variable-size channels cannot be
/// interleaved, and interleaved channels must have the same value count.
fn standard_interleaved(objs: &[StdObject], seg: &SegmentHeader) -> Result<bool, TdmsError> {
    let unsized_count = objs.iter().filter(|o| o.value_size().is_none()).count();
    if seg.toc & TOC_INTERLEAVED == 0 || (unsized_count == 1 && objs.len() == 1) {
        return Ok(false);
    }
    if unsized_count > 0 {
        return Err(TdmsError::malformed(
            seg.pos,
            "interleaved segment contains channels with variable-size types",
        ));
    }
    let first = objs.first().map_or(0, |o| o.count);
    if objs.iter().any(|o| o.count != first) {
        return Err(TdmsError::malformed(
            seg.pos,
            "interleaved data with different chunk sizes per channel",
        ));
    }
    Ok(true)
}

/// The value counts of the last, partial chunk of `remainder` bytes (npTDMS
/// `_compute_final_chunk_lengths`).
fn standard_final_counts(
    objs: &[StdObject],
    remainder: u64,
    chunk_size: u64,
    seg: &SegmentHeader,
) -> Vec<u64> {
    if objs.iter().any(|o| o.value_size().is_none()) {
        return vec![0; objs.len()];
    }
    if seg.toc & TOC_INTERLEAVED != 0 || !seg.incomplete {
        return objs
            .iter()
            .map(|o| (u128::from(o.count) * u128::from(remainder) / u128::from(chunk_size)) as u64)
            .collect();
    }
    let mut left = remainder;
    let mut counts = vec![0; objs.len()];
    for (o, c) in objs.iter().zip(counts.iter_mut()) {
        let size = o.value_size().unwrap_or(1);
        if left > o.data_size {
            *c = o.count;
            left -= o.data_size;
        } else {
            *c = left / size;
            break;
        }
    }
    counts
}

/// Where each channel's `counts` values lie in a chunk of `chunk` bytes.
fn standard_layout(
    objs: &[StdObject],
    counts: &[u64],
    chunk: u64,
    interleaved: bool,
    big: bool,
) -> Layout {
    let mut objects = Vec::new();
    let kind = if interleaved {
        let row_width: u64 = objs.iter().map(|o| o.value_size().unwrap_or(0)).sum();
        let rows = counts.first().copied().unwrap_or(0);
        let mut off = 0;
        for o in objs {
            if let Some(elem) = o.elem {
                if rows > 0 {
                    objects.push(LayoutObj {
                        channel: o.obj,
                        count: rows,
                        kind: ObjKind::Fixed {
                            elem,
                            offset: off,
                            stride: row_width,
                        },
                    });
                }
            }
            off += o.value_size().unwrap_or(0);
        }
        LayoutKind::Interleaved { row_width, rows }
    } else {
        let mut off: u64 = 0;
        for (o, &count) in objs.iter().zip(counts.iter()) {
            let bytes = match o.elem {
                Some(ElemType::String) => o.data_size,
                Some(e) => count.saturating_mul(e.size().unwrap_or(0)),
                None => 0,
            };
            if count > 0 {
                match o.elem {
                    Some(ElemType::String) => objects.push(LayoutObj {
                        channel: o.obj,
                        count,
                        kind: ObjKind::Strings {
                            offset: off,
                            data_size: o.data_size,
                        },
                    }),
                    Some(elem) => objects.push(LayoutObj {
                        channel: o.obj,
                        count,
                        kind: ObjKind::Fixed {
                            elem,
                            offset: off,
                            stride: elem.size().unwrap_or(1),
                        },
                    }),
                    None => {}
                }
            }
            off = off.saturating_add(bytes);
        }
        LayoutKind::Contiguous
    };
    Layout {
        big_endian: big,
        kind,
        chunk_size: chunk,
        objects,
        buffers: Vec::new(),
    }
}

fn daqmx_plan(
    data: &[(u32, &RawIndex)],
    total: u64,
    big: bool,
    at: u64,
) -> Result<Option<ChunkPlan>, TdmsError> {
    let (widths, rows) = daqmx_buffers(data, at)?;
    let (full_buffers, chunk_size) = daqmx_buffer_locations(&rows, &widths, at)?;
    if chunk_size == 0 {
        if total != 0 {
            return Err(TdmsError::malformed(
                at,
                format!("segment has {total} bytes of data but its DAQmx chunk size is zero"),
            ));
        }
        return Ok(None);
    }
    let full_counts: Vec<u64> = data.iter().map(|(_, ix)| ix.count()).collect();
    let full = daqmx_layout(data, full_buffers, &full_counts, chunk_size, big);
    let full_chunks = total / chunk_size;
    let remainder = total % chunk_size;
    let mut partial = None;
    let mut partial_counts = Vec::new();
    if remainder > 0 {
        let updated = daqmx_final_rows(&rows, &widths, remainder);
        let counts: Vec<u64> = data
            .iter()
            .map(|(_, ix)| daqmx_final_count(ix, &updated))
            .collect();
        for ((obj, _), &c) in data.iter().zip(counts.iter()) {
            partial_counts.push((*obj, c));
        }
        if counts.iter().any(|&c| c > 0) {
            let (buffers, _) = daqmx_buffer_locations(&updated, &widths, at)?;
            partial = Some(daqmx_layout(data, buffers, &counts, remainder, big));
        }
    }
    Ok(Some(ChunkPlan {
        full,
        full_chunks,
        remainder,
        partial,
        partial_counts,
    }))
}

/// The raw buffers' widths (the first channel's; all must agree) and rows (the largest
/// count of a channel with a scaler in the buffer), every scaler checked to fit
/// (npTDMS `get_buffer_dimensions`).
fn daqmx_buffers(data: &[(u32, &RawIndex)], at: u64) -> Result<(Vec<u64>, Vec<u64>), TdmsError> {
    let mut widths: Option<&Vec<u64>> = None;
    let mut rows: Vec<u64> = Vec::new();
    for (_, ix) in data {
        let RawIndex::Daqmx {
            count,
            scalers,
            widths: w,
            ..
        } = ix
        else {
            return Err(TdmsError::malformed(at, "unexpected non-DAQmx index"));
        };
        match widths {
            None => {
                widths = Some(w);
                rows = vec![0; w.len()];
            }
            Some(first) if first != w => {
                return Err(TdmsError::malformed(
                    at,
                    "DAQmx raw data widths differ between channels",
                ))
            }
            Some(_) => {}
        }
        if scalers.is_empty() && *count > 0 {
            return Err(TdmsError::malformed(
                at,
                "DAQmx channel with data but no scalers",
            ));
        }
        for s in scalers {
            let b = s.buffer as usize;
            let Some(r) = rows.get_mut(b) else {
                return Err(TdmsError::malformed(
                    at,
                    format!(
                        "DAQmx scaler refers to raw buffer {} of {}",
                        s.buffer,
                        w.len()
                    ),
                ));
            };
            *r = (*r).max(*count);
            let width = w.get(b).copied().unwrap_or(0);
            let size = s.elem.size().unwrap_or(u64::MAX);
            if s.byte_offset
                .checked_add(size)
                .is_none_or(|end| end > width)
            {
                return Err(TdmsError::malformed(
                    at,
                    format!(
                        "DAQmx scaler at byte offset {} ({} bytes) does not fit in raw width {width}",
                        s.byte_offset, size
                    ),
                ));
            }
        }
    }
    Ok((widths.cloned().unwrap_or_default(), rows))
}

/// Each raw buffer's place in a chunk, one after the other, and the chunk's size.
fn daqmx_buffer_locations(
    rows: &[u64],
    widths: &[u64],
    at: u64,
) -> Result<(Vec<BufferLoc>, u64), TdmsError> {
    let mut off: u64 = 0;
    let mut out = Vec::with_capacity(rows.len());
    for (&r, &w) in rows.iter().zip(widths.iter()) {
        out.push(BufferLoc {
            rows: r,
            width: w,
            offset: off,
        });
        off = r
            .checked_mul(w)
            .and_then(|b| off.checked_add(b))
            .ok_or_else(|| TdmsError::malformed(at, "DAQmx chunk size overflows"))?;
    }
    Ok((out, off))
}

/// The buffers' rows in the last, partial chunk of `remainder` bytes: filled in order
/// (npTDMS `get_daqmx_final_chunk_lengths`).
fn daqmx_final_rows(rows: &[u64], widths: &[u64], remainder: u64) -> Vec<u64> {
    let mut left = remainder;
    let mut updated = vec![0u64; rows.len()];
    for ((u, &r), &w) in updated.iter_mut().zip(rows.iter()).zip(widths.iter()) {
        let bytes = r.saturating_mul(w);
        if left > bytes {
            *u = r;
            left -= bytes;
        } else {
            *u = left.checked_div(w).unwrap_or(0);
            break;
        }
    }
    updated
}

/// A channel's values in the partial chunk: its buffer's rows when all its scalers read
/// one buffer, else none.
fn daqmx_final_count(ix: &RawIndex, buffer_rows: &[u64]) -> u64 {
    let RawIndex::Daqmx { scalers, .. } = ix else {
        return 0;
    };
    match scalers.first().map(|s| s.buffer) {
        Some(b) if scalers.iter().all(|s| s.buffer == b) => {
            buffer_rows.get(b as usize).copied().unwrap_or(0)
        }
        _ => 0,
    }
}

/// Where each channel's `counts` values lie in a chunk of `chunk` bytes.
fn daqmx_layout(
    data: &[(u32, &RawIndex)],
    buffers: Vec<BufferLoc>,
    counts: &[u64],
    chunk: u64,
    big: bool,
) -> Layout {
    let mut objects = Vec::new();
    for ((obj, ix), &count) in data.iter().zip(counts.iter()) {
        if count == 0 {
            continue;
        }
        if let RawIndex::Daqmx { scalers, .. } = ix {
            objects.push(LayoutObj {
                channel: *obj,
                count,
                kind: ObjKind::Daqmx {
                    scalers: scalers
                        .iter()
                        .map(|s| ScalerLoc {
                            scale_id: s.scale_id,
                            elem: s.elem,
                            buffer: s.buffer,
                            byte_offset: s.byte_offset,
                            digital_bit: s.digital_bit,
                        })
                        .collect(),
                },
            });
        }
    }
    Layout {
        big_endian: big,
        kind: LayoutKind::Daqmx,
        chunk_size: chunk,
        objects,
        buffers,
    }
}

fn daqmx_elem(code: u32, at: u64) -> Result<ElemType, TdmsError> {
    Ok(match code {
        0 => ElemType::U8,
        1 => ElemType::I8,
        2 => ElemType::U16,
        3 => ElemType::I16,
        4 => ElemType::U32,
        5 => ElemType::I32,
        6 => ElemType::U64,
        7 => ElemType::I64,
        8 => ElemType::F32,
        9 => ElemType::F64,
        0xFFFF_FFFF => ElemType::Timestamp,
        _ => {
            return Err(TdmsError::malformed(
                at,
                format!("unknown DAQmx scaler data type {code}"),
            ))
        }
    })
}

fn read_raw_index<R: Read>(header: u32, meta: &mut Meta<'_, R>) -> Result<RawIndex, TdmsError> {
    let at = meta.pos;
    let code = meta.u32()?;
    let data_type = DataType::from_code(code).ok_or_else(|| {
        TdmsError::malformed(at, format!("unrecognised data type code 0x{code:X}"))
    })?;
    if header == DAQMX_FORMAT_CHANGING || header == DAQMX_DIGITAL_LINE {
        read_daqmx_index(header == DAQMX_DIGITAL_LINE, data_type, at, meta)
    } else {
        read_standard_index(data_type, at, meta)
    }
}

/// The rest of a DAQmx raw data index (after its data type, read at `at`): dimension,
/// count, scalers and raw buffer widths.
fn read_daqmx_index<R: Read>(
    digital_line: bool,
    data_type: DataType,
    at: u64,
    meta: &mut Meta<'_, R>,
) -> Result<RawIndex, TdmsError> {
    let dimension = meta.u32()?;
    if dimension != 1 {
        return Err(TdmsError::malformed(
            at,
            format!("data dimension is {dimension}, not 1"),
        ));
    }
    let count = meta.u64()?;
    let n_scalers = meta.u32()?;
    let scaler_len: u64 = if digital_line { 17 } else { 20 };
    if u64::from(n_scalers).saturating_mul(scaler_len) > meta.remaining() {
        return Err(TdmsError::malformed(
            at,
            format!("DAQmx scaler count {n_scalers} exceeds metadata"),
        ));
    }
    let mut scalers = Vec::with_capacity(n_scalers as usize);
    for _ in 0..n_scalers {
        scalers.push(read_daqmx_scaler(digital_line, meta)?);
    }
    check_daqmx_channel_type(data_type, &scalers, at)?;
    let n_widths = meta.u32()?;
    if u64::from(n_widths).saturating_mul(4) > meta.remaining() {
        return Err(TdmsError::malformed(
            at,
            format!("DAQmx raw width count {n_widths} exceeds metadata"),
        ));
    }
    let mut widths = Vec::with_capacity(n_widths as usize);
    for _ in 0..n_widths {
        widths.push(u64::from(meta.u32()?));
    }
    Ok(RawIndex::Daqmx {
        data_type,
        count,
        scalers,
        widths,
    })
}

/// One DAQmx scaler; a digital line scaler's offset counts bits, not bytes.
fn read_daqmx_scaler<R: Read>(
    digital_line: bool,
    meta: &mut Meta<'_, R>,
) -> Result<DaqmxScaler, TdmsError> {
    let s_at = meta.pos;
    let type_code = meta.u32()?;
    let buffer = meta.u32()?;
    let offset = meta.u32()?;
    let elem = daqmx_elem(type_code, s_at)?;
    let (byte_offset, digital_bit) = if digital_line {
        let _sample_format = meta.u8()?;
        if !matches!(
            elem,
            ElemType::U8
                | ElemType::I8
                | ElemType::U16
                | ElemType::I16
                | ElemType::U32
                | ElemType::I32
                | ElemType::U64
                | ElemType::I64
        ) {
            return Err(TdmsError::Unsupported(format!(
                "DAQmx digital line scaler of type {elem:?}"
            )));
        }
        (u64::from(offset / 8), Some((offset % 8) as u8))
    } else {
        let _sample_format = meta.u32()?;
        (u64::from(offset), None)
    };
    let scale_id = meta.u32()?;
    Ok(DaqmxScaler {
        scale_id,
        elem,
        buffer,
        byte_offset,
        digital_bit,
    })
}

/// A DAQmx channel typed other than raw data reads exactly one scaler of its own type.
fn check_daqmx_channel_type(
    data_type: DataType,
    scalers: &[DaqmxScaler],
    at: u64,
) -> Result<(), TdmsError> {
    if data_type == DataType::DaqmxRawData {
        return Ok(());
    }
    let ok = scalers.len() == 1
        && scalers
            .first()
            .and_then(|s| data_type.elem().map(|e| e == s.elem))
            == Some(true);
    if !ok {
        return Err(TdmsError::malformed(
            at,
            format!("DAQmx channel of type {data_type} needs exactly one scaler of that type"),
        ));
    }
    Ok(())
}

/// The rest of a standard raw data index (after its data type, read at `at`):
/// dimension, count and, for strings, the data size.
fn read_standard_index<R: Read>(
    data_type: DataType,
    at: u64,
    meta: &mut Meta<'_, R>,
) -> Result<RawIndex, TdmsError> {
    let dimension = meta.u32()?;
    let count = meta.u64()?;
    match data_type {
        DataType::Void | DataType::String => {}
        dt if dt.elem().is_none() || dt == DataType::DaqmxRawData => {
            return Err(TdmsError::Unsupported(format!("channel data of type {dt}")));
        }
        _ => {}
    }
    if data_type == DataType::Void && count != 0 {
        return Err(TdmsError::malformed(
            at,
            "void data type with a nonzero value count",
        ));
    }
    if dimension != 1 {
        return Err(TdmsError::malformed(
            at,
            format!("data dimension is {dimension}, not 1"),
        ));
    }
    let data_size = if data_type == DataType::String {
        let size = meta.u64()?;
        // The offset table alone takes 4 bytes per value.
        if count.checked_mul(4).is_none_or(|t| t > size) {
            return Err(TdmsError::malformed(
                at,
                format!("string data size {size} is too small for {count} values"),
            ));
        }
        size
    } else if count == 0 {
        0
    } else {
        let size = data_type.elem().and_then(|e| e.size()).unwrap_or(0);
        count.checked_mul(size).ok_or_else(|| {
            TdmsError::malformed(at, format!("value count {count} overflows the data size"))
        })?
    };
    Ok(RawIndex::Standard {
        data_type,
        count,
        data_size,
    })
}

#[allow(dead_code)]
pub(crate) const ALL_TOC_FLAGS: [u32; 6] = [
    TOC_META_DATA,
    TOC_NEW_OBJ_LIST,
    TOC_RAW_DATA,
    TOC_INTERLEAVED,
    TOC_BIG_ENDIAN,
    TOC_DAQMX_RAW_DATA,
];
