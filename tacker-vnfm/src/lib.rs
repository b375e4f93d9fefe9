//! The tacker VNF Manager as a program: the `vnfm` server (ETSI SOL002/SOL003/SOL005
//! REST APIs over [`tacker_core::Vnfm`]) and the `tacker` command-line client ([`cli`]).

use std::io::Write;
use std::path::Path;

pub mod cli;

/// Zips an unpacked package directory in memory, entries in path order.
pub fn zip_package_dir(root: &Path) -> std::io::Result<Vec<u8>> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for path in files {
        let name = path
            .strip_prefix(root)
            .map_err(std::io::Error::other)?
            .to_string_lossy()
            .replace('\\', "/");
        writer
            .start_file(name, options)
            .map_err(std::io::Error::other)?;
        writer.write_all(&std::fs::read(&path)?)?;
    }
    Ok(writer.finish().map_err(std::io::Error::other)?.into_inner())
}
