//! Byte-level normalisation of an iCalendar stream before it reaches the
//! `icalendar` parser (RFC 5545 §3.1 "Content Lines").
//!
//! The parser only understands CRLF/LF line breaks and expects valid UTF-8;
//! real exports also use bare CR, carry a UTF-8 byte-order mark, and fold
//! lines in the middle of a multi-byte UTF-8 character (RFC 5545 §3.1 folds
//! at 75 *octets*). This module therefore:
//!
//! 1. refuses UTF-16 (byte-order mark or NUL bytes) and strips a UTF-8 BOM;
//! 2. splits physical lines at CRLF, bare CR and bare LF;
//! 3. unfolds on bytes (a physical line starting with SPACE or HTAB continues
//!    the previous one, minus that single whitespace octet), so a fold that
//!    splits a UTF-8 sequence is rejoined *before* decoding;
//! 4. decodes each logical line as UTF-8, naming the original line of the
//!    first bad byte on failure;
//! 5. joins the logical lines with CRLF and keeps, for each one, its byte
//!    offset in the joined text and its 1-based line number in the original
//!    file, so errors found later can name the original line.

use super::IcsError;

/// Separator of logical lines in [`Normalized::text`]. CRLF, not LF: the
/// parser looks for the end of a property value with `take_until("\r\n")`
/// first, which on LF-only text scans to the end of the file for every
/// property (quadratic time).
pub(crate) const LINE_END: &str = "\r\n";

/// The unfolded, CRLF-joined text plus the map back to original line numbers.
#[derive(Debug, Clone)]
pub(crate) struct Normalized {
    /// Logical lines joined with CRLF (with a trailing CRLF), valid UTF-8.
    pub text: String,
    /// Byte offset in `text` where each logical line starts (ascending).
    pub starts: Vec<usize>,
    /// 1-based line number in the original file of each logical line.
    pub orig_lines: Vec<usize>,
}

impl Normalized {
    /// Number of logical lines.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// The text of logical line `idx` (without its line end).
    pub fn line(&self, idx: usize) -> &str {
        let start = self.starts[idx];
        let end = self.starts.get(idx + 1).copied().unwrap_or(self.text.len());
        let line = self.text.get(start..end).unwrap_or("");
        line.strip_suffix(LINE_END).unwrap_or(line)
    }

    /// Index of the logical line containing byte offset `off` of `text`.
    pub fn line_index_at(&self, off: usize) -> Option<usize> {
        if off > self.text.len() || self.starts.is_empty() {
            return None;
        }
        Some(self.starts.partition_point(|s| *s <= off).saturating_sub(1))
    }

    /// Original 1-based line number of the logical line containing the first
    /// byte of `s`, when `s` is a slice of `text` (zero-copy output of the
    /// parser); `None` for strings that do not point into `text`.
    pub fn orig_line_of(&self, s: &str) -> Option<usize> {
        let base = self.text.as_ptr() as usize;
        let ptr = s.as_ptr() as usize;
        if ptr < base || ptr >= base + self.text.len() {
            return None;
        }
        self.line_index_at(ptr - base).map(|i| self.orig_lines[i])
    }

    /// Byte range in `text` covering logical lines `first..=last`, including
    /// the line end of `last`.
    pub fn span(&self, first: usize, last: usize) -> std::ops::Range<usize> {
        let start = self.starts[first];
        let end = self.starts.get(last + 1).copied().unwrap_or(self.text.len());
        start..end
    }
}

/// A logical line being assembled: its bytes and, for each physical segment,
/// (offset inside the logical line, original 1-based line number).
struct Pending {
    bytes: Vec<u8>,
    segments: Vec<(usize, usize)>,
}

/// Normalises raw file bytes; see the module documentation.
///
/// # Errors
/// [`IcsError::Empty`] for a file with no content, [`IcsError::Utf16`] for
/// UTF-16 text, [`IcsError::Encoding`] for bytes that are not UTF-8.
pub(crate) fn normalize(bytes: &[u8]) -> Result<Normalized, IcsError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(IcsError::Utf16);
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    if bytes.len() >= 2 && (bytes[0] == 0 || bytes[1] == 0) {
        return Err(IcsError::Utf16);
    }

    // 1. Physical lines (CRLF, CR, LF), numbered from 1.
    let mut physical: Vec<(&[u8], usize)> = Vec::new();
    let mut line_no = 1usize;
    let mut start = 0usize;
    let mut i = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' => {
                physical.push((&bytes[start..i], line_no));
                line_no += 1;
                i += if bytes.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
                start = i;
            }
            b'\n' => {
                physical.push((&bytes[start..i], line_no));
                line_no += 1;
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < bytes.len() {
        physical.push((&bytes[start..], line_no));
    }

    // 2. Unfold on bytes; blank physical lines are dropped.
    let mut logical: Vec<Pending> = Vec::new();
    for (content, no) in physical {
        if content.is_empty() {
            continue;
        }
        let is_continuation = matches!(content[0], b' ' | b'\t');
        match logical.last_mut() {
            Some(prev) if is_continuation => {
                prev.segments.push((prev.bytes.len(), no));
                prev.bytes.extend_from_slice(&content[1..]);
            }
            _ => logical.push(Pending { bytes: content.to_vec(), segments: vec![(0, no)] }),
        }
    }

    // 3. Decode and join.
    let mut text = String::with_capacity(bytes.len());
    let mut starts = Vec::with_capacity(logical.len());
    let mut orig_lines = Vec::with_capacity(logical.len());
    for pending in logical {
        let decoded = match std::str::from_utf8(&pending.bytes) {
            Ok(s) => s,
            Err(e) => {
                let bad = e.valid_up_to();
                let line = pending.segments.iter().rev().find(|(off, _)| *off <= bad).map_or(pending.segments[0].1, |(_, no)| *no);
                return Err(IcsError::Encoding { line });
            }
        };
        if decoded.trim().is_empty() {
            continue;
        }
        starts.push(text.len());
        orig_lines.push(pending.segments[0].1);
        text.push_str(decoded);
        text.push_str(LINE_END);
    }
    if starts.is_empty() {
        return Err(IcsError::Empty);
    }
    Ok(Normalized { text, starts, orig_lines })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_line_endings_and_folds() {
        let n = normalize(b"\xEF\xBB\xBFA:1\r\nB:2\rC:3\nD:4\r\n  5\n\tsix\r\n\r\nE:7").unwrap();
        assert_eq!(n.text, "A:1\r\nB:2\r\nC:3\r\nD:4 5six\r\nE:7\r\n");
        assert_eq!(n.orig_lines, vec![1, 2, 3, 4, 8]);
        assert_eq!(n.line(3), "D:4 5six");
        assert_eq!(n.line(4), "E:7");
    }

    #[test]
    fn fold_inside_utf8_sequence_is_rejoined() {
        // "é" is C3 A9; the fold splits it.
        let n = normalize(b"S:caf\xC3\r\n \xA9!\r\n").unwrap();
        assert_eq!(n.line(0), "S:café!");
    }

    #[test]
    fn bad_utf8_names_the_physical_line() {
        let e = normalize(b"A:1\r\nB:ok\r\n \xFF\r\n").unwrap_err();
        assert_eq!(e, IcsError::Encoding { line: 3 });
        assert_eq!(normalize(b"\xFF\xFEB\x00").unwrap_err(), IcsError::Utf16);
        assert_eq!(normalize(b"\r\n \r\n").unwrap_err(), IcsError::Empty);
    }
}
