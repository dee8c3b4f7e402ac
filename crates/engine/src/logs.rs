//! Container logs as Docker's json-file driver writes them: one JSON object per line,
//! `{"log": "...\n", "stream": "stdout", "time": "..."}`, rotated at `max-size` keeping
//! `max-file` files (`log.json`, `log.json.1`, ...).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One log line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The text, with its newline.
    pub log: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// RFC 3339 with nanoseconds.
    pub time: String,
}

/// Appends entries to a container's log, rotating it.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: Option<u64>,
    max_files: u32,
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    /// Opens (appending) the log at `path`.
    pub fn open(path: &Path, max_size: Option<u64>, max_files: u32) -> io::Result<LogWriter> {
        let file = OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            path: path.to_owned(),
            file,
            size,
            max_size,
            max_files: max_files.max(1),
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// Records `data` from stream 1 (stdout) or 2 (stderr): whole lines become entries,
    /// a partial line waits for its end (or 16 KiB, or [`LogWriter::flush_partial`]).
    pub fn write(&mut self, stream: u8, data: &[u8]) -> io::Result<()> {
        let index = usize::from(stream == 2);
        self.partial[index].extend_from_slice(data);
        while let Some(end) = self.partial[index].iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial[index].drain(..=end).collect();
            self.entry(stream, &line)?;
        }
        if self.partial[index].len() >= 16 * 1024 {
            let line = std::mem::take(&mut self.partial[index]);
            self.entry(stream, &line)?;
        }
        Ok(())
    }

    /// Writes out unfinished lines (the container ended).
    pub fn flush_partial(&mut self) -> io::Result<()> {
        for (index, stream) in [(0, 1), (1, 2)] {
            let line = std::mem::take(&mut self.partial[index]);
            if !line.is_empty() {
                self.entry(stream, &line)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, stream: u8, line: &[u8]) -> io::Result<()> {
        let entry = Entry {
            log: String::from_utf8_lossy(line).into_owned(),
            stream: if stream == 2 { "stderr" } else { "stdout" }.into(),
            time: humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string(),
        };
        let mut bytes = serde_json::to_vec(&entry).expect("entry serializes");
        bytes.push(b'\n');
        if let Some(max) = self.max_size
            && self.size > 0
            && self.size + bytes.len() as u64 > max
        {
            self.rotate()?;
        }
        self.file.write_all(&bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.max_files <= 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        for n in (1..self.max_files - 1).rev() {
            let _ = fs::rename(rotated(&self.path, n), rotated(&self.path, n + 1));
        }
        fs::rename(&self.path, rotated(&self.path, 1))?;
        self.file = OpenOptions::new().create(true).append(true).mode(0o600).open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// Every entry of the log at `path`, oldest first (rotated files included).
pub fn read_all(path: &Path) -> Vec<Entry> {
    let mut files: Vec<PathBuf> = (1..100).map(|n| rotated(path, n)).take_while(|p| p.exists()).collect();
    files.reverse();
    files.push(path.to_owned());
    let mut out = Vec::new();
    for file in files {
        if let Ok(f) = File::open(&file) {
            out.extend(BufReader::new(f).lines().map_while(Result::ok).filter_map(|l| serde_json::from_str(&l).ok()));
        }
    }
    out
}
