// SPDX-License-Identifier: GPL-2.0

//! The persistent HSM queue: one SQLite row per FID, written by `lhsm_mdt_upcall` in one
//! transaction per request with `synchronous=FULL`, so an accepted request survives a crash;
//! claimed by workers under a lease, so a crashed worker's items are taken again once its
//! lease runs out; marked done only after the worker chain reported completion.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::Request;

/// A queued item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// Row id.
    pub id: i64,
    /// `ARCHIVE` or `REMOVE`.
    pub action: String,
    /// File system name.
    pub fsname: String,
    /// Archive id.
    pub archive_id: u64,
    /// Request flags.
    pub flags: u64,
    /// Request data.
    pub data: String,
    /// The file, as `[0x...:0x...:0x...]`.
    pub fid: String,
    /// How many times it was claimed, this one included.
    pub attempts: u32,
}

/// Counts by state, for progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Waiting for a worker (or for its retry time).
    pub pending: u64,
    /// Held by a worker.
    pub leased: u64,
    /// Completed.
    pub done: u64,
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The queue database.
pub struct Queue {
    db: Connection,
}

impl Queue {
    /// Opens (creating if needed) the queue at `path`.
    pub fn open(path: &Path) -> rusqlite::Result<Queue> {
        let db = Connection::open(path)?;
        db.busy_timeout(Duration::from_secs(30))?;
        // WAL with FULL sync: a committed transaction is on disk when COMMIT returns.
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "FULL")?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS items (
                id INTEGER PRIMARY KEY,
                action TEXT NOT NULL,
                fsname TEXT NOT NULL,
                archive_id INTEGER NOT NULL,
                flags INTEGER NOT NULL,
                data TEXT NOT NULL,
                fid TEXT NOT NULL,
                state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'leased', 'done')),
                owner TEXT NOT NULL DEFAULT '',
                not_before INTEGER NOT NULL DEFAULT 0,
                attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT NOT NULL DEFAULT '',
                queued INTEGER NOT NULL,
                finished INTEGER NOT NULL DEFAULT 0
             );
             CREATE INDEX IF NOT EXISTS items_todo ON items (state, not_before, id);",
        )?;
        Ok(Queue { db })
    }

    /// Records a request, one item per FID, in one durable transaction.
    pub fn enqueue(&mut self, r: &Request) -> rusqlite::Result<()> {
        let tx = self
            .db
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut st = tx.prepare(
                "INSERT INTO items (action, fsname, archive_id, flags, data, fid, queued)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for fid in &r.fids {
                st.execute(params![
                    r.action,
                    r.fsname,
                    r.archive_id as i64,
                    r.flags as i64,
                    r.data,
                    fid.to_string(),
                    now()
                ])?;
            }
        }
        tx.commit()
    }

    /// Takes the oldest item that is pending, or whose lease ran out, for `lease` seconds.
    pub fn claim(&mut self, owner: &str, lease: i64, at: i64) -> rusqlite::Result<Option<Item>> {
        let tx = self
            .db
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let item = tx
            .query_row(
                "SELECT id, action, fsname, archive_id, flags, data, fid, attempts FROM items
                 WHERE state != 'done' AND not_before <= ?1 ORDER BY id LIMIT 1",
                params![at],
                |row| {
                    Ok(Item {
                        id: row.get(0)?,
                        action: row.get(1)?,
                        fsname: row.get(2)?,
                        archive_id: row.get::<_, i64>(3)? as u64,
                        flags: row.get::<_, i64>(4)? as u64,
                        data: row.get(5)?,
                        fid: row.get(6)?,
                        attempts: row.get::<_, u32>(7)? + 1,
                    })
                },
            )
            .optional()?;
        if let Some(it) = &item {
            tx.execute(
                "UPDATE items SET state = 'leased', owner = ?2, not_before = ?3,
                 attempts = attempts + 1 WHERE id = ?1",
                params![it.id, owner, at + lease],
            )?;
        }
        tx.commit()?;
        Ok(item)
    }

    /// Extends a lease still held by `owner`; false if it was lost.
    pub fn renew(&mut self, id: i64, owner: &str, until: i64) -> rusqlite::Result<bool> {
        let n = self.db.execute(
            "UPDATE items SET not_before = ?3 WHERE id = ?1 AND owner = ?2 AND state = 'leased'",
            params![id, owner, until],
        )?;
        Ok(n == 1)
    }

    /// Marks an item done; false if `owner` no longer held it.
    pub fn complete(&mut self, id: i64, owner: &str) -> rusqlite::Result<bool> {
        let n = self.db.execute(
            "UPDATE items SET state = 'done', finished = ?3 WHERE id = ?1 AND owner = ?2
             AND state = 'leased'",
            params![id, owner, now()],
        )?;
        Ok(n == 1)
    }

    /// Gives an item back after a failure, to be retried from `retry_at` on.
    pub fn fail(
        &mut self,
        id: i64,
        owner: &str,
        error: &str,
        retry_at: i64,
    ) -> rusqlite::Result<()> {
        self.db.execute(
            "UPDATE items SET state = 'pending', owner = '', not_before = ?4, last_error = ?3
             WHERE id = ?1 AND owner = ?2 AND state = 'leased'",
            params![id, owner, error, retry_at],
        )?;
        Ok(())
    }

    /// Items by state.
    pub fn counts(&self) -> rusqlite::Result<Counts> {
        let mut c = Counts::default();
        let mut st = self
            .db
            .prepare("SELECT state, count(*) FROM items GROUP BY state")?;
        let rows = st.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        for row in rows {
            let (s, n) = row?;
            match s.as_str() {
                "pending" => c.pending = n,
                "leased" => c.leased = n,
                _ => c.done = n,
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustre_logic::fid::Fid;

    fn temp_db(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("lhsm-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        d.join("queue.db")
    }

    fn req(n: u64) -> Request {
        Request {
            action: "ARCHIVE".into(),
            fsname: "lustre".into(),
            archive_id: 1,
            flags: 0,
            data: String::new(),
            fids: (0..n)
                .map(|i| Fid::from_inode(100 + i, 1).expect("IGIF"))
                .collect(),
        }
    }

    #[test]
    fn enqueue_claim_complete() {
        let p = temp_db("basic");
        let mut q = Queue::open(&p).expect("open");
        q.enqueue(&req(3)).expect("enqueue");
        let a = q.claim("w1", 60, 1000).expect("claim").expect("an item");
        let b = q.claim("w2", 60, 1000).expect("claim").expect("an item");
        assert_ne!(a.id, b.id);
        assert!(q.complete(a.id, "w1").expect("complete"));
        assert!(!q.complete(b.id, "w1").expect("not w1's"));
        assert_eq!(
            q.counts().expect("counts"),
            Counts {
                pending: 1,
                leased: 1,
                done: 1
            }
        );
        // Survives reopening.
        drop(q);
        let q = Queue::open(&p).expect("reopen");
        assert_eq!(q.counts().expect("counts").done, 1);
    }

    #[test]
    fn expired_lease_is_taken_again() {
        let mut q = Queue::open(&temp_db("lease")).expect("open");
        q.enqueue(&req(1)).expect("enqueue");
        let a = q.claim("crashed", 30, 1000).expect("claim").expect("item");
        assert_eq!(q.claim("w2", 30, 1010).expect("claim"), None);
        let b = q.claim("w2", 30, 1031).expect("claim").expect("retaken");
        assert_eq!((b.id, b.attempts), (a.id, 2));
        // The crashed worker cannot complete what it lost.
        assert!(!q.complete(a.id, "crashed").expect("complete"));
        assert!(q.complete(b.id, "w2").expect("complete"));
    }

    #[test]
    fn failure_is_retried_later() {
        let mut q = Queue::open(&temp_db("retry")).expect("open");
        q.enqueue(&req(1)).expect("enqueue");
        let a = q.claim("w", 30, 1000).expect("claim").expect("item");
        q.fail(a.id, "w", "worker exited 1", 1100).expect("fail");
        assert_eq!(q.claim("w", 30, 1050).expect("claim"), None);
        assert!(q.claim("w", 30, 1100).expect("claim").is_some());
    }

    #[test]
    fn concurrent_workers_take_each_item_once() {
        let p = temp_db("conc");
        Queue::open(&p)
            .expect("open")
            .enqueue(&req(200))
            .expect("enqueue");
        let handles: Vec<_> = (0..4)
            .map(|w| {
                let p = p.clone();
                std::thread::spawn(move || {
                    let mut q = Queue::open(&p).expect("open");
                    let mut got = Vec::new();
                    while let Some(it) = q.claim(&format!("w{w}"), 600, 1000).expect("claim") {
                        assert!(q.complete(it.id, &format!("w{w}")).expect("complete"));
                        got.push(it.id);
                    }
                    got
                })
            })
            .collect();
        let mut all: Vec<i64> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker"))
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 200);
    }
}
