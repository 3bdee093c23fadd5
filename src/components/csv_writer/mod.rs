//! `filesystem.csv_writer`: the input relation → a CSV file, streamed by DuckDB's `COPY … TO`.
//!
//! Columns keep the relation's order (the original sorted them alphabetically). The file is
//! written to a temporary name beside the target and renamed into place only when complete, so
//! a failure never leaves a partial file. NULL is an empty field, an empty string is `""`.
//! `quoting: all` quotes every value, `nonnumeric` every value of a non-numeric column.
//! Encodings other than utf-8 are produced by a streaming transcoding pass; a character the
//! target encoding cannot represent fails the step naming it. `chunk_size` has no effect (DuckDB
//! writes in its own vectors).

use crate::components::config::parse;
use crate::drivers::output_file::{ensure_parent, written, PendingFile};
use crate::drivers::{single_input, sql_error, Driver, DriverError, Inputs, StepContext, StepOutput};
use serde::Deserialize;
use crate::exchange::{describe, is_numeric_type, quote_ident, quote_literal};
use crate::project::resolve_path;
use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

/// Writes the single input to a CSV file.
pub struct CsvWriter;

/// The step's config (spec.yaml has the descriptions and defaults).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Output file.
    pub path: String,
    /// Field separator (one character).
    pub delimiter: String,
    /// Write a header row.
    pub header: bool,
    /// Text encoding of the output.
    pub encoding: Encoding,
    /// Line terminator.
    pub newline: Newline,
    /// Which fields are quoted.
    pub quoting: Quoting,
    /// Accepted for the original's pipelines; DuckDB writes in its own vectors.
    pub chunk_size: u64,
    /// Create missing parent directories.
    pub create_dirs: bool,
}

/// Output encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Encoding {
    /// UTF-8 (DuckDB's own output).
    #[serde(rename = "utf-8")]
    Utf8,
    /// UTF-16 little-endian with a BOM, as Python writes it.
    #[serde(rename = "utf-16")]
    Utf16,
    /// 7-bit ASCII.
    #[serde(rename = "ascii")]
    Ascii,
    /// ISO-8859-1.
    #[serde(rename = "latin-1")]
    Latin1,
}

impl Encoding {
    /// The spec's name.
    fn name(self) -> &'static str {
        match self {
            Self::Utf8 => "utf-8",
            Self::Utf16 => "utf-16",
            Self::Ascii => "ascii",
            Self::Latin1 => "latin-1",
        }
    }
}

/// Line terminators.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Newline {
    /// `\n`.
    Lf,
    /// `\r\n`.
    Crlf,
}

/// Quoting rules.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quoting {
    /// Only where CSV needs it.
    Minimal,
    /// Every value.
    All,
    /// Every value of a non-numeric column.
    Nonnumeric,
}

impl Driver for CsvWriter {
    fn run(&self, ctx: &StepContext, config: &Map<String, Value>, inputs: &Inputs) -> Result<StepOutput, DriverError> {
        let input = single_input(inputs, "a CSV writer")?;
        let cfg: Config = parse(config).map_err(DriverError::Config)?;
        let target = resolve_path(ctx.base_dir, &cfg.path);
        ensure_parent(&target, cfg.create_dirs)?;
        let source = quote_ident(&input);
        let mut opts = vec!["FORMAT csv".to_string()];
        opts.push(format!("HEADER {}", cfg.header));
        opts.push(format!("DELIMITER {}", quote_literal(&cfg.delimiter)));
        opts.push("QUOTE '\"'".into());
        opts.push("ESCAPE '\"'".into());
        let newline = match cfg.newline {
            Newline::Crlf => "\r\n",
            Newline::Lf => "\n",
        };
        opts.push(format!("NEW_LINE {}", quote_literal(newline)));
        match cfg.quoting {
            Quoting::All => opts.push("FORCE_QUOTE *".into()),
            Quoting::Nonnumeric => {
                let cols: Vec<String> = describe(ctx.conn, &source)
                    .map_err(sql_error)?
                    .into_iter()
                    .filter(|(_, t)| !is_numeric_type(t))
                    .map(|(n, _)| quote_ident(&n))
                    .collect();
                if !cols.is_empty() {
                    opts.push(format!("FORCE_QUOTE ({})", cols.join(", ")));
                }
            }
            Quoting::Minimal => {}
        }
        let utf8 = PendingFile::beside(&target, "osiris");
        let sql = format!(
            "COPY (SELECT * FROM {source}) TO {} ({})",
            quote_literal(&utf8.path().display().to_string()),
            opts.join(", ")
        );
        let rows = ctx.conn.execute(&sql, []).map_err(sql_error)? as u64;
        if cfg.encoding == Encoding::Utf8 {
            utf8.commit()?;
        } else {
            let encoded = PendingFile::beside(&target, "osiris-enc");
            transcode(utf8.path(), encoded.path(), cfg.encoding)?;
            encoded.commit()?;
        }
        Ok(written(ctx, "csv", &target, rows))
    }

    /// One `COPY (SELECT * FROM input)`; `quoting: nonnumeric` only binds the input to learn
    /// its column types, which reads nothing.
    fn reads_input_once(&self) -> bool {
        true
    }
}

/// Re-encode a UTF-8 file as `encoding` (utf-16 with a BOM, as Python writes it; latin-1; ascii),
/// line by line so memory stays bounded.
fn transcode(src: &Path, dst: &Path, encoding: Encoding) -> Result<(), DriverError> {
    let io = |e: std::io::Error| DriverError::at_target(format!("cannot write {}: {e}", dst.display()));
    let mut reader = BufReader::new(std::fs::File::open(src).map_err(io)?);
    let mut out = BufWriter::new(std::fs::File::create(dst).map_err(io)?);
    if encoding == Encoding::Utf16 {
        out.write_all(&[0xFF, 0xFE]).map_err(io)?;
    }
    let limit = match encoding {
        Encoding::Latin1 => 0xFF,
        Encoding::Ascii => 0x7F,
        Encoding::Utf8 | Encoding::Utf16 => u32::MAX,
    };
    let mut line = String::new();
    let mut line_no = 0u64;
    let mut buf = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(io)? == 0 {
            break;
        }
        line_no += 1;
        buf.clear();
        for ch in line.chars() {
            let cp = ch as u32;
            if encoding == Encoding::Utf16 {
                let mut units = [0u16; 2];
                for u in ch.encode_utf16(&mut units) {
                    buf.extend_from_slice(&u.to_le_bytes());
                }
            } else if cp <= limit {
                buf.push(cp as u8);
            } else {
                return Err(DriverError::at_target(format!("character {ch:?} (U+{cp:04X}) on output line {line_no} cannot be encoded as {}; use encoding: utf-8", encoding.name())));
            }
        }
        out.write_all(&buf).map_err(io)?;
    }
    out.flush().map_err(io)
}
