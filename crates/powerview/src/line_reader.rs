//! Bounded line reading over any `BufRead`.

use std::io::{BufRead, ErrorKind};

use crate::error::{PowerviewError, Result};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads lines into a caller-owned buffer, never holding more than `max_len` bytes of one line.
pub(crate) struct LineReader<R> {
    inner: R,
    max_len: usize,
    /// Number of lines read so far (so the 1-based number of the last line read).
    line_no: u64,
    at_eof: bool,
}

impl<R: BufRead> LineReader<R> {
    pub(crate) fn new(inner: R, max_len: usize) -> Self {
        Self {
            inner,
            max_len,
            line_no: 0,
            at_eof: false,
        }
    }

    /// 1-based number of the last line returned by [`Self::read_line`].
    pub(crate) fn line_no(&self) -> u64 {
        self.line_no
    }

    /// Reads the next line into `buf` without its `\n` and a trailing `\r` (a UTF-8 BOM at the start
    /// of the file is dropped too). Returns `Ok(None)` at end of input, else `Ok(Some(terminated))`
    /// where `terminated` is false only for a last line that has no `\n` (a cut-off upload).
    pub(crate) fn read_line(&mut self, buf: &mut Vec<u8>) -> Result<Option<bool>> {
        buf.clear();
        if self.at_eof {
            return Ok(None);
        }
        let mut read_any = false;
        let terminated = loop {
            let available = match self.inner.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(PowerviewError::Io(e)),
            };
            if available.is_empty() {
                self.at_eof = true;
                if !read_any {
                    return Ok(None);
                }
                break false;
            }
            read_any = true;
            let (chunk_len, consumed, found) = match memchr::memchr(b'\n', available) {
                Some(i) => (i, i + 1, true),
                None => (available.len(), available.len(), false),
            };
            if buf.len().saturating_add(chunk_len) > self.max_len {
                return Err(PowerviewError::LineTooLong {
                    line: self.line_no.saturating_add(1),
                    limit: self.max_len,
                });
            }
            buf.extend_from_slice(&available[..chunk_len]);
            self.inner.consume(consumed);
            if found {
                break true;
            }
        };
        self.line_no = self.line_no.saturating_add(1);
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        if self.line_no == 1 && buf.starts_with(UTF8_BOM) {
            buf.drain(..UTF8_BOM.len());
        }
        Ok(Some(terminated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_lines(input: &[u8], max_len: usize) -> Result<Vec<(Vec<u8>, bool)>> {
        let mut reader = LineReader::new(std::io::BufReader::with_capacity(4, input), max_len);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while let Some(terminated) = reader.read_line(&mut buf)? {
            out.push((buf.clone(), terminated));
        }
        Ok(out)
    }

    #[test]
    fn splits_lines_across_small_buffers_and_strips_crlf_and_bom() {
        let lines = all_lines(b"\xEF\xBB\xBFabc\r\n0123456789\n\nlast", 100).unwrap();
        assert_eq!(
            lines,
            vec![
                (b"abc".to_vec(), true),
                (b"0123456789".to_vec(), true),
                (Vec::new(), true),
                (b"last".to_vec(), false),
            ]
        );
    }

    #[test]
    fn bom_only_stripped_on_first_line() {
        let lines = all_lines(b"a\n\xEF\xBB\xBFb\n", 100).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].0, b"\xEF\xBB\xBFb".to_vec());
    }

    #[test]
    fn line_longer_than_limit_is_an_error() {
        let err = all_lines(b"short\nthis line is too long\n", 10).unwrap_err();
        match err {
            PowerviewError::LineTooLong { line, limit } => {
                assert_eq!(line, 2);
                assert_eq!(limit, 10);
            }
            other => panic!("unexpected error {other:?}"),
        }
        // Exactly at the limit is fine.
        assert_eq!(all_lines(b"0123456789\n", 10).unwrap().len(), 1);
    }

    #[test]
    fn empty_input_has_no_lines() {
        assert!(all_lines(b"", 10).unwrap().is_empty());
        assert_eq!(all_lines(b"\n", 10).unwrap(), vec![(Vec::new(), true)]);
    }
}
