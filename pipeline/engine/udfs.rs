//! SQL functions the models need that must agree exactly with the Rust definitions:
//! calendar months (`calendar`) and the seeded draw of pseudo index dates.
//!
//! - `add_months(date, k)`: `calendar::add_months` (day clamped to the month's end);
//! - `relative_month(index_date, date)`: `calendar::relative_month`;
//! - `seeded_draw(key, seed, n)`: a portable pseudo-random integer in 1..=n from
//!   SHA-256(seed, key), the same on every machine and engine (no RNG state, so it is
//!   independent of partitioning and thread count).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Date32Array, Int64Array, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::DataFusionError;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use sha2::{Digest, Sha256};

use crate::calendar;

/// Every function the models may call. A Ballista scheduler and executor need them too
/// (`engine::cluster`).
pub fn all() -> Vec<ScalarUDF> {
    vec![add_months(), relative_month(), seeded_draw()]
}

pub fn register(ctx: &SessionContext) {
    for udf in all() {
        ctx.register_udf(udf);
    }
}

fn arrays(args: &[ColumnarValue]) -> datafusion::error::Result<Vec<ArrayRef>> {
    ColumnarValue::values_to_arrays(args)
}

fn downcast<'a, T: 'static>(array: &'a ArrayRef, name: &str) -> datafusion::error::Result<&'a T> {
    array.as_any().downcast_ref::<T>().ok_or_else(|| {
        DataFusionError::Execution(format!(
            "{name}: unexpected argument type {}",
            array.data_type()
        ))
    })
}

/// The error for a date result outside Date32's range: reported, never a panic or a
/// silent null.
fn out_of_range(function: &str) -> DataFusionError {
    DataFusionError::Execution(format!("{function}: date outside the supported range"))
}

fn add_months() -> ScalarUDF {
    create_udf(
        "add_months",
        vec![DataType::Date32, DataType::Int64],
        DataType::Date32,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = arrays(args)?;
            let dates = downcast::<Date32Array>(&arrays[0], "add_months")?;
            let months = downcast::<Int64Array>(&arrays[1], "add_months")?;
            let result = dates
                .iter()
                .zip(months.iter())
                .map(|pair| match pair {
                    (Some(date), Some(months)) => {
                        let months =
                            i32::try_from(months).map_err(|_| out_of_range("add_months"))?;
                        calendar::add_months_to_days(date, months)
                            .map(Some)
                            .ok_or_else(|| out_of_range("add_months"))
                    }
                    _ => Ok(None),
                })
                .collect::<datafusion::error::Result<Date32Array>>()?;
            Ok(ColumnarValue::Array(Arc::new(result)))
        }),
    )
}

fn relative_month() -> ScalarUDF {
    create_udf(
        "relative_month",
        vec![DataType::Date32, DataType::Date32],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = arrays(args)?;
            let index = downcast::<Date32Array>(&arrays[0], "relative_month")?;
            let dates = downcast::<Date32Array>(&arrays[1], "relative_month")?;
            let result = index
                .iter()
                .zip(dates.iter())
                .map(|pair| match pair {
                    (Some(index), Some(date)) => calendar::relative_month_of_days(index, date)
                        .map(|month| Some(i64::from(month)))
                        .ok_or_else(|| out_of_range("relative_month")),
                    _ => Ok(None),
                })
                .collect::<datafusion::error::Result<Int64Array>>()?;
            Ok(ColumnarValue::Array(Arc::new(result)))
        }),
    )
}

/// 1..=n from SHA-256 of the seed and key (n >= 1).
pub fn seeded_draw_value(key: &str, seed: i64, n: i64) -> Option<i64> {
    if n < 1 {
        return None;
    }
    let mut hasher = Sha256::new();
    hasher.update(seed.to_le_bytes());
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    let value = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
    Some((value % n as u64) as i64 + 1)
}

fn seeded_draw() -> ScalarUDF {
    create_udf(
        "seeded_draw",
        vec![DataType::Utf8, DataType::Int64, DataType::Int64],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = arrays(args)?;
            let keys = downcast::<StringArray>(&arrays[0], "seeded_draw")?;
            let seeds = downcast::<Int64Array>(&arrays[1], "seeded_draw")?;
            let sizes = downcast::<Int64Array>(&arrays[2], "seeded_draw")?;
            let result: Int64Array = (0..keys.len())
                .map(|row| {
                    if keys.is_null(row) || seeds.is_null(row) || sizes.is_null(row) {
                        return None;
                    }
                    seeded_draw_value(keys.value(row), seeds.value(row), sizes.value(row))
                })
                .collect();
            Ok(ColumnarValue::Array(Arc::new(result)))
        }),
    )
}
