//! The thread that compresses segments, so that the writer's commits never wait for it: at
//! [`SEAL_LEVEL`](super::SEAL_LEVEL) a segment takes one to two seconds of a core.
//!
//! The writer reads a group's chunks (milliseconds), hands their bytes over, goes on committing,
//! and writes the segment in a transaction of its own once the thread has compressed it,
//! checking first that its chunks are still what it read, byte for byte (retention may have
//! deleted some meanwhile). A segment being compressed when the store closes or the process
//! dies is simply lost: its chunks are still unsealed, and a later round seals them.

use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use crate::StoreError;

/// A group of chunks read for sealing: their records' bytes, one chunk after another.
pub(crate) struct Gathered {
    /// The chunks, in the order of their bytes.
    pub(super) placed: Vec<Placed>,
    /// Their records (each framed by its length), chunk after chunk.
    pub(super) plain: Vec<u8>,
}

/// A chunk of a [`Gathered`] group: it is sealed only if it is still unsealed, with the same
/// bytes, when the segment is written.
#[derive(Debug, Clone, Copy)]
pub(super) struct Placed {
    /// `raw_chunks.id`.
    pub(super) id: i64,
    /// Where its bytes start in the group's.
    pub(super) offset: usize,
    /// Its records' bytes.
    pub(super) raw_len: usize,
}

/// A group, its segment compressed (or why it could not be), and the time that took.
pub(crate) struct Compressed {
    /// The group as it was handed over.
    pub(super) group: Gathered,
    /// Its segment's bytes.
    pub(super) packed: Result<Vec<u8>, String>,
    /// How long the thread compressed it.
    pub(super) took: Duration,
}

/// A compressing thread, started when it is first given a group. Dropped, it finishes the
/// segment in hand (a second or two), finds no one to give it to, and ends.
#[derive(Default)]
pub(crate) struct Sealer {
    /// Groups to the thread, segments back; `None` until started (or after it ended).
    channels: Option<(Sender<Gathered>, Receiver<Compressed>)>,
    /// A group is being compressed.
    in_flight: bool,
    /// Keeps the compressor's tables between segments (about 20 MB): for a run that seals a
    /// backlog at once; a writer's thread, which seals now and then, frees them after each.
    keep_tables: bool,
}

impl Sealer {
    /// A thread for sealing a backlog at once, which keeps its compressor between segments.
    pub(super) fn for_a_backlog() -> Sealer {
        Sealer {
            keep_tables: true,
            ..Sealer::default()
        }
    }

    /// True while a group is being compressed.
    pub(super) fn busy(&self) -> bool {
        self.in_flight
    }

    /// Hands `group` to the thread, starting it if needed; the group comes back if the thread
    /// cannot be started.
    pub(super) fn send(&mut self, group: Gathered) -> Result<(), (Gathered, String)> {
        let keep_tables = self.keep_tables;
        let (jobs, _) = match &mut self.channels {
            Some(channels) => channels,
            none => none.insert(match start(keep_tables) {
                Ok(channels) => channels,
                Err(e) => return Err((group, e)),
            }),
        };
        match jobs.send(group) {
            Ok(()) => {
                self.in_flight = true;
                Ok(())
            }
            Err(mpsc::SendError(group)) => {
                // The thread has ended (only a panic could end it): started again next time.
                self.channels = None;
                Err((group, "the sealing thread stopped".into()))
            }
        }
    }

    /// Waits for the group being compressed.
    pub(super) fn wait(&mut self) -> Result<Compressed, StoreError> {
        let finished = match &self.channels {
            Some((_, done)) if self.in_flight => done.recv().ok(),
            _ => None,
        };
        self.in_flight = false;
        finished.ok_or_else(|| {
            self.channels = None;
            StoreError::Corrupt("the sealing thread stopped".into())
        })
    }

    /// The group the thread has finished, if any; never waits.
    pub(super) fn finished(&mut self) -> Option<Compressed> {
        let (_, done) = self.channels.as_ref()?;
        match done.try_recv() {
            Ok(compressed) => {
                self.in_flight = false;
                Some(compressed)
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.channels = None;
                self.in_flight = false;
                None
            }
        }
    }
}

/// Starts the thread: groups in, segments out, until the store drops its end.
fn start(keep_tables: bool) -> Result<(Sender<Gathered>, Receiver<Compressed>), String> {
    let (jobs, todo) = mpsc::channel::<Gathered>();
    let (out, done) = mpsc::channel::<Compressed>();
    std::thread::Builder::new()
        .name("skylight-seal".into())
        .spawn(move || {
            let mut compressor = None;
            for group in todo {
                let started = Instant::now();
                let packed =
                    super::compress(&mut compressor, &group.plain).map_err(|e| e.to_string());
                if !keep_tables {
                    compressor = None;
                }
                let took = started.elapsed();
                if out
                    .send(Compressed {
                        group,
                        packed,
                        took,
                    })
                    .is_err()
                {
                    break;
                }
            }
        })
        .map_err(|e| format!("cannot start the sealing thread: {e}"))?;
    Ok((jobs, done))
}
