//! Writing Arrow record batches to a zstd-compressed Parquet file.
//!
//! Owns the writer settings used for every Parquet file the pipeline writes, so that all
//! outputs share one compression and row-group policy. A sink made by `create_side_by_side`
//! (the SQL models' tables) encodes the columns of each batch side by side on rayon's pool,
//! sized to the command's `--threads`: parquet's `ArrowWriter` encodes them one after another
//! on the thread that writes, which made writing the panel's 31M rows a one-core job. Other
//! sinks (ingest's, whose other threads already keep the cores busy checking records) are
//! `ArrowWriter` itself. Each column writer sees the same slices in the same order either
//! way, so the file's bytes are the same (tested below).

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Rows per Parquet row group: large enough for good compression and scan speed, small
/// enough that the writer's buffered row group stays well below 100 MB.
const ROW_GROUP_ROWS: usize = 512 * 1024;

pub struct ParquetSink {
    path: PathBuf,
    encoder: Encoder,
}

enum Encoder {
    /// parquet's own writer: the columns one after another on the thread that writes.
    InTurn(ArrowWriter<File>),
    SideBySide(SideBySide),
}

/// ArrowWriter's parts (its file writer and column-writer factory), driven here so that each
/// batch's columns are encoded side by side.
struct SideBySide {
    schema: SchemaRef,
    file: SerializedFileWriter<File>,
    factory: ArrowRowGroupWriterFactory,
    /// The row group being encoded: its column writers (one per leaf column) and its rows.
    in_progress: Option<(Vec<ArrowColumnWriter>, usize)>,
    row_groups: usize,
}

fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("zstd level 3"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(format!("sp-impact {}", env!("CARGO_PKG_VERSION")))
        .build()
}

impl ParquetSink {
    /// A sink that encodes on the thread that writes (parquet's `ArrowWriter`).
    pub fn create(path: PathBuf, schema: SchemaRef) -> Result<Self> {
        let writer = Self::arrow_writer(&path, schema)?;
        Ok(ParquetSink {
            path,
            encoder: Encoder::InTurn(writer),
        })
    }

    /// A sink that encodes each batch's columns side by side: for a query's result, written
    /// while the engine's threads wait.
    pub fn create_side_by_side(path: PathBuf, schema: SchemaRef) -> Result<Self> {
        // ArrowWriter sets up the file (the Parquet schema, the embedded Arrow schema) and
        // hands over its lower-level writer and column-writer factory.
        let (file, factory) = Self::arrow_writer(&path, schema.clone())?
            .into_serialized_writer()
            .map_err(|source| Error::parquet("creating", &path, source))?;
        Ok(ParquetSink {
            path,
            encoder: Encoder::SideBySide(SideBySide {
                schema,
                file,
                factory,
                in_progress: None,
                row_groups: 0,
            }),
        })
    }

    fn arrow_writer(path: &Path, schema: SchemaRef) -> Result<ArrowWriter<File>> {
        let file = File::create(path).map_err(|source| Error::io("creating", path, source))?;
        ArrowWriter::try_new(file, schema, Some(properties()))
            .map_err(|source| Error::parquet("creating", path, source))
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match &mut self.encoder {
            Encoder::InTurn(writer) => writer.write(batch),
            Encoder::SideBySide(encoder) => encoder.write(batch),
        }
        .map_err(|source| Error::parquet("writing", &self.path, source))
    }

    pub fn finish(self) -> Result<()> {
        match self.encoder {
            Encoder::InTurn(writer) => writer.close().map(|_| ()),
            Encoder::SideBySide(encoder) => encoder.finish(),
        }
        .map_err(|source| Error::parquet("finishing", &self.path, source))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

type ParquetResult<T> = std::result::Result<T, ParquetError>;

impl SideBySide {
    /// Encodes `batch` into the current row group, starting a new one every
    /// `ROW_GROUP_ROWS` rows (where ArrowWriter splits them).
    fn write(&mut self, batch: &RecordBatch) -> ParquetResult<()> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let buffered = self.in_progress.as_ref().map_or(0, |(_, rows)| *rows);
            let take = (ROW_GROUP_ROWS - buffered).min(batch.num_rows() - offset);
            self.encode(&batch.slice(offset, take))?;
            offset += take;
            if buffered + take == ROW_GROUP_ROWS {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn encode(&mut self, batch: &RecordBatch) -> ParquetResult<()> {
        let (writers, rows) = match &mut self.in_progress {
            Some(in_progress) => in_progress,
            empty => empty.insert((self.factory.create_column_writers(self.row_groups)?, 0)),
        };
        let mut leaves = Vec::with_capacity(writers.len());
        for (field, column) in self.schema.fields().iter().zip(batch.columns()) {
            leaves.extend(compute_leaves(field, column)?);
        }
        writers
            .par_iter_mut()
            .zip(leaves.par_iter())
            .try_for_each(|(writer, leaf)| writer.write(leaf))?;
        *rows += batch.num_rows();
        Ok(())
    }

    /// Closes the current row group's column chunks side by side and appends them to the
    /// file in column order.
    fn flush(&mut self) -> ParquetResult<()> {
        let Some((writers, _)) = self.in_progress.take() else {
            return Ok(());
        };
        let chunks = writers
            .into_par_iter()
            .map(ArrowColumnWriter::close)
            .collect::<ParquetResult<Vec<_>>>()?;
        let mut row_group = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
        self.row_groups += 1;
        Ok(())
    }

    fn finish(mut self) -> ParquetResult<()> {
        self.flush()?;
        self.file.close().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    /// The same bytes as parquet's own ArrowWriter with the same properties, across row
    /// groups that end inside a batch, with nulls and a last partial row group.
    #[test]
    fn files_are_byte_identical_to_arrow_writer() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("n", DataType::Int64, true),
        ]));
        let batch = |start: usize, rows: usize| {
            let ids: ArrayRef = Arc::new(StringArray::from_iter_values(
                (start..start + rows).map(|row| format!("P{:07}", row / 3)),
            ));
            let values: ArrayRef = Arc::new(Int64Array::from_iter(
                (start..start + rows).map(|row| (row % 7 != 0).then_some((row * 31 % 1000) as i64)),
            ));
            RecordBatch::try_new(schema.clone(), vec![ids, values]).unwrap()
        };
        let batches: Vec<RecordBatch> = (0..9)
            .map(|index| batch(index * 150_000, 150_000))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, side_by_side: bool| {
            let path = dir.path().join(name);
            let create = if side_by_side {
                ParquetSink::create_side_by_side
            } else {
                ParquetSink::create
            };
            let mut sink = create(path.clone(), schema.clone()).unwrap();
            for batch in &batches {
                sink.write(batch).unwrap();
            }
            sink.finish().unwrap();
            std::fs::read(path).unwrap()
        };
        let (ours, side_by_side) = (write("ours.parquet", false), write("side.parquet", true));
        assert!(ours == side_by_side);
        let theirs = dir.path().join("theirs.parquet");
        let mut writer =
            ArrowWriter::try_new(File::create(&theirs).unwrap(), schema, Some(properties()))
                .unwrap();
        for batch in &batches {
            writer.write(batch).unwrap();
        }
        writer.close().unwrap();
        let theirs = std::fs::read(theirs).unwrap();
        assert!(ours.len() > 1000);
        assert!(
            ours == theirs,
            "{} bytes against {}",
            ours.len(),
            theirs.len()
        );
    }
}
