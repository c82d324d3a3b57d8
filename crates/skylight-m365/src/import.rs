//! Reading audit records from files: what `skylight import` loads.
//!
//! The format is recognised from the content, not from the file name:
//!
//! - **JSON documents**: a Management Activity API content blob (`[ {record}, … ]`), a single
//!   record object, an envelope around records (see below), or several such documents one after
//!   the other (pretty-printed `jq` output). A JSON document is read into memory whole.
//! - **NDJSON**: one JSON value per line, usually a record, possibly an envelope or a whole blob.
//!   Read line by line: memory holds one line at a time.
//! - **Purview audit-search CSV exports**: RFC 4180 CSV with a header row; the record is the JSON
//!   in the `AuditData` column (found by name, case-insensitively). Read row by row: memory holds
//!   one row at a time, except after a quoted field that never closes (see [`read`]).
//!
//! Envelopes that peers and SIEMs write around a record are unwrapped generically: an object
//! without `Id` whose record is under `event.original` (a JSON string, as Elastic keeps it),
//! `o365audit`, `AuditData`, `record`, `log` or `office365` (an object or a JSON string), and
//! objects holding a list of such things (`{"events": […]}`, `{"expected": […]}`, …). A record is
//! a JSON object with an `Id`; one whose keys are all lower case (`id`, `operation`, …) is
//! accepted too. The stored raw bytes are those of the record itself, never the envelope's.
//!
//! A malformed line, array element, envelope or CSV row never stops the reading: it becomes a
//! [`Problem`] with its 1-based line number (for JSON documents, the line where the element
//! starts; for CSV, the line where the row starts), delivered in order with the good records.
//! Only a file that cannot be read at all, or whose format is not recognised, is an error.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use serde_json::value::RawValue;
use skylight_model::{AuditRecord, ContentType, ParseError, RecordColumns};

/// RecordTypes the Management Activity API publishes under `DLP.All`.
pub const DLP_RECORD_TYPES: [i64; 7] = [11, 13, 33, 63, 99, 100, 107];

/// How deep envelopes may nest inside one another.
const MAX_DEPTH: usize = 16;

/// Keys under which an envelope keeps one record (an object, or the record as a JSON string),
/// tried in this order after `event.original`.
const ENVELOPE_KEYS: [&str; 5] = ["o365audit", "AuditData", "record", "log", "office365"];

/// Keys under which a wrapper keeps a list of records or envelopes.
const LIST_KEYS: [&str; 8] = [
    "events", "expected", "records", "value", "items", "results", "logs", "data",
];

/// Fields that make an object look like an audit record even without an `Id`.
const RECORD_KEYS: [&str; 5] = [
    "RecordType",
    "Operation",
    "CreationTime",
    "Workload",
    "UserId",
];

/// The content type the Management Activity API would have published a record under: DLP
/// RecordTypes go to `DLP.All`; otherwise the `Workload` decides (Entra ID, Exchange,
/// SharePoint/OneDrive), then, when the workload is missing or not one of those, the RecordType;
/// everything else is `Audit.General`.
pub fn content_type_of(columns: &RecordColumns) -> ContentType {
    if let Some(rt) = columns.record_type
        && DLP_RECORD_TYPES.contains(&rt)
    {
        return ContentType::Dlp;
    }
    let workload = columns.workload.as_deref().map(str::trim).unwrap_or("");
    let is = |name: &str| workload.eq_ignore_ascii_case(name);
    if is("AzureActiveDirectory") {
        ContentType::AzureActiveDirectory
    } else if is("Exchange") {
        ContentType::Exchange
    } else if is("SharePoint") || is("OneDrive") {
        ContentType::SharePoint
    } else {
        match columns.record_type {
            Some(8 | 9 | 15) => ContentType::AzureActiveDirectory,
            Some(1 | 2 | 3 | 19 | 50) => ContentType::Exchange,
            Some(4 | 6 | 7 | 14 | 36 | 37 | 54 | 55 | 56) => ContentType::SharePoint,
            _ => ContentType::General,
        }
    }
}

/// A file's format, as recognised from its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Nothing but whitespace.
    Empty,
    /// One or more JSON documents (an array, a record, an envelope), read whole.
    Json,
    /// One JSON value per line.
    Ndjson,
    /// A CSV export with an `AuditData` column.
    Csv,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Empty => "empty",
            Format::Json => "JSON",
            Format::Ndjson => "NDJSON",
            Format::Csv => "CSV",
        })
    }
}

/// A record read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The record, with the raw bytes of the record itself (not of an envelope around it).
    pub record: AuditRecord,
    /// The content type the Management Activity API would have published it under.
    pub content_type: ContentType,
    /// The 1-based line where it starts (its element, line or CSV row).
    pub line: u64,
}

/// Something in a file that is not a readable record; kept aside, never fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, as named by the caller.
    pub file: String,
    /// The 1-based line where the element, line or row starts.
    pub line: u64,
    /// Why it could not be read.
    pub reason: String,
    /// The bytes that could not be read.
    pub raw: Vec<u8>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

/// What reading a file yields, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A record.
    Record(Imported),
    /// Something that is not a readable record.
    Problem(Problem),
}

/// Why a file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The operating system could not read it.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// Its content is not one of the formats this module reads.
    #[error("{0}")]
    Unrecognised(String),
}

/// Why reading stopped: the file, or the consumer of the entries.
#[derive(Debug)]
pub enum ImportError<E> {
    /// The file could not be read (or not recognised).
    Read(ReadError),
    /// The consumer returned an error.
    Sink(E),
}

impl<E: fmt::Display> fmt::Display for ImportError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::Read(e) => e.fmt(f),
            ImportError::Sink(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for ImportError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ImportError::Read(e) => Some(e),
            ImportError::Sink(e) => Some(e),
        }
    }
}

impl<E> From<io::Error> for ImportError<E> {
    fn from(e: io::Error) -> Self {
        ImportError::Read(ReadError::Io(e))
    }
}

impl<E> From<ReadError> for ImportError<E> {
    fn from(e: ReadError) -> Self {
        ImportError::Read(e)
    }
}

/// Everything read from a file, collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileContents {
    /// The recognised format.
    pub format: Format,
    /// The good records, in file order.
    pub records: Vec<Imported>,
    /// Everything that could not be read, in file order.
    pub problems: Vec<Problem>,
}

/// Reads a file and hands each record and problem to `sink` as soon as it is read. `file` names
/// the file in problems. Memory: see the module documentation; JSON documents are read whole,
/// NDJSON and CSV are streamed.
///
/// A CSV quoted field that never closes would swallow the rest of the file: the row's first line
/// is then reported as a problem and the following lines are read again as rows of their own, so
/// that the rows after it are not lost (they are held in memory meanwhile).
pub fn read<R: BufRead, E>(
    file: &str,
    reader: R,
    mut sink: impl FnMut(Entry) -> Result<(), E>,
) -> Result<Format, ImportError<E>> {
    let ctx = Ctx { file };
    let mut src = LineSource::new(reader);
    let format = detect(&mut src)?;
    let mut emit = |out: &mut Vec<Entry>| -> Result<(), ImportError<E>> {
        for entry in out.drain(..) {
            sink(entry).map_err(ImportError::Sink)?;
        }
        Ok(())
    };
    let mut out = Vec::new();
    match format {
        Format::Empty => {}
        Format::Ndjson => {
            while let Some((n, line)) = src.next_line()? {
                ctx.ndjson_line(n, &line, &mut out);
                emit(&mut out)?;
            }
        }
        Format::Json => {
            let bytes = src.rest()?;
            match String::from_utf8(bytes) {
                Ok(text) => {
                    let t = Text::new(&text, 1);
                    let end = text.len();
                    let b = text.as_bytes();
                    let mut pos = skip_ws(b, 0, end);
                    while pos < end {
                        let stop = unit_end(b, pos, end);
                        ctx.unit(&t, pos, stop, 0, &mut out);
                        emit(&mut out)?;
                        pos = skip_ws(b, stop, end);
                    }
                }
                Err(e) => {
                    let bytes = e.as_bytes();
                    let at = e.utf8_error().valid_up_to();
                    let line = 1 + count_newlines(&bytes[..at]);
                    out.push(ctx.problem(
                        line,
                        "the file is not valid UTF-8 (JSON must be); nothing in it was read",
                        line_around(bytes, at),
                    ));
                    emit(&mut out)?;
                }
            }
        }
        Format::Csv => ctx.csv(&mut src, &mut out, &mut emit)?,
    }
    Ok(format)
}

/// Opens and reads a file; see [`read`]. The file is named in problems as `path` displays.
pub fn read_path<E>(
    path: &Path,
    sink: impl FnMut(Entry) -> Result<(), E>,
) -> Result<Format, ImportError<E>> {
    let file = std::fs::File::open(path)?;
    read(
        &path.display().to_string(),
        BufReader::with_capacity(1 << 16, file),
        sink,
    )
}

/// Reads a whole file into memory: records and problems, collected.
pub fn read_all<R: BufRead>(file: &str, reader: R) -> Result<FileContents, ReadError> {
    let mut records = Vec::new();
    let mut problems = Vec::new();
    let format = read(file, reader, |entry| {
        match entry {
            Entry::Record(r) => records.push(r),
            Entry::Problem(p) => problems.push(p),
        }
        Ok::<(), Infallible>(())
    })
    .map_err(|e| match e {
        ImportError::Read(r) => r,
        ImportError::Sink(never) => match never {},
    })?;
    Ok(FileContents {
        format,
        records,
        problems,
    })
}

/// The SHA-256 of a file's bytes, in lower-case hex, read in a streaming pass.
pub fn file_digest(path: &Path) -> io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(buf.get(..n).unwrap_or_default());
    }
    Ok(ctx
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Lines of a file, numbered from 1, with their terminators, the UTF-8 byte order mark removed
/// from the first, and lines that were looked at put back in front.
struct LineSource<R> {
    reader: R,
    line: u64,
    pushback: VecDeque<(u64, Vec<u8>)>,
    started: bool,
    utf16: bool,
}

impl<R: BufRead> LineSource<R> {
    fn new(reader: R) -> Self {
        LineSource {
            reader,
            line: 0,
            pushback: VecDeque::new(),
            started: false,
            utf16: false,
        }
    }

    fn next_line(&mut self) -> io::Result<Option<(u64, Vec<u8>)>> {
        if let Some(l) = self.pushback.pop_front() {
            return Ok(Some(l));
        }
        let mut buf = Vec::new();
        if self.reader.read_until(b'\n', &mut buf)? == 0 {
            return Ok(None);
        }
        if !self.started {
            self.started = true;
            if buf.starts_with(b"\xEF\xBB\xBF") {
                buf.drain(..3);
            } else if buf.starts_with(b"\xFF\xFE") || buf.starts_with(b"\xFE\xFF") {
                self.utf16 = true;
            }
        }
        self.line += 1;
        Ok(Some((self.line, buf)))
    }

    /// Puts lines back, to be read again in the given order before anything else.
    fn unread(&mut self, lines: Vec<(u64, Vec<u8>)>) {
        for l in lines.into_iter().rev() {
            self.pushback.push_front(l);
        }
    }

    /// Everything not read yet, as one buffer.
    fn rest(&mut self) -> io::Result<Vec<u8>> {
        let mut all = Vec::new();
        for (_, l) in self.pushback.drain(..) {
            all.extend_from_slice(&l);
        }
        self.reader.read_to_end(&mut all)?;
        Ok(all)
    }
}

/// Recognises the format from the first non-blank lines (which are put back).
fn detect<R: BufRead>(src: &mut LineSource<R>) -> Result<Format, ReadError> {
    let mut seen = Vec::new();
    let mut nonblank = Vec::new();
    while nonblank.len() < 3 {
        let Some((n, line)) = src.next_line()? else {
            break;
        };
        if src.utf16 {
            return Err(ReadError::Unrecognised(
                "the file is UTF-16 encoded; save it as UTF-8 (for example with Excel's \
                 \"CSV UTF-8\") and import it again"
                    .into(),
            ));
        }
        if !line.trim_ascii().is_empty() {
            nonblank.push(seen.len());
        }
        seen.push((n, line));
    }
    let line_at = |i: Option<&usize>| i.and_then(|&i| seen.get(i)).map(|(_, l)| l.trim_ascii());
    let first = line_at(nonblank.first());
    let second = line_at(nonblank.get(1));
    let third = line_at(nonblank.get(2));
    let complete_object = |l: &[u8]| {
        l.starts_with(b"{") && serde_json::from_slice::<serde::de::IgnoredAny>(l).is_ok()
    };
    let format = match first {
        None => Format::Empty,
        Some(first) if first.starts_with(b"{") || first.starts_with(b"[") => {
            match serde_json::from_slice::<serde::de::IgnoredAny>(first) {
                // A complete value on the first line, or a broken one that ends there.
                Ok(_) => Format::Ndjson,
                Err(e) if !e.is_eof() => Format::Ndjson,
                // The first value goes on: a document, unless it is a truncated NDJSON line
                // followed by complete records (`{"events": [` + one record + `]}` is not).
                Err(_) => {
                    if first.starts_with(b"{")
                        && second.is_some_and(complete_object)
                        && third.is_none_or(|t| t.starts_with(b"{"))
                    {
                        Format::Ndjson
                    } else {
                        Format::Json
                    }
                }
            }
        }
        Some(first)
            if first
                .to_ascii_lowercase()
                .windows(9)
                .any(|w| w == b"auditdata") =>
        {
            Format::Csv
        }
        Some(first) => {
            let start: String = String::from_utf8_lossy(first).chars().take(60).collect();
            return Err(ReadError::Unrecognised(format!(
                "not a recognised audit export: expected JSON (an array or records), NDJSON, or a \
                 Purview audit-search CSV with an AuditData column; the file starts with {start:?}"
            )));
        }
    };
    src.unread(seen);
    Ok(format)
}

/// A text being read, with where its lines start, to turn offsets into line numbers.
struct Text<'a> {
    text: &'a str,
    base_line: u64,
    line_starts: Vec<usize>,
}

impl<'a> Text<'a> {
    /// A text whose first line is `base_line`.
    fn new(text: &'a str, base_line: u64) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Text {
            text,
            base_line,
            line_starts,
        }
    }

    /// A text every part of which is reported at `line` (one NDJSON line, a CSV field, a JSON
    /// string decoded from an envelope).
    fn single(text: &'a str, line: u64) -> Self {
        Text {
            text,
            base_line: line,
            line_starts: vec![0],
        }
    }

    fn line_at(&self, offset: usize) -> u64 {
        let i = self.line_starts.partition_point(|&s| s <= offset);
        self.base_line + u64::try_from(i.saturating_sub(1)).unwrap_or(0)
    }

    /// Where `s` starts in the text, if it is a part of it.
    fn offset_of(&self, s: &str) -> Option<usize> {
        let off = s.as_ptr().addr().checked_sub(self.text.as_ptr().addr())?;
        (off + s.len() <= self.text.len()).then_some(off)
    }

    /// The line of a value borrowed from this text, or `fallback` for one that is not.
    fn line_of(&self, raw: &RawValue, fallback: u64) -> u64 {
        self.offset_of(raw.get())
            .map_or(fallback, |o| self.line_at(o))
    }

    fn column_at(&self, offset: usize) -> usize {
        let i = self.line_starts.partition_point(|&s| s <= offset);
        let start = self
            .line_starts
            .get(i.saturating_sub(1))
            .copied()
            .unwrap_or(0);
        offset - start + 1
    }
}

/// Reading one file.
struct Ctx<'f> {
    file: &'f str,
}

impl Ctx<'_> {
    fn problem(&self, line: u64, reason: impl Into<String>, raw: &[u8]) -> Entry {
        Entry::Problem(Problem {
            file: self.file.to_owned(),
            line,
            reason: reason.into(),
            raw: raw.to_vec(),
        })
    }

    fn ndjson_line(&self, n: u64, line: &[u8], out: &mut Vec<Entry>) {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.trim_ascii().is_empty() {
            return;
        }
        match std::str::from_utf8(line) {
            Ok(text) => self.values(&Text::single(text, n), out),
            Err(_) => out.push(self.problem(n, "the line is not valid UTF-8", line)),
        }
    }

    /// Reads a sequence of JSON values separated by whitespace.
    fn values(&self, t: &Text<'_>, out: &mut Vec<Entry>) {
        let b = t.text.as_bytes();
        let end = b.len();
        let mut pos = skip_ws(b, 0, end);
        while pos < end {
            let stop = unit_end(b, pos, end);
            self.unit(t, pos, stop, 0, out);
            pos = skip_ws(b, stop, end);
        }
    }

    /// Reads the value at `t[s..e]`; if it is not valid JSON, salvages what can be salvaged.
    fn unit(&self, t: &Text<'_>, s: usize, e: usize, depth: usize, out: &mut Vec<Entry>) {
        let span = t.text.get(s..e).unwrap_or_default();
        let line = t.line_at(s);
        match serde_json::from_str::<&RawValue>(span) {
            Ok(raw) => self.value(t, raw, line, depth, out),
            Err(err) => {
                let b = t.text.as_bytes();
                let salvaged = depth < MAX_DEPTH
                    && match b.get(s) {
                        Some(b'[') => {
                            self.broken_array(t, s, e, depth, out);
                            true
                        }
                        Some(b'{') => self.broken_wrapper(t, s, e, depth, out),
                        _ => false,
                    };
                if !salvaged {
                    let msg = err.to_string();
                    let msg = msg
                        .rsplit_once(" at line ")
                        .map_or(msg.as_str(), |(m, _)| m);
                    let at = if err.line() <= 1 {
                        s + err.column().saturating_sub(1)
                    } else {
                        t.line_starts
                            .get(t.line_starts.partition_point(|&x| x <= s) + err.line() - 2)
                            .map_or(s, |&ls| ls + err.column().saturating_sub(1))
                    };
                    let reason = if t.line_starts.len() > 1 {
                        format!(
                            "invalid JSON: {msg} (line {}, column {})",
                            t.line_at(at),
                            t.column_at(at)
                        )
                    } else {
                        format!("invalid JSON: {msg} (column {})", at + 1)
                    };
                    out.push(self.problem(line, reason, span.as_bytes()));
                }
            }
        }
    }

    /// The elements of an array that is not valid JSON as a whole, each read on its own.
    fn broken_array(&self, t: &Text<'_>, s: usize, e: usize, depth: usize, out: &mut Vec<Entry>) {
        let b = t.text.as_bytes();
        let mut pos = s + 1;
        loop {
            pos = skip_ws(b, pos, e);
            match b.get(pos) {
                None | Some(b']') => break,
                _ if pos >= e => break,
                Some(b',') => pos += 1,
                Some(_) => {
                    let stop = value_end(b, pos, e);
                    self.unit(t, pos, stop, depth + 1, out);
                    pos = stop;
                }
            }
        }
    }

    /// An object that is not valid JSON as a whole: if it wraps a list (`{"events": […]}`) and
    /// has no `Id` of its own, that list's elements are read on their own. False if it does not.
    fn broken_wrapper(
        &self,
        t: &Text<'_>,
        s: usize,
        e: usize,
        depth: usize,
        out: &mut Vec<Entry>,
    ) -> bool {
        let b = t.text.as_bytes();
        let mut pos = s + 1;
        let mut lists = Vec::new();
        loop {
            pos = skip_ws(b, pos, e);
            if pos >= e || b.get(pos) != Some(&b'"') {
                break;
            }
            let key_end = value_end(b, pos, e);
            let key = t
                .text
                .get(pos..key_end)
                .and_then(|k| serde_json::from_str::<String>(k).ok())
                .unwrap_or_default();
            if key.eq_ignore_ascii_case("Id") {
                return false;
            }
            pos = skip_ws(b, key_end, e);
            if pos >= e || b.get(pos) != Some(&b':') {
                break;
            }
            let vs = skip_ws(b, pos + 1, e);
            if vs >= e {
                break;
            }
            let ve = value_end(b, vs, e);
            if b.get(vs) == Some(&b'[') && LIST_KEYS.iter().any(|l| l.eq_ignore_ascii_case(&key)) {
                lists.push((vs, ve));
            }
            pos = skip_ws(b, ve, e);
            if b.get(pos) == Some(&b',') && pos < e {
                pos += 1;
            } else {
                break;
            }
        }
        for &(vs, ve) in &lists {
            self.unit(t, vs, ve, depth + 1, out);
        }
        !lists.is_empty()
    }

    /// A valid JSON value: a record, an envelope, or an array of those.
    /// `line` is where the element that holds it starts: unwrapping an envelope keeps it, only
    /// the elements of an array get lines of their own.
    fn value(&self, t: &Text<'_>, raw: &RawValue, line: u64, depth: usize, out: &mut Vec<Entry>) {
        let text = raw.get();
        if depth > MAX_DEPTH {
            out.push(self.problem(line, "envelopes nested too deeply", text.as_bytes()));
            return;
        }
        match text.as_bytes().first() {
            Some(b'{') => self.object(t, raw, line, depth, out),
            Some(b'[') => match serde_json::from_str::<Vec<&RawValue>>(text) {
                Ok(items) => {
                    for item in items {
                        self.value(t, item, t.line_of(item, line), depth + 1, out);
                    }
                }
                Err(e) => {
                    out.push(self.problem(line, format!("invalid JSON: {e}"), text.as_bytes()))
                }
            },
            _ => {
                let start: String = text.chars().take(40).collect();
                out.push(self.problem(
                    line,
                    format!("not an audit record: expected a JSON object, found {start}"),
                    text.as_bytes(),
                ));
            }
        }
    }

    fn object(&self, t: &Text<'_>, raw: &RawValue, line: u64, depth: usize, out: &mut Vec<Entry>) {
        match AuditRecord::from_raw(raw) {
            Ok(record) => out.push(Entry::Record(Imported {
                content_type: content_type_of(&record.columns),
                record,
                line,
            })),
            Err(ParseError::MissingId) => self.envelope(t, raw, line, depth, out),
            Err(e) => out.push(self.problem(
                line,
                format!("the record cannot be read: {e}"),
                raw.get().as_bytes(),
            )),
        }
    }

    /// An object without `Id`: an envelope, a wrapper of a list, a record with lower-case keys,
    /// or a problem.
    fn envelope(
        &self,
        t: &Text<'_>,
        raw: &RawValue,
        line: u64,
        depth: usize,
        out: &mut Vec<Entry>,
    ) {
        let map: HashMap<String, &RawValue> = match serde_json::from_str(raw.get()) {
            Ok(m) => m,
            Err(e) => {
                out.push(self.problem(line, format!("invalid JSON: {e}"), raw.get().as_bytes()));
                return;
            }
        };
        let mut candidates: Vec<(&str, &RawValue)> = Vec::new();
        if let Some(event) = get_ci(&map, "event")
            && let Ok(inner) = serde_json::from_str::<HashMap<String, &RawValue>>(event.get())
            && let Some(original) = get_ci(&inner, "original")
        {
            candidates.push(("event.original", original));
        }
        if let Some(original) = get_ci(&map, "event.original") {
            candidates.push(("event.original", original));
        }
        for key in ENVELOPE_KEYS {
            if let Some(v) = get_ci(&map, key) {
                candidates.push((key, v));
            }
        }
        let mut first_failure: Option<Vec<Entry>> = None;
        for (key, cand) in candidates {
            let mut tmp = Vec::new();
            self.nested(t, key, cand, line, depth + 1, &mut tmp);
            if !tmp.is_empty() && tmp.iter().all(|e| matches!(e, Entry::Record(_))) {
                out.append(&mut tmp);
                return;
            }
            if tmp.is_empty() {
                tmp.push(self.problem(
                    line,
                    format!("{key}: the envelope holds no record"),
                    cand.get().as_bytes(),
                ));
            }
            first_failure.get_or_insert(tmp);
        }
        if let Some(mut failure) = first_failure {
            out.append(&mut failure);
            return;
        }
        if get_ci(&map, "Id").is_some() && RECORD_KEYS.iter().any(|k| get_ci(&map, k).is_some()) {
            match lenient_record(raw, &map) {
                Ok(record) => out.push(Entry::Record(Imported {
                    content_type: content_type_of(&record.columns),
                    record,
                    line,
                })),
                Err(e) => out.push(self.problem(
                    line,
                    format!("the record cannot be read: {e}"),
                    raw.get().as_bytes(),
                )),
            }
            return;
        }
        for key in LIST_KEYS {
            if let Some(list) = get_ci(&map, key)
                && list.get().starts_with('[')
            {
                self.value(t, list, line, depth + 1, out);
                return;
            }
        }
        let reason = if RECORD_KEYS.iter().any(|k| get_ci(&map, k).is_some()) {
            "the record has no Id".to_owned()
        } else {
            "no audit record here: an object without Id and without a known envelope \
             (event.original, o365audit, AuditData, record, log, events, expected, …)"
                .to_owned()
        };
        out.push(self.problem(line, reason, raw.get().as_bytes()));
    }

    /// The content of an envelope key: a record (or more) as an object, or as a JSON string.
    fn nested(
        &self,
        t: &Text<'_>,
        key: &str,
        raw: &RawValue,
        line: u64,
        depth: usize,
        out: &mut Vec<Entry>,
    ) {
        let start = out.len();
        if raw.get().starts_with('"') {
            match serde_json::from_str::<String>(raw.get()) {
                Ok(decoded) => match serde_json::from_str::<&RawValue>(&decoded) {
                    Ok(inner) => self.value(&Text::single(&decoded, line), inner, line, depth, out),
                    Err(e) => out.push(self.problem(
                        line,
                        format!("not valid JSON: {e}"),
                        decoded.as_bytes(),
                    )),
                },
                Err(e) => {
                    out.push(self.problem(line, format!("invalid JSON: {e}"), raw.get().as_bytes()))
                }
            }
        } else {
            self.value(t, raw, line, depth, out);
        }
        for entry in out.iter_mut().skip(start) {
            if let Entry::Problem(p) = entry {
                p.reason = format!("{key}: {}", p.reason);
            }
        }
    }

    /// Reads a CSV export: a header row naming an `AuditData` column, then one record per row.
    fn csv<R: BufRead, E>(
        &self,
        src: &mut LineSource<R>,
        out: &mut Vec<Entry>,
        emit: &mut impl FnMut(&mut Vec<Entry>) -> Result<(), ImportError<E>>,
    ) -> Result<(), ImportError<E>> {
        let header = loop {
            match csv_row(src)? {
                None => return Ok(()),
                Some(row) if row.is_blank() => {}
                Some(row) => break row,
            }
        };
        let Some(column) = header.fields.iter().position(|f| {
            String::from_utf8_lossy(f)
                .trim()
                .eq_ignore_ascii_case("AuditData")
        }) else {
            let names: Vec<String> = header
                .fields
                .iter()
                .map(|f| String::from_utf8_lossy(f).trim().to_owned())
                .collect();
            return Err(ImportError::Read(ReadError::Unrecognised(format!(
                "the CSV header has no AuditData column (columns: {})",
                names.join(", ")
            ))));
        };
        while let Some(mut row) = csv_row(src)? {
            if row.unterminated {
                // Report the row's first line and read the lines after it again.
                let mut lines = std::mem::take(&mut row.lines).into_iter();
                let first = lines.next().map(|(_, l)| l).unwrap_or_default();
                out.push(self.problem(
                    row.start_line,
                    "a quoted field opens on this line and never closes; this line was skipped \
                     and the lines after it were read again as rows of their own",
                    first.trim_ascii_end(),
                ));
                src.unread(lines.collect());
            } else if row.is_blank() {
                continue;
            } else if row.lines.len() > 1
                && row
                    .fields
                    .get(column)
                    .is_none_or(|f| serde_json::from_slice::<serde::de::IgnoredAny>(f).is_err())
            {
                // A quoted field ran over several lines without yielding a readable record: most
                // likely a stray quote that swallowed the rows after it. Skip the first line and
                // read the others again.
                let mut lines = std::mem::take(&mut row.lines).into_iter();
                let first = lines.next().map(|(_, l)| l).unwrap_or_default();
                out.push(self.problem(
                    row.start_line,
                    "a quoted field opens on this line and runs over the following lines without \
                     holding a readable AuditData; this line was skipped and the lines after it \
                     were read again as rows of their own",
                    first.trim_ascii_end(),
                ));
                src.unread(lines.collect());
            } else {
                self.csv_record(&row, column, out);
            }
            emit(out)?;
        }
        Ok(())
    }

    fn csv_record(&self, row: &CsvRow, column: usize, out: &mut Vec<Entry>) {
        let line = row.start_line;
        let Some(field) = row.fields.get(column) else {
            out.push(self.problem(
                line,
                format!(
                    "the row has {} fields; AuditData is field {}",
                    row.fields.len(),
                    column + 1
                ),
                &row.raw(),
            ));
            return;
        };
        if field.trim_ascii().is_empty() {
            out.push(self.problem(line, "the AuditData field is empty", &row.raw()));
            return;
        }
        match std::str::from_utf8(field) {
            Ok(text) => {
                let start = out.len();
                self.values(&Text::single(text, line), out);
                for entry in out.iter_mut().skip(start) {
                    if let Entry::Problem(p) = entry {
                        p.reason = format!("AuditData: {}", p.reason);
                    }
                }
            }
            Err(_) => {
                out.push(self.problem(line, "the AuditData field is not valid UTF-8", &row.raw()))
            }
        }
    }
}

/// A record with lower-case (or otherwise odd-case) keys: its columns are read
/// case-insensitively, its raw bytes kept as they are.
fn lenient_record(
    raw: &RawValue,
    map: &HashMap<String, &RawValue>,
) -> Result<AuditRecord, ParseError> {
    let mut head: BTreeMap<&str, &RawValue> = BTreeMap::new();
    for name in [
        "Id",
        "CreationTime",
        "RecordType",
        "Workload",
        "Operation",
        "UserId",
        "ClientIP",
    ] {
        if let Some(v) = get_ci(map, name) {
            head.insert(name, v);
        }
    }
    let json = serde_json::to_string(&head).map_err(|e| ParseError::NotAnObject(e.to_string()))?;
    let mut record = AuditRecord::from_json(&json)?;
    record.raw = raw.get().as_bytes().to_vec();
    Ok(record)
}

/// A key's value, matched exactly first, then case-insensitively.
fn get_ci<'r>(map: &HashMap<String, &'r RawValue>, key: &str) -> Option<&'r RawValue> {
    map.get(key).copied().or_else(|| {
        map.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .min_by(|a, b| a.0.cmp(b.0))
            .map(|(_, v)| *v)
    })
}

/// One CSV row: its fields and the physical lines it spans.
struct CsvRow {
    start_line: u64,
    lines: Vec<(u64, Vec<u8>)>,
    fields: Vec<Vec<u8>>,
    /// A quoted field was still open at the end of the file.
    unterminated: bool,
}

impl CsvRow {
    fn is_blank(&self) -> bool {
        self.fields.len() <= 1 && self.fields.iter().all(|f| f.trim_ascii().is_empty())
    }

    fn raw(&self) -> Vec<u8> {
        let mut raw: Vec<u8> = self
            .lines
            .iter()
            .flat_map(|(_, l)| l.iter().copied())
            .collect();
        while raw.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            raw.pop();
        }
        raw
    }
}

/// Reads one RFC 4180 row: fields separated by commas, quoted fields may hold commas, newlines
/// and doubled quotes; CRLF or LF line ends. Leniently, a quote inside an unquoted field and text
/// after a closing quote are kept as they are.
fn csv_row<R: BufRead>(src: &mut LineSource<R>) -> io::Result<Option<CsvRow>> {
    let Some((start_line, mut line)) = src.next_line()? else {
        return Ok(None);
    };
    let mut row = CsvRow {
        start_line,
        lines: Vec::new(),
        fields: Vec::new(),
        unterminated: false,
    };
    let mut n = start_line;
    let mut field = Vec::new();
    let mut in_quotes = false;
    let mut at_field_start = true;
    loop {
        let mut i = 0;
        while let Some(&c) = line.get(i) {
            if in_quotes {
                if c == b'"' {
                    if line.get(i + 1) == Some(&b'"') {
                        field.push(b'"');
                        i += 1;
                    } else {
                        in_quotes = false;
                    }
                } else {
                    field.push(c);
                }
            } else {
                match c {
                    b',' => {
                        row.fields.push(std::mem::take(&mut field));
                        at_field_start = true;
                        i += 1;
                        continue;
                    }
                    b'"' if at_field_start => in_quotes = true,
                    b'\n' => {}
                    b'\r' if matches!(line.get(i + 1), None | Some(b'\n')) => {}
                    _ => field.push(c),
                }
                at_field_start = false;
            }
            i += 1;
        }
        row.lines.push((n, line));
        if !in_quotes {
            break;
        }
        match src.next_line()? {
            Some((m, l)) => {
                n = m;
                line = l;
            }
            None => {
                row.unterminated = true;
                break;
            }
        }
    }
    row.fields.push(field);
    Ok(Some(row))
}

fn skip_ws(b: &[u8], mut pos: usize, end: usize) -> usize {
    while pos < end && matches!(b.get(pos), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        pos += 1;
    }
    pos
}

/// Where the JSON value starting at `start` ends, found by matching brackets outside strings
/// (without validating anything), or `end` if it never does. Always past `start`.
fn value_end(b: &[u8], start: usize, end: usize) -> usize {
    let mut i = start;
    match b.get(start) {
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut in_str = false;
            while i < end {
                match (in_str, b.get(i)) {
                    (true, Some(b'\\')) => i += 1,
                    (true, Some(b'"')) => in_str = false,
                    (false, Some(b'"')) => in_str = true,
                    (false, Some(b'{' | b'[')) => depth += 1,
                    (false, Some(b'}' | b']')) => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            end
        }
        Some(b'"') => {
            i += 1;
            while i < end {
                match b.get(i) {
                    Some(b'\\') => i += 1,
                    Some(b'"') => return i + 1,
                    _ => {}
                }
                i += 1;
            }
            end
        }
        _ => {
            i += 1;
            while i < end
                && !matches!(
                    b.get(i),
                    Some(b' ' | b'\t' | b'\r' | b'\n' | b',' | b'{' | b'}' | b'[' | b']' | b'"')
                )
            {
                i += 1;
            }
            i.min(end)
        }
    }
}

/// Where the top-level unit starting at `start` ends: a value's end for an object or array;
/// for anything else (text that is not a record), the end of the last line before a line that
/// starts with `{` or `[`, so that junk is one problem, not one per word.
fn unit_end(b: &[u8], start: usize, end: usize) -> usize {
    if matches!(b.get(start), Some(b'{' | b'[')) {
        return value_end(b, start, end);
    }
    let mut i = start;
    while i < end {
        if b.get(i) == Some(&b'\n') {
            let next = skip_ws(b, i + 1, end);
            if matches!(b.get(next), Some(b'{' | b'[')) && next < end {
                return i;
            }
            i = next;
        } else {
            i += 1;
        }
    }
    end
}

fn count_newlines(b: &[u8]) -> u64 {
    u64::try_from(b.iter().filter(|&&c| c == b'\n').count()).unwrap_or(u64::MAX)
}

/// The line holding byte `at`.
fn line_around(b: &[u8], at: usize) -> &[u8] {
    let start = b
        .get(..at)
        .and_then(|h| h.iter().rposition(|&c| c == b'\n'))
        .map_or(0, |p| p + 1);
    let end = b
        .get(at..)
        .and_then(|t| t.iter().position(|&c| c == b'\n'))
        .map_or(b.len(), |p| at + p);
    b.get(start..end).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn read_str(text: &str) -> FileContents {
        read_all("f.json", text.as_bytes()).expect("readable")
    }

    fn ids(c: &FileContents) -> Vec<&str> {
        c.records
            .iter()
            .map(|r| r.record.columns.id.as_str())
            .collect()
    }

    fn lines(c: &FileContents) -> Vec<u64> {
        c.records.iter().map(|r| r.line).collect()
    }

    fn problem_lines(c: &FileContents) -> Vec<u64> {
        c.problems.iter().map(|p| p.line).collect()
    }

    const A: &str = r#"{"Id":"a","RecordType":15,"Workload":"AzureActiveDirectory","Operation":"UserLoggedIn","CreationTime":"2024-05-01T10:00:00"}"#;
    const B: &str = r#"{"Id":"b","RecordType":2,"Workload":"Exchange","Operation":"Send"}"#;
    const C: &str =
        r#"{"Id":"c","RecordType":6,"Workload":"OneDrive","Operation":"FileDownloaded"}"#;

    #[test]
    fn a_management_api_blob_on_one_line() {
        let c = read_str(&format!("[{A},{B},{C}]"));
        assert_eq!(
            c.format,
            Format::Ndjson,
            "one complete value on the first line"
        );
        assert_eq!(ids(&c), ["a", "b", "c"]);
        assert_eq!(lines(&c), [1, 1, 1]);
        assert!(c.problems.is_empty());
        assert_eq!(c.records[1].record.raw, B.as_bytes(), "raw bytes kept");
    }

    #[test]
    fn a_pretty_printed_array_reports_the_line_where_each_element_starts() {
        let text = "[\n  {\n    \"Id\": \"a\",\n    \"Operation\": \"X\"\n  },\n  {\"Id\": \"b\"},\n\n  {\"Id\": \"c\"}\n]\n";
        let c = read_str(text);
        assert_eq!(c.format, Format::Json);
        assert_eq!(ids(&c), ["a", "b", "c"]);
        assert_eq!(lines(&c), [2, 6, 8]);
        assert_eq!(
            c.records[0].record.raw,
            b"{\n    \"Id\": \"a\",\n    \"Operation\": \"X\"\n  }"
        );
    }

    #[test]
    fn a_broken_element_in_an_array_is_one_problem_and_the_others_are_read() {
        let text = "[\n  {\"Id\": \"a\"},\n  {\"Id\": \"b\", \"P\": \"bad \\q escape\"},\n  {\"Operation\": \"no id\"},\n  42,\n  {\"Id\": \"c\"}\n]";
        let c = read_str(text);
        assert_eq!(ids(&c), ["a", "c"]);
        assert_eq!(lines(&c), [2, 6]);
        assert_eq!(problem_lines(&c), [3, 4, 5]);
        assert!(
            c.problems[0].reason.contains("invalid JSON"),
            "{:?}",
            c.problems[0]
        );
        assert!(
            c.problems[0].reason.contains("line 3"),
            "{:?}",
            c.problems[0]
        );
        assert_eq!(c.problems[0].raw, br#"{"Id": "b", "P": "bad \q escape"}"#);
        assert_eq!(c.problems[1].reason, "the record has no Id");
        assert!(c.problems[2].reason.contains("not an audit record"));
        assert_eq!(c.problems[0].file, "f.json");
        assert!(
            c.problems[0]
                .to_string()
                .starts_with("f.json:3: invalid JSON")
        );
    }

    #[test]
    fn a_truncated_array_keeps_what_came_before() {
        let c = read_str("[\n{\"Id\":\"a\"},\n{\"Id\":\"b\",\"Oper");
        assert_eq!(ids(&c), ["a"]);
        assert_eq!(problem_lines(&c), [3]);
    }

    #[test]
    fn a_single_pretty_printed_record() {
        let text = "{\n  \"CreationTime\": \"2015-06-29T20:03:19\",\n  \"Id\": \"x\",\n  \"RecordType\": 9,\n  \"Workload\": \"AzureActiveDirectory\"\n}\n";
        let c = read_str(text);
        assert_eq!(c.format, Format::Json);
        assert_eq!(ids(&c), ["x"]);
        assert_eq!(lines(&c), [1]);
        assert_eq!(c.records[0].content_type, ContentType::AzureActiveDirectory);
        assert_eq!(c.records[0].record.raw, text.trim_end().as_bytes());
    }

    #[test]
    fn concatenated_pretty_documents() {
        let c = read_str("{\n \"Id\": \"a\"\n}\n{\n \"Id\": \"b\"\n}\n[\n {\"Id\": \"c\"}\n]\n");
        assert_eq!(ids(&c), ["a", "b", "c"]);
        assert_eq!(lines(&c), [1, 4, 8]);
    }

    #[test]
    fn ndjson_with_bad_lines_reports_exact_line_numbers() {
        let text = format!(
            "{A}\n\n{{\"Id\": \"broken\",\n{B}\n{{\"Operation\":\"x\"}}\nnot json at all\n[{C}]\n"
        );
        let c = read_str(&text);
        assert_eq!(c.format, Format::Ndjson);
        assert_eq!(ids(&c), ["a", "b", "c"]);
        assert_eq!(lines(&c), [1, 4, 7]);
        assert_eq!(problem_lines(&c), [3, 5, 6]);
        assert_eq!(c.problems[0].raw, br#"{"Id": "broken","#);
        assert_eq!(c.problems[1].reason, "the record has no Id");
    }

    #[test]
    fn ndjson_whose_first_line_is_truncated_is_still_ndjson() {
        let c = read_str(&format!("{{\"Id\": \"a\", \"x\": [\n{B}\n{C}\n"));
        assert_eq!(c.format, Format::Ndjson);
        assert_eq!(ids(&c), ["b", "c"]);
        assert_eq!(problem_lines(&c), [1]);
    }

    #[test]
    fn ndjson_with_invalid_utf8_on_one_line() {
        let mut bytes = format!("{A}\n").into_bytes();
        bytes.extend_from_slice(b"{\"Id\":\"\xFF\"}\n");
        bytes.extend_from_slice(format!("{B}\n").as_bytes());
        let c = read_all("f", bytes.as_slice()).unwrap();
        assert_eq!(ids(&c), ["a", "b"]);
        assert_eq!(problem_lines(&c), [2]);
    }

    #[test]
    fn a_utf8_bom_and_crlf_line_ends() {
        let text = format!("\u{FEFF}{A}\r\n{B}\r\n\r\n{C}\r\n");
        let c = read_str(&text);
        assert_eq!(c.format, Format::Ndjson);
        assert_eq!(ids(&c), ["a", "b", "c"]);
        assert_eq!(lines(&c), [1, 2, 4]);
        assert_eq!(
            c.records[0].record.raw,
            A.as_bytes(),
            "no BOM, no CR in the raw record"
        );
        let pretty = read_str("\u{FEFF}[\r\n  {\"Id\": \"a\"},\r\n  {\"Id\": \"b\"}\r\n]\r\n");
        assert_eq!(pretty.format, Format::Json);
        assert_eq!(lines(&pretty), [2, 3]);
        let csv = read_str(
            "\u{FEFF}CreationDate,UserIds,Operations,AuditData\r\n2024-05-01,u,Op,\"{\"\"Id\"\":\"\"a\"\"}\"\r\n2024-05-01,u,Op,\"{\"\"Id\"\":\r\n\"\"b\"\"}\"\r\n",
        );
        assert_eq!(csv.format, Format::Csv);
        assert_eq!(ids(&csv), ["a", "b"]);
        assert_eq!(lines(&csv), [2, 3]);
        assert_eq!(csv.records[1].record.raw, b"{\"Id\":\r\n\"b\"}");
    }

    #[test]
    fn empty_and_blank_files() {
        for text in ["", "\n\n  \n", "\u{FEFF}", "\u{FEFF}\r\n"] {
            let c = read_str(text);
            assert_eq!(c.format, Format::Empty, "{text:?}");
            assert!(c.records.is_empty() && c.problems.is_empty());
        }
        let header_only = read_str("CreationDate,UserIds,Operations,AuditData\n");
        assert_eq!(header_only.format, Format::Csv);
        assert!(header_only.records.is_empty() && header_only.problems.is_empty());
        let empty_array = read_str("[]");
        assert!(empty_array.records.is_empty() && empty_array.problems.is_empty());
    }

    fn csv_field(json: &str) -> String {
        format!("\"{}\"", json.replace('"', "\"\""))
    }

    #[test]
    fn a_purview_csv_export() {
        let text = format!(
            "CreationDate,UserIds,Operations,AuditData\n\
             2024-05-01T10:00:00.0000000Z,alice@contoso.com,UserLoggedIn,{}\n\
             2024-05-01T10:00:01.0000000Z,\"bob, the admin\",Send,{}\n",
            csv_field(A),
            csv_field(B)
        );
        let c = read_str(&text);
        assert_eq!(c.format, Format::Csv);
        assert_eq!(ids(&c), ["a", "b"]);
        assert_eq!(lines(&c), [2, 3]);
        assert_eq!(c.records[0].record.raw, A.as_bytes());
        assert_eq!(c.records[1].content_type, ContentType::Exchange);
    }

    #[test]
    fn csv_column_found_by_name_in_any_case_and_position_with_quoted_headers() {
        let text = format!(
            "\"RecordId\",\"auditdata\",\"Operation\"\n\"1\",{},\"Op\"\n",
            csv_field(C)
        );
        let c = read_str(&text);
        assert_eq!(ids(&c), ["c"]);
        assert_eq!(c.records[0].content_type, ContentType::SharePoint);
    }

    #[test]
    fn csv_quoting_edge_cases() {
        // A quoted field with a newline, doubled quotes and commas in the JSON; an empty quoted
        // field; a field with quotes in the middle of an unquoted field (kept as is).
        let multi = "{\n  \"Id\": \"m\",\n  \"Note\": \"say \\\"hi\\\", twice\"\n}";
        let text = format!(
            "CreationDate,UserIds,Operations,AuditData,Extra\n\
             2024,\"\",Op,{},x\n\
             2024,we\"ird,Op,{},\"\"\n",
            csv_field(multi),
            csv_field(A)
        );
        let c = read_str(&text);
        assert_eq!(ids(&c), ["m", "a"]);
        assert_eq!(lines(&c), [2, 6], "a row starts where its first line is");
        assert_eq!(c.records[0].record.raw, multi.as_bytes());
        assert!(c.problems.is_empty(), "{:?}", c.problems);
    }

    #[test]
    fn bad_csv_rows_are_problems_with_their_line() {
        let text = format!(
            "CreationDate,UserIds,Operations,AuditData\n\
             2024,u,Op,{}\n\
             2024,u,Op\n\
             2024,u,Op,\n\
             2024,u,Op,\"{{not json}}\"\n\
             \n\
             2024,u,Op,{}\n\
             2024,u,Op,\"{{\"\"Id\"\": \"\"open\n\
             2024,u,Op,{}\n",
            csv_field(A),
            csv_field(B),
            csv_field(C),
        );
        let c = read_str(&text);
        assert_eq!(problem_lines(&c), [3, 4, 5, 8]);
        assert!(
            c.problems[0].reason.contains("AuditData is field 4"),
            "{:?}",
            c.problems[0]
        );
        assert_eq!(c.problems[0].raw, b"2024,u,Op");
        assert!(c.problems[1].reason.contains("empty"));
        assert!(c.problems[2].reason.starts_with("AuditData: invalid JSON"));
        assert!(c.problems[3].reason.contains("this line was skipped"));
        // The stray quote on line 8 pairs with the quotes on line 9; re-read on its own, line 9
        // is a good row again.
        assert_eq!(ids(&c), ["a", "b", "c"]);
        assert_eq!(lines(&c), [2, 7, 9]);
        // A quote that never closes at all.
        let text2 = format!("AuditData\n{}\n\"{{\"\"Id\"\": \"\"x\n{{}}\n", csv_field(C));
        let c2 = read_str(&text2);
        assert_eq!(problem_lines(&c2), [3, 4]);
        assert!(c2.problems[0].reason.contains("never closes"));
        assert!(
            c2.problems[1]
                .reason
                .starts_with("AuditData: no audit record here")
        );
        assert_eq!(ids(&c2), ["c"]);
        assert_eq!(lines(&c2), [2]);
    }

    #[test]
    fn a_csv_without_auditdata_or_an_unknown_format_is_an_error() {
        assert!(matches!(
            read_all("f", "AuditDataX,b\n1,2\n".as_bytes()),
            Err(ReadError::Unrecognised(m)) if m.contains("no AuditData column")
        ));
        assert!(matches!(
            read_all("f", "hello\tworld\n".as_bytes()),
            Err(ReadError::Unrecognised(m)) if m.contains("not a recognised")
        ));
        assert!(matches!(
            read_all("f", b"\xFF\xFEA\x00".as_slice()),
            Err(ReadError::Unrecognised(m)) if m.contains("UTF-16")
        ));
    }

    #[test]
    fn envelopes_are_unwrapped_and_the_raw_record_is_the_inner_one() {
        let original = serde_json::to_string(A).unwrap();
        let text = format!(
            r#"{{"events":[
{{"event":{{"original":{original}}},"o365audit":{B}}},
{{"o365audit":{B}}},
{{"record":{C},"name":"wazuh case"}},
{{"log":{{"id":"p1","operation":"Set-Mailbox","creationtime":"2022-12-12 15:57:57","workload":"Exchange"}}}},
{{"AuditData":{original}}},
{{"integration":"office365","office365":{C}}},
{{"event.original":{original}}}
]}}"#
        );
        let c = read_str(&text);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(ids(&c), ["a", "b", "c", "p1", "a", "c", "a"]);
        assert_eq!(lines(&c), [2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            c.records[0].record.raw,
            A.as_bytes(),
            "the original string, decoded"
        );
        assert_eq!(c.records[2].record.raw, C.as_bytes());
        let p = &c.records[3];
        assert_eq!(p.record.columns.operation.as_deref(), Some("Set-Mailbox"));
        assert!(p.record.columns.creation_time.is_some());
        assert_eq!(p.content_type, ContentType::Exchange);
        assert!(String::from_utf8_lossy(&p.record.raw).starts_with(r#"{"id":"p1""#));
    }

    #[test]
    fn a_malformed_event_original_falls_back_to_the_parsed_copy_or_is_a_problem() {
        let broken = serde_json::to_string(r#"{"Id":"a","P":"un"escaped"}"#).unwrap();
        let text = format!(
            "{{\"expected\":[\n{{\"event\":{{\"original\":{broken}}},\"o365audit\":{A}}},\n{{\"event\":{{\"original\":\"{{Id=a, Operation=x}}\"}},\"log\":{{\"offset\":5}}}}\n]}}"
        );
        let c = read_str(&text);
        assert_eq!(ids(&c), ["a"]);
        assert_eq!(c.records[0].record.raw, A.as_bytes());
        assert_eq!(problem_lines(&c), [3]);
        assert!(
            c.problems[0]
                .reason
                .starts_with("event.original: not valid JSON"),
            "{:?}",
            c.problems[0]
        );
        assert_eq!(c.problems[0].raw, b"{Id=a, Operation=x}");
    }

    #[test]
    fn a_wrapper_with_one_record_per_line_is_a_document() {
        let c = read_str("{\"events\": [\n{\"Id\": \"a\"}\n]}\n");
        assert_eq!(c.format, Format::Json);
        assert_eq!(ids(&c), ["a"]);
        assert_eq!(lines(&c), [2]);
        assert!(c.problems.is_empty());
        let two = read_str("{\"Id\": \"a\",\n{\"Id\": \"b\"}\n");
        assert_eq!(two.format, Format::Ndjson);
        assert_eq!(ids(&two), ["b"]);
        assert_eq!(problem_lines(&two), [1]);
    }

    #[test]
    fn problems_inside_envelopes_are_reported_where_the_element_starts() {
        let text = "[\n  {\n    \"o365audit\": {\n      \"Operation\": \"x\"\n    }\n  },\n  {\n    \"record\":\n      {\"Id\": \"r\"}\n  }\n]";
        let c = read_str(text);
        assert_eq!(problem_lines(&c), [2]);
        assert_eq!(c.problems[0].reason, "o365audit: the record has no Id");
        assert_eq!(c.problems[0].raw, b"{\n      \"Operation\": \"x\"\n    }");
        assert_eq!(ids(&c), ["r"]);
        assert_eq!(lines(&c), [7]);
    }

    #[test]
    fn envelope_problems() {
        let c = read_str(
            "{\"record\": {\"actor\": \"wazuh\", \"subscription_name\": \"Audit.Exchange\"}}\n{\"name\": \"x\"}\n{\"record\": []}\n",
        );
        assert!(c.records.is_empty());
        assert_eq!(problem_lines(&c), [1, 2, 3]);
        assert!(
            c.problems[0]
                .reason
                .starts_with("record: no audit record here")
        );
        assert!(c.problems[1].reason.starts_with("no audit record here"));
        assert!(c.problems[2].reason.contains("holds no record"));
    }

    #[test]
    fn a_broken_wrapper_still_yields_its_list() {
        let c =
            read_str("{\n\"events\": [\n{\"Id\": \"a\"},\n{\"Id\": \"b\",, }\n],\n\"x\": tru\n}");
        assert_eq!(ids(&c), ["a"]);
        assert_eq!(lines(&c), [3]);
        assert_eq!(problem_lines(&c), [4]);
    }

    #[test]
    fn content_types_follow_workload_and_record_type() {
        let ct = |json: &str| content_type_of(&AuditRecord::from_json(json).unwrap().columns);
        assert_eq!(ct(A), ContentType::AzureActiveDirectory);
        assert_eq!(ct(B), ContentType::Exchange);
        assert_eq!(ct(C), ContentType::SharePoint);
        assert_eq!(
            ct(r#"{"Id":"x","Workload":"SharePoint"}"#),
            ContentType::SharePoint
        );
        assert_eq!(
            ct(r#"{"Id":"x","Workload":"MicrosoftTeams","RecordType":25}"#),
            ContentType::General
        );
        for rt in DLP_RECORD_TYPES {
            assert_eq!(
                ct(&format!(
                    r#"{{"Id":"x","Workload":"Exchange","RecordType":"{rt}"}}"#
                )),
                ContentType::Dlp
            );
        }
        // No (or an odd) workload: the RecordType decides.
        assert_eq!(
            ct(r#"{"Id":"x","Workload":"ExchangeAdmin","RecordType":"1"}"#),
            ContentType::Exchange
        );
        assert_eq!(
            ct(r#"{"Id":"x","RecordType":15}"#),
            ContentType::AzureActiveDirectory
        );
        assert_eq!(
            ct(r#"{"Id":"x","RecordType":"0","Workload":"Generic"}"#),
            ContentType::General
        );
        assert_eq!(ct(r#"{"Id":"x"}"#), ContentType::General);
    }

    #[test]
    fn a_json_file_that_is_not_utf8_is_one_problem() {
        let bytes = b"[\n{\"Id\":\"a\"},\n{\"Id\":\"\xFF\"}\n]";
        let c = read_all("f", bytes.as_slice()).unwrap();
        assert!(c.records.is_empty());
        assert_eq!(problem_lines(&c), [3]);
    }

    #[test]
    fn streaming_stops_when_the_consumer_fails() {
        let text = format!("{A}\n{B}\n");
        let mut seen = 0;
        let r = read("f", text.as_bytes(), |_| {
            seen += 1;
            Err("full")
        });
        assert!(matches!(r, Err(ImportError::Sink("full"))));
        assert_eq!(seen, 1);
    }

    #[test]
    fn the_digest_is_sha256_hex() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            file_digest(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
