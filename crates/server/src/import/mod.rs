//! Bulk import of areas and monitoring points from CSV.
//!
//! Each import reads the whole file first, checks every row, writes the good
//! rows in batches and returns an [`ImportReport`] that lists every bad row
//! with its line number, column, value and fix. A bad row never stops the
//! good ones. Only a file that cannot be read at all, or a store failure,
//! stops an import with an [`ImportError`].

mod areas;
mod divisions;
mod points;

use std::fmt;
use std::path::PathBuf;

use oversight_store::StoreError;

pub use areas::{import_area_file, import_builtin_areas};
pub use divisions::{BuiltinDivisions, DivisionsError};
pub use points::{POINT_COLUMNS, import_point_file, parse_limits};

/// Rows written to the store per transaction.
const BATCH_ROWS: usize = 1000;

/// Largest import file, in bytes. The whole file is read and checked before
/// anything is written, so the limit bounds memory.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Largest row, in bytes of its fields. A point row with limits on every
/// factor of HJ 212-2017 stays far below it.
pub const MAX_ROW_BYTES: usize = 16 * 1024;

/// One rejected row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The line of the file the row starts on, counting the header as line 1.
    pub line: u64,
    /// The column whose value is wrong, or `row` when the row as a whole is.
    pub column: String,
    /// The rejected value.
    pub value: String,
    /// The problem and its fix.
    pub message: String,
}

impl RowError {
    fn new(line: u64, column: &str, value: &str, message: impl Into<String>) -> Self {
        let value = value.chars().take(64).collect();
        Self {
            line,
            column: column.to_owned(),
            value,
            message: message.into(),
        }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}, value {:?}: {}",
            self.line, self.column, self.value, self.message
        )
    }
}

/// The outcome of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Data rows read, without the header.
    pub rows: u64,
    /// Rows written to the store.
    pub imported: u64,
    /// Rows rejected, in file order.
    pub errors: Vec<RowError>,
    /// The encoding the file was read in; `None` for the built-in lists.
    pub encoding: Option<FileEncoding>,
}

impl ImportReport {
    /// Returns true if every row was imported.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Progress of the write phase, for a progress bar.
pub trait Progress {
    /// Called once the rows are checked, with the number of good rows to write.
    fn start(&mut self, total: u64);
    /// Called after each batch with the number of rows written so far.
    fn advance(&mut self, written: u64);
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&mut self, _total: u64) {}
    fn advance(&mut self, _written: u64) {}
}

/// An import that could not run.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error(
        "{path} is {bytes} bytes, more than the import limit of {limit} bytes; split it into \
         smaller files and import each",
        path = path.display(),
        limit = MAX_FILE_BYTES
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
    },
    /// The file is neither UTF-8 nor GB18030.
    #[error(
        "{path} is not UTF-8 (invalid byte 0x{byte:02X} at offset {offset}) and not GB18030 \
         or GBK either; save it as UTF-8 (in Excel: \"CSV UTF-8\") and import it again",
        path = path.display()
    )]
    Encoding {
        /// The file.
        path: PathBuf,
        /// The first byte that is not valid UTF-8.
        byte: u8,
        /// Its offset in the file.
        offset: usize,
    },
    /// The header row lacks a required column or has an unknown one.
    #[error("invalid header in {path}: {message}")]
    Header {
        /// The file.
        path: PathBuf,
        /// The problem with the header and the columns it must have.
        message: String,
    },
    /// The built-in division lists could not be read.
    #[error(transparent)]
    Divisions(#[from] DivisionsError),
    /// The store failed.
    #[error("store failed during import: {0}")]
    Store(#[from] StoreError),
}

/// Reads the header of `reader` and checks it against the known columns.
fn check_header(
    path: &std::path::Path,
    headers: &csv::StringRecord,
    required: &[&str],
    optional: &[&str],
) -> Result<(), ImportError> {
    let header_error = |message: String| ImportError::Header {
        path: path.to_owned(),
        message,
    };
    for column in headers {
        if !required.contains(&column) && !optional.contains(&column) {
            return Err(header_error(format!(
                "unknown column {column:?}; the columns are {} (required) and {} (optional)",
                required.join(", "),
                optional.join(", ")
            )));
        }
    }
    for column in required {
        if !headers.iter().any(|header| header == *column) {
            return Err(header_error(format!(
                "missing required column {column:?}; the first line must name the columns, \
                 such as {}",
                required.join(",")
            )));
        }
    }
    Ok(())
}

/// The text encoding an import file was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileEncoding {
    /// UTF-8, with or without a byte order mark.
    Utf8,
    /// GB18030, which includes GBK and GB 2312, converted to UTF-8. Excel
    /// and registry exports on Chinese-language systems use it.
    Gb18030,
}

/// Reads an import file of at most [`MAX_FILE_BYTES`] and returns its text
/// without a UTF-8 byte order mark. A file that is not UTF-8 but decodes as
/// GB18030 without error is converted; any other file is rejected.
fn read_text(path: &std::path::Path) -> Result<(String, FileEncoding), ImportError> {
    let read_error = |source| ImportError::Read {
        path: path.to_owned(),
        source,
    };
    let bytes = std::fs::metadata(path).map_err(read_error)?.len();
    if bytes > MAX_FILE_BYTES {
        return Err(ImportError::TooLarge {
            path: path.to_owned(),
            bytes,
        });
    }
    let raw = std::fs::read(path).map_err(read_error)?;
    decode_text(path, raw)
}

fn decode_text(
    path: &std::path::Path,
    raw: Vec<u8>,
) -> Result<(String, FileEncoding), ImportError> {
    let raw = match raw.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => raw,
    };
    let utf8_error = match String::from_utf8(raw) {
        Ok(text) => return Ok((text, FileEncoding::Utf8)),
        Err(error) => error,
    };
    let offset = utf8_error.utf8_error().valid_up_to();
    let raw = utf8_error.into_bytes();
    match encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(&raw) {
        Some(text) => Ok((text.into_owned(), FileEncoding::Gb18030)),
        None => Err(ImportError::Encoding {
            path: path.to_owned(),
            byte: raw[offset],
            offset,
        }),
    }
}

/// An import file's rows, read into memory.
type CsvReader = csv::Reader<std::io::Cursor<String>>;

/// Opens a CSV file and checks its header row. Fields are trimmed and rows may vary in length.
fn open_csv(
    path: &std::path::Path,
    required: &[&str],
    optional: &[&str],
) -> Result<(CsvReader, csv::StringRecord, FileEncoding), ImportError> {
    let (text, encoding) = read_text(path)?;
    if encoding == FileEncoding::Gb18030 {
        tracing::info!(path = %path.display(), "import file is not UTF-8, read it as GB18030");
    }
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(std::io::Cursor::new(text));
    let headers = reader
        .headers()
        .map_err(|error| header_error(path, error))?
        .clone();
    check_header(path, &headers, required, optional)?;
    Ok((reader, headers, encoding))
}

/// Counts a record in `report` and returns it, or records it as unreadable.
fn readable(
    record: Result<csv::StringRecord, csv::Error>,
    report: &mut ImportReport,
) -> Option<csv::StringRecord> {
    report.rows += 1;
    match record {
        Ok(record) if record.as_slice().len() > MAX_ROW_BYTES => {
            let message = format!(
                "row is {} bytes, more than the limit of {MAX_ROW_BYTES}; check for a missing \
                 closing quote or split the row's values",
                record.as_slice().len()
            );
            let value = record.get(0).unwrap_or("");
            report
                .errors
                .push(RowError::new(line_of(&record), "row", value, message));
            None
        }
        Ok(record) => Some(record),
        Err(error) => {
            let line = error.position().map_or(0, csv::Position::line);
            let message = format!("unreadable row: {error}");
            report.errors.push(RowError::new(line, "row", "", message));
            None
        }
    }
}

/// Returns the index of a column that [`check_header`] found.
fn column_index(headers: &csv::StringRecord, name: &str) -> usize {
    headers
        .iter()
        .position(|header| header == name)
        .expect("check_header found every required column")
}

/// Wraps an unreadable header row.
fn header_error(path: &std::path::Path, error: csv::Error) -> ImportError {
    ImportError::Read {
        path: path.to_owned(),
        source: std::io::Error::other(error),
    }
}

/// Returns the line a record starts on, or 0 when the reader does not know it.
fn line_of(record: &csv::StringRecord) -> u64 {
    record.position().map_or(0, csv::Position::line)
}

#[cfg(test)]
mod tests;
