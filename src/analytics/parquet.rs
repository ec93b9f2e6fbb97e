//! The grouped usage table as Parquet (`fleettop report --format parquet --out FILE`): the
//! columns and rows of the CSV, typed, plus the window as two UTC timestamps on every row (a
//! file read on its own, or appended to others, still says what it measured).
//!
//! Written with polars' own Parquet writer (`polars-parquet`) from polars' in-memory arrays
//! (`polars-arrow`), one row group, version 1 data pages, plain encoding, zstd, and only
//! Parquet's own logical types (STRING, DOUBLE, INT64, TIMESTAMP(MILLIS, UTC)): no Arrow schema
//! in the footer, so any engine (DuckDB, Spark, pyarrow, polars) reads the same types.

use std::sync::Arc;

use polars::error::PolarsResult;

use polars_arrow::array::{Array, PrimitiveArray, Utf8ViewArray};
use polars_arrow::datatypes::{ArrowDataType, ArrowSchema, Field, TimeUnit};
use polars_arrow::record_batch::RecordBatchT;
use polars_parquet::write::{
    CompressionOptions, Encoding, FileWriter, RowGroupIterator, StatisticsOptions, Version, WriteOptions,
};

use super::report::{By, CostReport, UsageRow};

/// Column names, in order: the grouping (`team`, `product`, …), the CSV's numbers, the window.
pub fn columns(by: By) -> [&'static str; 9] {
    [
        by.label(),
        "gpu_hours",
        "cost_usd",
        "share",
        "idle_gpu_hours",
        "idle_cost_usd",
        "allocations",
        "window_start",
        "window_end",
    ]
}

/// The grouped usage table of `r` as the bytes of a Parquet file (no rows when the grouping
/// is not in the report or has none; the schema is there either way).
pub fn parquet(r: &CostReport, by: By) -> PolarsResult<Vec<u8>> {
    let rows: &[UsageRow] = r.rows(by).unwrap_or_default();
    let utc = ArrowDataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
    let [key, hours, cost, share, idle_h, idle_c, allocs, start, end] = columns(by);
    let schema: ArrowSchema = [
        Field::new(key.into(), ArrowDataType::Utf8View, false),
        Field::new(hours.into(), ArrowDataType::Float64, false),
        Field::new(cost.into(), ArrowDataType::Float64, false),
        Field::new(share.into(), ArrowDataType::Float64, false),
        Field::new(idle_h.into(), ArrowDataType::Float64, true),
        Field::new(idle_c.into(), ArrowDataType::Float64, true),
        Field::new(allocs.into(), ArrowDataType::Int64, false),
        Field::new(start.into(), utc.clone(), false),
        Field::new(end.into(), utc.clone(), false),
    ]
    .into_iter()
    .map(|f| (f.name.clone(), f))
    .collect();
    let f64s = |f: fn(&UsageRow) -> f64| PrimitiveArray::from_vec(rows.iter().map(f).collect()).boxed();
    let opt_f64s = |f: fn(&UsageRow) -> Option<f64>| {
        PrimitiveArray::<f64>::from(rows.iter().map(f).collect::<Vec<_>>()).boxed()
    };
    let at = |ms: i64| PrimitiveArray::from_vec(vec![ms; rows.len()]).to(utc.clone()).boxed();
    let arrays: Vec<Box<dyn Array>> = vec![
        Utf8ViewArray::from_slice_values(rows.iter().map(|r| r.key.as_str()).collect::<Vec<_>>()).boxed(),
        f64s(|r| r.gpu_hours),
        f64s(|r| r.cost_usd),
        f64s(|r| r.share),
        opt_f64s(|r| r.idle_gpu_hours),
        opt_f64s(|r| r.idle_cost_usd),
        PrimitiveArray::from_vec(rows.iter().map(|r| i64::from(r.allocations)).collect()).boxed(),
        at(r.window.start_ms),
        at(r.window.end_ms),
    ];

    let options = WriteOptions {
        statistics: StatisticsOptions::default(),
        version: Version::V1,
        compression: CompressionOptions::Zstd(None),
        data_page_size: None,
    };
    let encodings: Vec<Vec<Encoding>> = vec![vec![Encoding::Plain]; arrays.len()];
    let schema = Arc::new(schema);
    let mut out = Vec::new();
    let mut writer = FileWriter::try_new(&mut out, (*schema).clone(), options)?;
    if !rows.is_empty() {
        let batch = RecordBatchT::try_new(rows.len(), schema.clone(), arrays)?;
        let groups =
            RowGroupIterator::try_new(std::iter::once(Ok(batch)), &schema, options, encodings.into())?;
        for group in groups {
            writer.write(rows.len() as u64, group?)?;
        }
    }
    // An empty key-value list: no Arrow schema in the footer (see the module's doc).
    writer.end(Some(Vec::new()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Cursor;

    use polars_parquet::read::{infer_schema, read_metadata};

    use super::*;
    use crate::analytics::{Ledger, Prices, Query, Window, compute};

    #[test]
    fn an_empty_fleet_gives_a_file_with_the_schema_and_no_rows() {
        let query =
            Query { window: Window::new(0, 3_600_000), prices: Prices::default(), groupings: vec![By::Team] };
        let report = compute(&Ledger::new(), &query).unwrap();
        let bytes = parquet(&report, By::Team).unwrap();
        assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
        let meta = read_metadata(&mut Cursor::new(&bytes)).unwrap();
        assert_eq!(meta.num_rows, 0);
        let names: Vec<String> =
            infer_schema(&meta).unwrap().iter_values().map(|f| f.name.to_string()).collect();
        assert_eq!(names, columns(By::Team));
        // A grouping the report does not hold is empty too, named for what was asked.
        let meta = read_metadata(&mut Cursor::new(parquet(&report, By::Product).unwrap())).unwrap();
        assert_eq!(infer_schema(&meta).unwrap().iter_values().next().unwrap().name.as_str(), "product");
    }
}
