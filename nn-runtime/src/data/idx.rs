//! The IDX format of the MNIST files: a big-endian magic number `0x0000TTNN` (TT = element
//! type, NN = number of dimensions), NN big-endian u32 dimensions, then the elements.
//! Files may be gzipped; the gzip magic bytes, not the file name, decide.

#[allow(unused_imports)]
use crate::core_prelude::*;

use crate::error::{Error, Result};
use flate2::read::GzDecoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Element type code of unsigned bytes.
pub const UBYTE: u8 = 0x08;

/// An IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxU8 {
    /// Dimensions, outermost first.
    pub dims: Vec<usize>,
    /// Elements, row-major.
    pub data: Vec<u8>,
}

/// Reads an IDX file of unsigned bytes with `ndims` dimensions, gzipped or raw.
///
/// Memory use is bounded by the data actually present: a hostile header announcing
/// terabytes does not make this allocate them.
pub fn read_u8(path: &Path, ndims: u8) -> Result<IdxU8> {
    let file = File::open(path).map_err(Error::reading(path))?;
    decode_u8(path, BufReader::new(file), ndims)
}

/// Parses an IDX stream of unsigned bytes with `ndims` dimensions, gzipped or raw (the
/// gzip magic bytes decide); `path` names it in errors. This is [`read_u8`] on any
/// buffered reader, e.g. bytes already in memory.
pub fn decode_u8(path: &Path, mut reader: impl BufRead, ndims: u8) -> Result<IdxU8> {
    let is_gzip = reader
        .fill_buf()
        .map_err(|e| io_error(path, e))?
        .starts_with(&[0x1f, 0x8b]);
    if is_gzip {
        parse_u8(path, GzDecoder::new(reader), ndims)
    } else {
        parse_u8(path, reader, ndims)
    }
}

/// Parses an IDX stream of unsigned bytes with `ndims` dimensions; `path` names it in errors.
pub fn parse_u8(path: &Path, mut reader: impl Read, ndims: u8) -> Result<IdxU8> {
    let mut magic = [0u8; 4];
    read_header(path, &mut reader, &mut magic, 0)?;
    let expected_magic = u32::from_be_bytes([0, 0, UBYTE, ndims]);
    let found_magic = u32::from_be_bytes(magic);
    if found_magic != expected_magic {
        return Err(Error::WrongMagic {
            path: path.to_path_buf(),
            expected: expected_magic,
            found: found_magic,
        });
    }
    let mut dims = Vec::with_capacity(ndims as usize);
    for k in 0..ndims as u64 {
        let mut d = [0u8; 4];
        read_header(path, &mut reader, &mut d, 4 + 4 * k)?;
        dims.push(u32::from_be_bytes(d) as usize);
    }
    let len = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .ok_or_else(|| Error::WrongDimensions {
            path: path.to_path_buf(),
            expected: "dimensions whose product fits in 64 bits".into(),
            found: format!("{dims:?}"),
        })?;
    let mut data = Vec::new();
    // Read at most one byte past the announced length: enough to notice trailing data,
    // never more than the stream holds.
    reader
        .by_ref()
        .take(len.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|e| stream_error(path, e, len, 0))?;
    let found = data.len() as u64;
    if found < len {
        return Err(Error::Truncated {
            path: path.to_path_buf(),
            expected: len,
            found,
        });
    }
    if found > len {
        let extra = 1 + io::copy(&mut reader, &mut io::sink()).map_err(|e| io_error(path, e))?;
        return Err(Error::TrailingData {
            path: path.to_path_buf(),
            expected: len,
            extra,
        });
    }
    Ok(IdxU8 { dims, data })
}

fn read_header(path: &Path, reader: &mut impl Read, buf: &mut [u8], offset: u64) -> Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => {
                return Err(Error::Truncated {
                    path: path.to_path_buf(),
                    expected: offset + buf.len() as u64,
                    found: offset + filled as u64,
                })
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(stream_error(
                    path,
                    e,
                    offset + buf.len() as u64,
                    offset + filled as u64,
                ))
            }
        }
    }
    Ok(())
}

/// Maps a read error: a gzip stream that ends early is a truncated file, undecodable bytes
/// are a corrupt one, anything else is I/O.
fn stream_error(path: &Path, e: io::Error, expected: u64, found: u64) -> Error {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => Error::Truncated {
            path: path.to_path_buf(),
            expected,
            found,
        },
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => Error::CorruptGzip {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
        _ => io_error(path, e),
    }
}

fn io_error(path: &Path, e: io::Error) -> Error {
    Error::Io {
        path: PathBuf::from(path),
        source: e,
    }
}
