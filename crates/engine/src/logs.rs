//! Container logs as Docker's json-file driver writes them: one JSON object per line,
//! `{"log": "...\n", "stream": "stdout", "time": "..."}`, rotated at `max-size` keeping
//! `max-file` files (`log.json`, `log.json.1`, ...); with `compress`, rotated files are
//! gzipped (`log.json.1.gz`, ...), as Docker's json-file and local drivers do.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use lindocker_sys::atomic::{AtomicWrite, Durability};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::EngineError;
use crate::log_config::LogDriver;

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

/// The longest line kept whole: a longer one is cut into entries of this size.
const LINE_MAX: usize = 16 * 1024;

/// Appends entries to a container's log, rotating it. It never holds more than a partial
/// line per stream: what cannot be written (a full disk) is dropped and counted, and the
/// count is noted in the log as soon as a write succeeds again.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: Option<u64>,
    max_files: u32,
    compress: bool,
    partial: [Vec<u8>; 2],
    /// The child gzipping the last rotated file, if it runs: one at a time, waited for
    /// before the next rotation renames files under it.
    compressing: Option<crate::forked::Forked>,
    /// Whether rotated files are gzipped in a forked child (see
    /// [`LogWriter::compress_in_child`]) rather than in place.
    fork_compress: bool,
    /// Bytes of output lost since the last entry that could be written.
    dropped: u64,
    /// The serialized entry, reused.
    scratch: Vec<u8>,
}

/// One log line as written, borrowing the text.
#[derive(Serialize)]
struct EntryOut<'a> {
    log: std::borrow::Cow<'a, str>,
    stream: &'static str,
    time: String,
}

impl LogWriter {
    /// Opens (appending) the log at `path`; rotated files are gzipped with `compress`.
    pub fn open(path: &Path, max_size: Option<u64>, max_files: u32, compress: bool) -> io::Result<LogWriter> {
        let file = OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            path: path.to_owned(),
            file,
            size,
            max_size,
            max_files: max_files.max(1),
            compress,
            partial: [Vec::new(), Vec::new()],
            compressing: None,
            fork_compress: false,
            dropped: 0,
            scratch: Vec::new(),
        })
    }

    /// Records `data` from stream 1 (stdout) or 2 (stderr): whole lines become entries,
    /// a partial line waits for its end (or 16 KiB, or [`LogWriter::flush_partial`]).
    /// What cannot be written is dropped (see [`LogWriter::dropped`]).
    pub fn write(&mut self, stream: u8, mut data: &[u8]) {
        let index = usize::from(stream == 2);
        while !data.is_empty() {
            let room = LINE_MAX - self.partial[index].len();
            let window = &data[..data.len().min(room)];
            let (take, complete) = match window.iter().position(|&b| b == b'\n') {
                Some(end) => (end + 1, true),
                None => (window.len(), window.len() == room),
            };
            if complete && self.partial[index].is_empty() {
                self.record(stream, &data[..take]);
            } else {
                self.partial[index].extend_from_slice(&data[..take]);
                if complete {
                    let line = std::mem::take(&mut self.partial[index]);
                    self.record(stream, &line);
                    self.partial[index] = line;
                    self.partial[index].clear();
                }
            }
            data = &data[take..];
        }
    }

    /// Writes out unfinished lines (the container ended).
    pub fn flush_partial(&mut self) {
        for (index, stream) in [(0, 1), (1, 2)] {
            let line = std::mem::take(&mut self.partial[index]);
            if !line.is_empty() {
                self.record(stream, &line);
            }
        }
    }

    /// Bytes of output lost (a write failed) and not yet noted in the log.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Writes one entry, first the note of what was lost before it, if any.
    fn record(&mut self, stream: u8, line: &[u8]) {
        if self.dropped > 0 {
            let note = format!("[lindocker: {} bytes of output lost: the log could not be written]\n", self.dropped);
            if self.entry(2, note.as_bytes()).is_err() {
                self.dropped += line.len() as u64;
                return;
            }
            self.dropped = 0;
        }
        if self.entry(stream, line).is_err() {
            self.dropped += line.len() as u64;
        }
    }

    fn entry(&mut self, stream: u8, line: &[u8]) -> io::Result<()> {
        let entry = EntryOut {
            log: String::from_utf8_lossy(line),
            stream: if stream == 2 { "stderr" } else { "stdout" },
            time: humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string(),
        };
        self.scratch.clear();
        serde_json::to_writer(&mut self.scratch, &entry).expect("entry serializes");
        self.scratch.push(b'\n');
        let len = self.scratch.len() as u64;
        if let Some(max) = self.max_size
            && self.size > 0
            && self.size + len > max
        {
            self.rotate()?;
        }
        if let Err(e) = self.file.write_all(&self.scratch) {
            // No torn line: what part of it went in comes out again.
            let _ = self.file.set_len(self.size);
            return Err(e);
        }
        self.size += len;
        Ok(())
    }

    /// Gzips rotated files in a forked child, so the caller's loop (the shim's relay)
    /// goes on meanwhile. Only for a single-threaded caller: the child is a fork.
    pub fn compress_in_child(mut self) -> LogWriter {
        self.fork_compress = true;
        self
    }

    /// Waits for the child compressing a rotated file, if one runs (before the next
    /// rotation, and before the container's end is told: then all is in place).
    pub fn wait_compressing(&mut self) {
        if let Some(child) = self.compressing.take() {
            let _ = child.wait();
        }
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.wait_compressing();
        if self.max_files <= 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        // The oldest goes (whether compressed or not), the others move up one.
        for n in (1..self.max_files).rev() {
            if let Some((old, gz)) = rotated_file(&self.path, n) {
                if n == self.max_files - 1 {
                    let _ = fs::remove_file(old);
                } else {
                    let _ = fs::rename(old, if gz { gzipped(&self.path, n + 1) } else { rotated(&self.path, n + 1) });
                }
            }
        }
        let first = rotated(&self.path, 1);
        fs::rename(&self.path, &first)?;
        self.file = OpenOptions::new().create(true).append(true).mode(0o600).open(&self.path)?;
        self.size = 0;
        if self.compress {
            // Not compressed (a full disk) stays readable as it is. Gzipped in a child:
            // the relay (output, input, clients) goes on meanwhile.
            let gz = gzipped(&self.path, 1);
            let (from, to) = (first.clone(), gz.clone());
            let job = move || {
                compress(&from, &to)
                    .map(|()| String::new())
                    .map_err(|e| lindocker_runtime::Error::Init(format!("compress {}: {e}", from.display())))
            };
            match self.fork_compress.then(|| crate::forked::Forked::call_alone(Path::new("/dev/null"), job)) {
                Some(Ok(child)) => self.compressing = Some(child),
                _ => {
                    let _ = compress(&first, &gz);
                }
            }
        }
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.wait_compressing();
    }
}

/// Gzips `from` into `to` (through a temporary file), then removes `from`.
fn compress(from: &Path, to: &Path) -> io::Result<()> {
    let mut input = File::open(from)?;
    AtomicWrite::new(Durability::CrashSafe).mode(0o600).write_with(to, |out| {
        let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
        io::copy(&mut input, &mut encoder)?;
        encoder.finish().map(drop)
    })?;
    fs::remove_file(from)
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

fn gzipped(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}.gz"));
    PathBuf::from(s)
}

/// The `n`-th rotated file, compressed (preferred: a plain one beside it is being
/// compressed) or not, and whether it is compressed.
fn rotated_file(path: &Path, n: u32) -> Option<(PathBuf, bool)> {
    let gz = gzipped(path, n);
    if gz.exists() {
        return Some((gz, true));
    }
    let plain = rotated(path, n);
    plain.exists().then_some((plain, false))
}

/// A `--since`/`--until` time as Docker reads it: a duration ago (`10m`, `1h30m`), a Unix
/// timestamp (`1700000000`, `1700000000.5`), or RFC 3339 (without a zone: UTC).
pub fn parse_time(text: &str, now: SystemTime) -> Option<SystemTime> {
    if let Ok(ago) = humantime::parse_duration(text) {
        return now.checked_sub(ago);
    }
    let (secs, fraction) = text.split_once('.').unwrap_or((text, ""));
    if !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
        && fraction.len() <= 9
        && fraction.bytes().all(|b| b.is_ascii_digit())
    {
        let nanos: u32 = format!("{fraction:0<9}").parse().ok()?;
        return UNIX_EPOCH.checked_add(Duration::new(secs.parse().ok()?, nanos));
    }
    humantime::parse_rfc3339_weak(text.trim_end_matches('Z')).ok()
}

/// An entry's time (its writer's clock; an unreadable one counts as the epoch).
pub fn entry_time(entry: &Entry) -> SystemTime {
    humantime::parse_rfc3339(&entry.time).unwrap_or(UNIX_EPOCH)
}

impl crate::Engine {
    /// A reader of the container's log (see [`LogReader::open`]); an error if its driver
    /// keeps none.
    pub fn log_reader(&self, record: &crate::record::Record, tail: Option<usize>) -> Result<LogReader, EngineError> {
        if record.host_config.log_driver == LogDriver::None {
            return Err(EngineError::State("configured logging driver does not support reading".into()));
        }
        Ok(LogReader::open(&self.paths(&record.id).log(), tail))
    }
}

/// The longest line a reader takes; a longer one (no log of ours has one) is skipped.
const READ_LINE_MAX: usize = 1 << 20;

/// Reads a container's log, rotated files included, oldest first, with bounded memory:
/// `--tail` starts from the end (the files are read backwards in chunks to find the
/// start of the last lines), and following reads what was added since the last call.
pub struct LogReader {
    /// Files still to read before the current one, with the offset to start at; the
    /// last entry is the current file (`path`).
    queue: Vec<(PathBuf, u64)>,
    /// The current file, open, and its inode (a rotation replaces it).
    current: Option<(BufReader<File>, u64)>,
    path: PathBuf,
    /// A line read in part (the writer was in the middle of it).
    line: Vec<u8>,
    too_long: bool,
}

impl LogReader {
    /// A reader of the log at `path` that starts with its last `tail` entries (lines),
    /// or at the beginning.
    pub fn open(path: &Path, tail: Option<usize>) -> LogReader {
        let mut files: Vec<PathBuf> = (1..100).map_while(|n| rotated_file(path, n)).map(|(f, _)| f).collect();
        files.reverse();
        files.push(path.to_owned());
        let mut queue: Vec<(PathBuf, u64)> = files.iter().map(|f| (f.clone(), 0)).collect();
        if let Some(mut need) = tail {
            for (index, file) in files.iter().enumerate().rev() {
                let (offset, found) = if is_gz(file) {
                    // Compressed: counted through, then that many lines skipped.
                    File::open(file)
                        .and_then(|f| count_lines(gz_reader(f)))
                        .map_or((0, 0), |lines| (lines.saturating_sub(need as u64), (lines as usize).min(need)))
                } else {
                    File::open(file).and_then(|f| tail_offset(&f, need)).unwrap_or((0, 0))
                };
                if found >= need || index == 0 {
                    queue.drain(..index);
                    queue[0].1 = offset;
                    break;
                }
                need -= found;
            }
        }
        LogReader { queue, current: None, path: path.to_owned(), line: Vec::new(), too_long: false }
    }

    /// Calls `each` for every complete entry up to the log's current end.
    pub fn read_new(&mut self, mut each: impl FnMut(Entry)) {
        while self.queue.len() > 1 {
            let (file, offset) = self.queue.remove(0);
            if let Ok(mut f) = File::open(&file) {
                if is_gz(&file) {
                    let mut reader = gz_reader(f);
                    if skip_lines(&mut reader, offset).is_ok() {
                        self.read_to_end(&mut reader, &mut each);
                    }
                } else {
                    let _ = f.seek(SeekFrom::Start(offset));
                    self.read_to_end(&mut BufReader::with_capacity(64 * 1024, f), &mut each);
                }
            }
            self.line.clear();
        }
        loop {
            if self.current.is_none() {
                let offset = self.queue.first().map_or(0, |q| q.1);
                let Ok(mut f) = File::open(&self.path) else { return };
                let ino = f.metadata().map(|m| m.ino()).unwrap_or(0);
                let _ = f.seek(SeekFrom::Start(offset));
                self.current = Some((BufReader::with_capacity(64 * 1024, f), ino));
            }
            let Some((mut reader, ino)) = self.current.take() else { return };
            self.read_to_end(&mut reader, &mut each);
            match fs::metadata(&self.path) {
                // Rotated: what the old file got is read; the new one starts at 0.
                Ok(m) if m.ino() != ino => {
                    self.read_to_end(&mut reader, &mut each);
                    self.line.clear();
                    self.queue = vec![(self.path.clone(), 0)];
                }
                // Cut back to nothing (a single file rotated in place).
                Ok(m) if reader.stream_position().is_ok_and(|pos| m.len() < pos) => {
                    self.line.clear();
                    self.queue = vec![(self.path.clone(), 0)];
                }
                _ => {
                    self.current = Some((reader, ino));
                    return;
                }
            }
        }
    }

    /// Reads complete lines until the end of `reader`; a partial last line is kept.
    fn read_to_end(&mut self, reader: &mut impl BufRead, each: &mut impl FnMut(Entry)) {
        loop {
            let Ok(available) = reader.fill_buf() else { return };
            if available.is_empty() {
                return;
            }
            let (take, complete) = match available.iter().position(|&b| b == b'\n') {
                Some(end) => (end + 1, true),
                None => (available.len(), false),
            };
            if self.line.len() + take > READ_LINE_MAX {
                self.too_long = true;
                self.line.clear();
            } else if !self.too_long {
                self.line.extend_from_slice(&available[..take]);
            }
            reader.consume(take);
            if complete {
                if !self.too_long
                    && let Ok(entry) = serde_json::from_slice::<Entry>(&self.line)
                {
                    each(entry);
                }
                self.line.clear();
                self.too_long = false;
            }
        }
    }
}

fn is_gz(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

/// A compressed rotated file, decompressed as it is read.
fn gz_reader(file: File) -> BufReader<flate2::read::GzDecoder<File>> {
    BufReader::with_capacity(64 * 1024, flate2::read::GzDecoder::new(file))
}

/// The number of newlines in what `reader` gives, read through in chunks.
fn count_lines(mut reader: impl BufRead) -> io::Result<u64> {
    let mut lines = 0;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(lines);
        }
        lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        let n = chunk.len();
        reader.consume(n);
    }
}

/// Reads past the first `n` lines.
fn skip_lines(reader: &mut impl BufRead, mut n: u64) -> io::Result<()> {
    while n > 0 {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(());
        }
        let take = match chunk.iter().position(|&b| b == b'\n') {
            Some(end) => {
                n -= 1;
                end + 1
            }
            None => chunk.len(),
        };
        reader.consume(take);
    }
    Ok(())
}

/// Where the last `n` complete lines of `file` begin, read backwards in chunks; and how
/// many lines there are from there (fewer than `n` if the file has fewer).
fn tail_offset(file: &File, n: usize) -> io::Result<(u64, usize)> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata()?.len();
    if n == 0 {
        return Ok((len, 0));
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut end = len;
    // The first newline from the end closes the last complete line; each one before it
    // closes a line too, and the (n+1)-th closes the line before the last n.
    let mut newlines = 0;
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        for (i, &b) in chunk.iter().enumerate().rev() {
            if b == b'\n' {
                newlines += 1;
                if newlines == n + 1 {
                    return Ok((start + i as u64 + 1, n));
                }
            }
        }
        end = start;
    }
    Ok((0, newlines))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(reader: &mut LogReader) -> Vec<String> {
        let mut out = Vec::new();
        reader.read_new(|e| out.push(e.log.trim_end().to_owned()));
        out
    }

    #[test]
    fn tail_follow_and_rotation() {
        let dir = std::env::temp_dir().join(format!("lindocker-logs-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.json");
        let mut w = LogWriter::open(&path, Some(400), 3, false).unwrap();
        for i in 0..10 {
            w.write(1, format!("line {i}\n").as_bytes());
        }
        assert!(rotated(&path, 1).exists(), "rotated");
        let all: Vec<String> = (0..10).map(|i| format!("line {i}")).collect();
        assert_eq!(texts(&mut LogReader::open(&path, None)), all);
        for n in [0, 1, 2, 5, 9, 10, 50] {
            let want = &all[all.len().saturating_sub(n)..];
            assert_eq!(texts(&mut LogReader::open(&path, Some(n))), want, "tail {n}");
        }
        let mut follow = LogReader::open(&path, Some(1));
        assert_eq!(texts(&mut follow), ["line 9"]);
        assert!(texts(&mut follow).is_empty());
        // A partial line waits for its end; a rotation in between loses nothing.
        w.write(1, b"line 1");
        assert!(texts(&mut follow).is_empty());
        w.write(1, b"0\n");
        for i in 11..14 {
            w.write(2, format!("line {i}\n").as_bytes());
        }
        let want: Vec<String> = (10..14).map(|i| format!("line {i}")).collect();
        assert_eq!(texts(&mut follow), want);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn times_as_docker_reads_them() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(parse_time("10m", now), Some(now - Duration::from_secs(600)));
        assert_eq!(parse_time("1h30m", now), Some(now - Duration::from_secs(5400)));
        assert_eq!(parse_time("1700000000", now), Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)));
        assert_eq!(parse_time("1700000000.5", now), Some(UNIX_EPOCH + Duration::new(1_700_000_000, 500_000_000)));
        assert_eq!(parse_time("2023-11-14T22:13:20Z", now), Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)));
        assert_eq!(
            parse_time("2023-11-14T22:13:20.000000001Z", now),
            Some(UNIX_EPOCH + Duration::new(1_700_000_000, 1))
        );
        for bad in ["", "yesterday", "1.2.3", "17e8", "1700000000.1234567890"] {
            assert_eq!(parse_time(bad, now), None, "{bad}");
        }
    }

    #[test]
    fn compressed_rotation_reads_across_files() {
        let dir = std::env::temp_dir().join(format!("lindocker-logs-gz-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.json");
        let mut w = LogWriter::open(&path, Some(400), 4, true).unwrap();
        for i in 0..30 {
            w.write(1, format!("line {i}\n").as_bytes());
        }
        let mut names: Vec<String> =
            fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, ["log.json", "log.json.1.gz", "log.json.2.gz", "log.json.3.gz"]);
        let all = texts(&mut LogReader::open(&path, None));
        let first: usize = all[0].trim_start_matches("line ").parse().unwrap();
        let want: Vec<String> = (first..30).map(|i| format!("line {i}")).collect();
        assert_eq!(all, want);
        for n in [0, 1, 3, 7, 12, all.len(), 100] {
            let want = &all[all.len().saturating_sub(n)..];
            assert_eq!(texts(&mut LogReader::open(&path, Some(n))), want, "tail {n}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_full_disk_drops_and_counts() {
        // /dev/full fails every write with ENOSPC.
        let mut w = LogWriter::open(Path::new("/dev/full"), None, 1, false).unwrap();
        for _ in 0..1000 {
            w.write(1, &[b'x'; 1000]);
        }
        assert!(w.partial[0].len() < LINE_MAX && w.partial[1].is_empty());
        assert_eq!(w.dropped(), 1000 * 1000 - w.partial[0].len() as u64);
    }

    #[test]
    fn what_was_lost_is_noted_once_writes_work_again() {
        let dir = std::env::temp_dir().join(format!("lindocker-logs-lost-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.json");
        let mut w = LogWriter::open(&path, None, 1, false).unwrap();
        w.write(1, b"before\n");
        let good = std::mem::replace(&mut w.file, OpenOptions::new().append(true).open("/dev/full").unwrap());
        w.write(1, b"lost 1\nlost 2\n");
        assert_eq!(w.dropped(), 14);
        w.file = good;
        w.write(1, b"after\n");
        let mut reader = LogReader::open(&path, None);
        let mut got = Vec::new();
        reader.read_new(|e| got.push((e.stream, e.log)));
        let streams: Vec<&str> = got.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(streams, ["stdout", "stderr", "stdout"]);
        assert_eq!(got[0].1, "before\n");
        assert!(got[1].1.contains("14 bytes of output lost"), "{}", got[1].1);
        assert_eq!(got[2].1, "after\n");
        fs::remove_dir_all(&dir).unwrap();
    }
}
