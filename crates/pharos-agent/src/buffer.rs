//! The agent's results until the server acknowledges them, kept on disk so that neither a
//! server away for minutes nor an agent restart loses any: one JSON line per result in
//! `results.jsonl` (appended as results come), and the highest acknowledged number in
//! `acked`. Bounded: past `limit` results the oldest are dropped, and counted, so the server
//! hears how many. The file is rewritten without the acknowledged lines once they make up
//! most of it.

use pharos_wire::AgentResult;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

pub struct Buffer {
    dir: PathBuf,
    file: File,
    /// Lines in the file, acknowledged or not.
    lines_in_file: usize,
    pending: VecDeque<AgentResult>,
    limit: usize,
    next_seq: u64,
    acked: u64,
    /// Dropped since the server last acknowledged a report.
    dropped: u64,
}

const RESULTS: &str = "results.jsonl";
const ACKED: &str = "acked";

impl Buffer {
    /// Opens (or starts) the buffer in `dir`, keeping at most `limit` results.
    pub fn open(dir: &Path, limit: usize) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let acked = match std::fs::read_to_string(dir.join(ACKED)) {
            Ok(text) => text.trim().parse().unwrap_or(0),
            Err(error) if error.kind() == io::ErrorKind::NotFound => 0,
            Err(error) => return Err(error),
        };
        let mut pending = VecDeque::new();
        let mut lines_in_file = 0;
        let mut highest = acked;
        if let Ok(file) = File::open(dir.join(RESULTS)) {
            for line in BufReader::new(file).lines() {
                let line = line?;
                lines_in_file += 1;
                // A line cut short by a crash is skipped.
                let Ok(result) = serde_json::from_str::<AgentResult>(&line) else {
                    continue;
                };
                highest = highest.max(result.seq);
                if result.seq > acked {
                    pending.push_back(result);
                }
            }
        }
        let mut dropped = 0;
        while pending.len() > limit.max(1) {
            pending.pop_front();
            dropped += 1;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(RESULTS))?;
        Ok(Self {
            dir: dir.to_owned(),
            file,
            lines_in_file,
            pending,
            limit: limit.max(1),
            next_seq: highest + 1,
            acked,
            dropped,
        })
    }

    /// Numbers and keeps one result (its `seq` is set here).
    pub fn push(&mut self, mut result: AgentResult) -> io::Result<()> {
        result.seq = self.next_seq;
        self.next_seq += 1;
        let mut line = serde_json::to_vec(&result).map_err(io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.lines_in_file += 1;
        self.pending.push_back(result);
        if self.pending.len() > self.limit {
            self.pending.pop_front();
            self.dropped += 1;
        }
        Ok(())
    }

    /// Makes what was pushed durable.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// The oldest results not yet acknowledged, at most `count`.
    pub fn oldest(&self, count: usize) -> Vec<AgentResult> {
        self.pending.iter().take(count).cloned().collect()
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The server holds every result up to `acked`. A number above any this buffer gave
    /// means the server knew an earlier life of this agent (its state was lost): the results
    /// waiting are numbered again after it, so none is taken for one already stored.
    pub fn acknowledge(&mut self, acked: u64, dropped_reported: u64) -> io::Result<()> {
        self.dropped = self.dropped.saturating_sub(dropped_reported);
        if acked >= self.next_seq {
            self.next_seq = acked + 1;
            let renumbered: Vec<AgentResult> = self.pending.drain(..).collect();
            for mut result in renumbered {
                result.seq = self.next_seq;
                self.next_seq += 1;
                self.pending.push_back(result);
            }
            self.acked = acked;
            return self.rewrite();
        }
        if acked <= self.acked {
            return Ok(());
        }
        self.acked = acked;
        while self
            .pending
            .front()
            .is_some_and(|result| result.seq <= acked)
        {
            self.pending.pop_front();
        }
        write_atomically(&self.dir.join(ACKED), acked.to_string().as_bytes())?;
        if self.lines_in_file > 1024 && self.lines_in_file > 2 * self.pending.len() {
            self.rewrite()?;
        }
        Ok(())
    }

    /// Rewrites the file with the results still waiting.
    fn rewrite(&mut self) -> io::Result<()> {
        let mut text = Vec::new();
        for result in &self.pending {
            serde_json::to_writer(&mut text, result).map_err(io::Error::other)?;
            text.push(b'\n');
        }
        write_atomically(&self.dir.join(ACKED), self.acked.to_string().as_bytes())?;
        write_atomically(&self.dir.join(RESULTS), &text)?;
        self.file = OpenOptions::new()
            .append(true)
            .open(self.dir.join(RESULTS))?;
        self.lines_in_file = self.pending.len();
        Ok(())
    }
}

/// Writes a file whole or not at all (a temporary file renamed over it).
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temporary = path.with_extension("partial");
    {
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_data()?;
    }
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use pharos_core::Outcome;
    use std::time::Duration;

    fn result(monitor: &str) -> AgentResult {
        AgentResult {
            seq: 0,
            monitor: monitor.into(),
            at: Utc::now(),
            started_at: Utc::now(),
            outcome: Outcome::up(Duration::from_millis(2), Vec::new()),
        }
    }

    fn seqs(buffer: &Buffer) -> Vec<u64> {
        buffer.oldest(usize::MAX).iter().map(|r| r.seq).collect()
    }

    #[test]
    fn results_survive_a_restart_until_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let mut buffer = Buffer::open(dir.path(), 100).unwrap();
        for _ in 0..5 {
            buffer.push(result("web")).unwrap();
        }
        buffer.acknowledge(2, 0).unwrap();
        assert_eq!(seqs(&buffer), [3, 4, 5]);
        drop(buffer);
        let mut buffer = Buffer::open(dir.path(), 100).unwrap();
        assert_eq!(seqs(&buffer), [3, 4, 5], "unacknowledged results come back");
        buffer.push(result("web")).unwrap();
        assert_eq!(seqs(&buffer), [3, 4, 5, 6], "numbers go on after a restart");
        buffer.acknowledge(6, 0).unwrap();
        assert_eq!(buffer.pending(), 0);
        drop(buffer);
        let mut buffer = Buffer::open(dir.path(), 100).unwrap();
        assert_eq!(buffer.pending(), 0);
        buffer.push(result("web")).unwrap();
        assert_eq!(seqs(&buffer), [7]);
    }

    #[test]
    fn a_full_buffer_drops_the_oldest_and_counts_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut buffer = Buffer::open(dir.path(), 3).unwrap();
        for _ in 0..5 {
            buffer.push(result("web")).unwrap();
        }
        assert_eq!(seqs(&buffer), [3, 4, 5]);
        assert_eq!(buffer.dropped(), 2);
        buffer.acknowledge(5, 2).unwrap();
        assert_eq!(buffer.dropped(), 0, "reported, so forgotten");
    }

    #[test]
    fn a_line_cut_short_by_a_crash_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut buffer = Buffer::open(dir.path(), 10).unwrap();
        buffer.push(result("web")).unwrap();
        drop(buffer);
        let mut file = OpenOptions::new()
            .append(true)
            .open(dir.path().join(RESULTS))
            .unwrap();
        file.write_all(br#"{"seq": 2, "moni"#).unwrap();
        let buffer = Buffer::open(dir.path(), 10).unwrap();
        assert_eq!(seqs(&buffer), [1]);
    }

    #[test]
    fn a_server_that_knew_an_earlier_life_gets_fresh_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let mut buffer = Buffer::open(dir.path(), 10).unwrap();
        buffer.push(result("a")).unwrap();
        buffer.push(result("b")).unwrap();
        // The server already holds up to 40 from before this agent's state was lost.
        buffer.acknowledge(40, 0).unwrap();
        assert_eq!(seqs(&buffer), [41, 42]);
        buffer.push(result("c")).unwrap();
        assert_eq!(seqs(&buffer), [41, 42, 43]);
        drop(buffer);
        assert_eq!(seqs(&Buffer::open(dir.path(), 10).unwrap()), [41, 42, 43]);
    }

    #[test]
    fn acknowledged_lines_are_compacted_away() {
        let dir = tempfile::tempdir().unwrap();
        let mut buffer = Buffer::open(dir.path(), 10_000).unwrap();
        for _ in 0..3000 {
            buffer.push(result("web")).unwrap();
        }
        buffer.acknowledge(2990, 0).unwrap();
        let lines = std::fs::read_to_string(dir.path().join(RESULTS))
            .unwrap()
            .lines()
            .count();
        assert_eq!(lines, 10);
    }
}
