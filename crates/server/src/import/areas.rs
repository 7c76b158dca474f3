//! Area import: the built-in divisions, or a `code,name` CSV file.
//!
//! A file adds areas at any level, most often communities (12 digits) under
//! a street and residential compounds (15 digits) under a community. The
//! parent of each area, given by its code, must be in the store already or
//! on an earlier row of the same file.

use std::collections::HashSet;
use std::path::Path;

use oversight_core::{Area, AreaCode};
use oversight_store::Store;

use super::{
    BATCH_ROWS, BuiltinDivisions, ImportError, ImportReport, Progress, RowError, column_index,
    line_of, open_csv, readable,
};

/// Columns of an area file.
const REQUIRED: &[&str] = &["code", "name"];

/// Imports the built-in divisions of `provinces` (all when empty).
pub async fn import_builtin_areas(
    store: &dyn Store,
    provinces: &[String],
    progress: &mut dyn Progress,
) -> Result<ImportReport, ImportError> {
    let areas = BuiltinDivisions::load()?.provinces(provinces)?;
    let rows = areas.len() as u64;
    let imported = write_batches(store, &areas, progress).await?;
    Ok(ImportReport {
        rows,
        imported,
        errors: Vec::new(),
        encoding: None,
    })
}

/// Imports the areas of a `code,name` CSV file.
pub async fn import_area_file(
    store: &dyn Store,
    path: &Path,
    progress: &mut dyn Progress,
) -> Result<ImportReport, ImportError> {
    let (mut reader, headers, encoding) = open_csv(path, REQUIRED, &[])?;
    let code_index = column_index(&headers, "code");
    let name_index = column_index(&headers, "name");

    let mut report = ImportReport {
        encoding: Some(encoding),
        ..ImportReport::default()
    };
    let mut good: Vec<Area> = Vec::new();
    let mut in_file: HashSet<AreaCode> = HashSet::new();
    for record in reader.records() {
        let Some(record) = readable(record, &mut report) else {
            continue;
        };
        let line = line_of(&record);
        let code = record.get(code_index).unwrap_or_default();
        let name = record.get(name_index).unwrap_or_default();
        match check_row(store, line, code, name, &in_file).await? {
            Ok(area) => {
                in_file.insert(area.code.clone());
                good.push(area);
            }
            Err(error) => report.errors.push(error),
        }
    }
    report.imported = write_batches(store, &good, progress).await?;
    Ok(report)
}

/// Checks one row; the outer error is a store failure, the inner one a bad row.
async fn check_row(
    store: &dyn Store,
    line: u64,
    code: &str,
    name: &str,
    in_file: &HashSet<AreaCode>,
) -> Result<Result<Area, RowError>, ImportError> {
    let code = match AreaCode::parse(code) {
        Ok(code) => code,
        Err(error) => return Ok(Err(RowError::new(line, "code", code, error.rule))),
    };
    if in_file.contains(&code) {
        return Ok(Err(RowError::new(
            line,
            "code",
            code.as_str(),
            "duplicate code: an earlier row of this file has it; keep one row per area",
        )));
    }
    let area = match Area::new(code.clone(), name) {
        Ok(area) => area,
        Err(error) => return Ok(Err(RowError::new(line, "name", name, error.rule))),
    };
    if let Some(parent) = code.parent() {
        let known = in_file.contains(&parent) || store.area(&parent).await?.is_some();
        if !known {
            return Ok(Err(RowError::new(
                line,
                "code",
                code.as_str(),
                format!(
                    "parent area {parent} not found: import it first (oversight import areas \
                     --builtin for provinces to streets) or add it on an earlier row"
                ),
            )));
        }
    }
    Ok(Ok(area))
}

async fn write_batches(
    store: &dyn Store,
    areas: &[Area],
    progress: &mut dyn Progress,
) -> Result<u64, ImportError> {
    progress.start(areas.len() as u64);
    let mut written = 0;
    for batch in areas.chunks(BATCH_ROWS) {
        store.upsert_areas(batch).await?;
        written += batch.len() as u64;
        progress.advance(written);
    }
    Ok(written)
}
