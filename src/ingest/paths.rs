//! Resolves input arguments (files, directories, globs) into the ordered,
//! de-duplicated list of files to read, each with its format.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The on-disk encoding of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
    Parquet,
}

/// One file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub path: PathBuf,
    pub format: Format,
    /// Gzip-compressed (text formats only).
    pub gzip: bool,
}

impl InputFile {
    /// The format implied by a file name, or `None` for unsupported names.
    pub fn from_path(path: &Path) -> Option<InputFile> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let (stem, gzip) = match name.strip_suffix(".gz") {
            Some(stem) => (stem.to_string(), true),
            None => (name, false),
        };
        let format = if stem.ends_with(".csv") {
            Format::Csv
        } else if stem.ends_with(".jsonl") || stem.ends_with(".ndjson") {
            Format::JsonLines
        } else if stem.ends_with(".parquet") && !gzip {
            Format::Parquet
        } else {
            return None;
        };
        Some(InputFile {
            path: path.to_path_buf(),
            format,
            gzip,
        })
    }
}

/// Expands every argument, in the order given; a directory contributes every
/// supported file below it in name order. A file reached twice is read once.
pub fn resolve_inputs(args: &[String]) -> Result<Vec<InputFile>> {
    let mut seen = HashSet::new();
    let mut files = Vec::new();
    for arg in args {
        let mut matched = Vec::new();
        let path = Path::new(arg);
        if path.is_dir() {
            collect_dir(path, &mut matched)?;
        } else if path.is_file() {
            let file = InputFile::from_path(path).ok_or_else(|| Error::Read {
                path: path.to_path_buf(),
                source: "unsupported file type: expected .csv, .jsonl, .ndjson or .parquet (text formats may end in .gz)".into(),
            })?;
            matched.push(file);
        } else {
            let entries =
                glob::glob(arg).map_err(|e| Error::Usage(format!("bad glob `{arg}`: {e}")))?;
            let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).collect();
            paths.sort();
            for p in paths {
                if p.is_dir() {
                    collect_dir(&p, &mut matched)?;
                } else if let Some(f) = InputFile::from_path(&p) {
                    matched.push(f);
                }
            }
        }
        if matched.is_empty() {
            return Err(Error::NoInput(arg.clone()));
        }
        for file in matched {
            let key = std::fs::canonicalize(&file.path).unwrap_or_else(|_| file.path.clone());
            if seen.insert(key) {
                files.push(file);
            }
        }
    }
    Ok(files)
}

fn collect_dir(dir: &Path, out: &mut Vec<InputFile>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::Read {
            path: dir.to_path_buf(),
            source: Box::new(e),
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_dir(&p, out)?;
        } else if let Some(f) = InputFile::from_path(&p) {
            out.push(f);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_the_file_name() {
        let f = |n: &str| InputFile::from_path(Path::new(n)).map(|f| (f.format, f.gzip));
        assert_eq!(f("a.csv"), Some((Format::Csv, false)));
        assert_eq!(f("a.CSV.gz"), Some((Format::Csv, true)));
        assert_eq!(f("a.ndjson.gz"), Some((Format::JsonLines, true)));
        assert_eq!(f("a.parquet"), Some((Format::Parquet, false)));
        assert_eq!(f("a.txt"), None);
    }

    #[test]
    fn directories_are_walked_in_name_order_and_files_read_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for name in ["b.csv", "a.jsonl", "sub/c.parquet", "notes.txt"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let d = dir.path().to_str().unwrap().to_string();
        let files = resolve_inputs(&[d.clone(), format!("{d}/b.csv")]).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| {
                f.path
                    .strip_prefix(dir.path())
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["a.jsonl", "b.csv", "sub/c.parquet"]);
        assert!(matches!(
            resolve_inputs(&[format!("{d}/*.xyz")]),
            Err(Error::NoInput(_))
        ));
    }
}
