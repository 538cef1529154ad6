//! Arrow IPC writing (file and stream formats, optional body compression).

use std::io::Write;

use arrow_array::RecordBatch;
use arrow_ipc::writer::{DictionaryHandling, FileWriter, IpcWriteOptions, StreamWriter};
use arrow_ipc::CompressionType;
use arrow_schema::SchemaRef;

use crate::builder::BatchBuilder;
use crate::error::{ExportError, Result};
use crate::types::ExportSchema;

/// Arrow IPC format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpcFormat {
    /// The IPC file format (`ARROW1` magic, footer; ClickHouse format `Arrow`).
    File,
    /// The IPC streaming format (ClickHouse format `ArrowStream`).
    Stream,
}

/// IPC body compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpcCompression {
    /// Uncompressed buffers.
    #[default]
    None,
    /// LZ4 frame compressed buffers.
    Lz4Frame,
    /// Zstandard compressed buffers.
    Zstd,
}

/// Counts the bytes written to the inner sink.
#[derive(Debug)]
struct CountingSink<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for CountingSink<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(buf)?;
        self.written += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

enum FormatWriter<W: Write> {
    File(FileWriter<CountingSink<W>>),
    Stream(StreamWriter<CountingSink<W>>),
}

/// Writes record batches as Arrow IPC to a sink.
///
/// The schema message is written by [`new`](Self::new). Dictionary (LowCardinality)
/// columns are written as one dictionary per column that grows across batches: the first
/// batch carries it whole, later batches carry only new values as IPC *delta*
/// dictionaries, in both formats (the file format forbids replacement but allows deltas).
///
/// For chunked output (e.g. SQL `SETOF bytea`), use a `Vec<u8>` sink and call
/// [`take_bytes`](ArrowIpcWriter::take_bytes) after each batch and after
/// [`finish`](Self::finish): the concatenated chunks form one valid stream or file.
pub struct ArrowIpcWriter<W: Write> {
    writer: FormatWriter<W>,
    schema: SchemaRef,
    rows: u64,
}

impl<W: Write> std::fmt::Debug for ArrowIpcWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArrowIpcWriter")
            .field("rows", &self.rows)
            .field("bytes", &self.bytes_written())
            .finish_non_exhaustive()
    }
}

impl<W: Write> ArrowIpcWriter<W> {
    /// Starts an IPC file or stream on `sink` and writes the schema.
    ///
    /// The sink is written unbuffered, in few large writes per batch; wrap a file in a
    /// `BufWriter` anyway to merge the small message headers.
    pub fn new(
        sink: W,
        schema: &ExportSchema,
        format: IpcFormat,
        compression: IpcCompression,
    ) -> Result<Self> {
        let codec = match compression {
            IpcCompression::None => None,
            IpcCompression::Lz4Frame => Some(CompressionType::LZ4_FRAME),
            IpcCompression::Zstd => Some(CompressionType::ZSTD),
        };
        let options = IpcWriteOptions::default()
            .try_with_compression(codec)?
            .with_dictionary_handling(DictionaryHandling::Delta);
        let sink = CountingSink {
            inner: sink,
            written: 0,
        };
        let arrow_schema = schema.arrow_schema();
        let writer = match format {
            IpcFormat::File => FormatWriter::File(FileWriter::try_new_with_options(
                sink,
                arrow_schema,
                options,
            )?),
            IpcFormat::Stream => FormatWriter::Stream(StreamWriter::try_new_with_options(
                sink,
                arrow_schema,
                options,
            )?),
        };
        Ok(ArrowIpcWriter {
            writer,
            schema: std::sync::Arc::clone(arrow_schema),
            rows: 0,
        })
    }

    /// Finishes the current batch of `batch` and writes it (nothing is written for an
    /// empty batch). Returns the bytes written to the sink so far.
    pub fn write_batch(&mut self, batch: &mut BatchBuilder) -> Result<u64> {
        if batch.schema() != &self.schema {
            return Err(ExportError::InvalidParameter(
                "the batch builder was made for another schema".into(),
            ));
        }
        if batch.num_rows() == 0 {
            return Ok(self.bytes_written());
        }
        let record_batch = batch.finish()?;
        self.write_record_batch(&record_batch)
    }

    /// Writes an already built record batch of this writer's schema. Returns the bytes
    /// written to the sink so far.
    pub fn write_record_batch(&mut self, batch: &RecordBatch) -> Result<u64> {
        if batch.schema() != self.schema {
            return Err(ExportError::InvalidParameter(
                "record batch schema differs from the writer's schema".into(),
            ));
        }
        match &mut self.writer {
            FormatWriter::File(w) => w.write(batch)?,
            FormatWriter::Stream(w) => w.write(batch)?,
        }
        self.rows += batch.num_rows() as u64;
        Ok(self.bytes_written())
    }

    /// Bytes written to the sink so far (including bytes already taken from a `Vec`).
    pub fn bytes_written(&self) -> u64 {
        match &self.writer {
            FormatWriter::File(w) => w.get_ref().written,
            FormatWriter::Stream(w) => w.get_ref().written,
        }
    }

    /// Rows written so far.
    pub fn rows_written(&self) -> u64 {
        self.rows
    }

    /// Writes the end of the stream (end-of-stream marker) or file (footer) and flushes;
    /// returns the sink.
    pub fn finish(self) -> Result<W> {
        let sink = match self.writer {
            FormatWriter::File(mut w) => {
                w.finish()?;
                w.into_inner()?
            }
            FormatWriter::Stream(mut w) => {
                w.finish()?;
                w.into_inner()?
            }
        };
        Ok(sink.inner)
    }

    fn sink_mut(&mut self) -> &mut W {
        match &mut self.writer {
            FormatWriter::File(w) => &mut w.get_mut().inner,
            FormatWriter::Stream(w) => &mut w.get_mut().inner,
        }
    }
}

impl ArrowIpcWriter<Vec<u8>> {
    /// Takes the bytes written since the last call (the writer keeps going; offsets in the
    /// file footer stay correct since they count all bytes ever written).
    pub fn take_bytes(&mut self) -> Vec<u8> {
        std::mem::take(self.sink_mut())
    }
}
