//! Writing Arrow record batches to a zstd-compressed Parquet file.
//!
//! Owns the writer settings used for every Parquet file the pipeline writes, so that all
//! outputs share one compression and row-group policy.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};

/// Rows per Parquet row group: large enough for good compression and scan speed, small
/// enough that the writer's buffered row group stays well below 100 MB.
const ROW_GROUP_ROWS: usize = 512 * 1024;

pub struct ParquetSink {
    path: PathBuf,
    writer: ArrowWriter<File>,
}

impl ParquetSink {
    pub fn create(path: PathBuf, schema: SchemaRef) -> Result<Self> {
        let file = File::create(&path).map_err(|source| Error::io("creating", &path, source))?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(3).expect("zstd level 3"),
            ))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(format!("sp-impact {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = ArrowWriter::try_new(file, schema, Some(properties))
            .map_err(|source| Error::parquet("creating", &path, source))?;
        Ok(ParquetSink { path, writer })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer
            .write(batch)
            .map_err(|source| Error::parquet("writing", &self.path, source))
    }

    pub fn finish(self) -> Result<()> {
        self.writer
            .close()
            .map(|_| ())
            .map_err(|source| Error::parquet("finishing", &self.path, source))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
