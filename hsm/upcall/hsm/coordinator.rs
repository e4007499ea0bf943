// SPDX-License-Identifier: GPL-2.0

//! The coordinator: its queue of waiting actions, the copytools and what they are handed.

use kernel::{prelude::*, sync::Arc};

use super::{Control, Hsm};
use crate::fid::Fid;
use crate::mask::Action;
use crate::state::{self, HsmEvent};
use crate::uapi::{self, Copy};
use crate::BStr;

/// Most actions the coordinator keeps waiting, over all requests; more gets `ENOSPC`.
const MAX_WAITING: usize = 1 << 20;

/// One action of the coordinator.
pub(crate) struct Item {
    pub(crate) cookie: u64,
    pub(crate) compound: u64,
    pub(crate) action: Action,
    pub(crate) fid: Fid,
    pub(crate) archive_id: u32,
    pub(crate) flags: u64,
    /// The request's data, shared by its actions.
    pub(crate) data: Arc<KVec<u8>>,
    /// The copytool it was handed to; 0 while waiting.
    pub(crate) agent: u64,
    /// COPY_START was received.
    pub(crate) started: bool,
    /// Bytes the copytool reported copied (`IOC_PROGRESS`) since COPY_START.
    pub(crate) moved: u64,
    /// A CANCEL request came for it while a copytool had it.
    pub(crate) canceled: bool,
}

/// A registered copytool (an open device file after `IOC_CT_START`).
pub(crate) struct Agent {
    pub(crate) id: u64,
    /// The process that registered it: its opens of the files it restores are exempt from
    /// implicit restore.
    pub(crate) tgid: i32,
    /// Archive ids served (see [`uapi::decode_register`]); 0 for all.
    pub(crate) archives: u64,
    pub(crate) done_ok: u64,
    pub(crate) done_err: u64,
}

/// One service class of the coordinator's queue: first in, first out, with the actions put
/// back (their copytool gone, or its buffer faulted) ahead of the rest.
struct Queue {
    /// In arrival order; taken and cancelled actions leave holes, skipped and compacted away.
    waiting: KVVec<Option<KBox<Item>>>,
    head: usize,
    /// Actions (not holes) in `waiting[head..]`.
    live: usize,
    /// Actions put back, the next to go out last.
    retry: KVec<KBox<Item>>,
}

impl Queue {
    fn new() -> Self {
        Self {
            waiting: KVVec::new(),
            head: 0,
            live: 0,
            retry: KVec::new(),
        }
    }

    fn len(&self) -> usize {
        self.retry.len() + self.live
    }

    /// The actions, in the order they will be handed out.
    fn iter(&self) -> impl Iterator<Item = &Item> {
        Iterator::chain(
            self.retry.iter().rev().map(|b| &**b),
            self.waiting
                .get(self.head..)
                .unwrap_or(&[])
                .iter()
                .filter_map(|o| o.as_deref()),
        )
    }

    fn push(&mut self, it: KBox<Item>) -> Result {
        if self.head > 0 && self.head == self.waiting.len() {
            self.waiting.clear();
            self.head = 0;
        }
        self.waiting.push(Some(it), GFP_KERNEL)?;
        self.live += 1;
        Ok(())
    }

    /// Puts an action back at the head. `retry` must have room (see [`Cdt::reserve_retry`]).
    fn requeue(&mut self, mut it: KBox<Item>) {
        it.agent = 0;
        it.started = false;
        it.moved = 0;
        if let Err(e) = self.retry.push_within_capacity(it) {
            // Not reached after `reserve_retry`; said loudly if it ever is.
            pr_err!(
                "hsm: no room to requeue the action for {}\n",
                crate::D(&e.0.fid)
            );
        }
    }

    /// Takes the first action, in the order they are handed out, that `pred` accepts.
    fn take_where(&mut self, pred: &impl Fn(&Item) -> bool) -> Option<KBox<Item>> {
        if let Some(i) = self.retry.iter().rposition(|it| pred(it)) {
            return self.retry.remove(i).ok();
        }
        let at = self
            .waiting
            .get(self.head..)?
            .iter()
            .position(|o| o.as_deref().is_some_and(pred))?;
        let it = self.waiting.get_mut(self.head + at)?.take();
        self.live -= 1;
        self.skip_and_compact();
        it
    }

    /// Skips the holes at the front; compacts once holes outnumber actions, so that neither
    /// scans nor memory grow with actions long gone.
    fn skip_and_compact(&mut self) {
        while self.waiting.get(self.head).is_some_and(|o| o.is_none()) {
            self.head += 1;
        }
        let holes = self.waiting.len() - self.head - self.live;
        if (self.head > 4096 && self.head * 2 > self.waiting.len())
            || (holes > 4096 && holes > self.live)
        {
            // Without memory for the copy, the holes stay until the next try.
            if let Ok(mut rest) = KVVec::with_capacity(self.waiting.len() - self.head, GFP_KERNEL) {
                for o in self
                    .waiting
                    .iter_mut()
                    .skip(self.head)
                    .filter(|o| o.is_some())
                {
                    // Cannot fail: the capacity is there.
                    let _ = rest.push_within_capacity(o.take());
                }
                self.waiting = rest;
                self.head = 0;
            }
        }
    }

    /// Removes the actions for `fid`; returns how many.
    fn cancel(&mut self, fid: &Fid) -> usize {
        let before = self.retry.len();
        self.retry.retain(|it| it.fid != *fid);
        let mut n = before - self.retry.len();
        for o in self.waiting.iter_mut().skip(self.head) {
            if o.as_ref().is_some_and(|it| it.fid == *fid) {
                *o = None;
                n += 1;
                self.live -= 1;
            }
        }
        self.skip_and_compact();
        n
    }
}

/// The coordinator.
pub(crate) struct Cdt {
    pub(crate) control: Control,
    /// The waiting actions: the [`Action::urgent`] ones (RESTOREs), all served before the
    /// others.
    queues: [Queue; 2],
    /// Actions handed to copytools, at most `max_requests`.
    pub(crate) active: KVec<KBox<Item>>,
    pub(crate) agents: KVec<Agent>,
    next_cookie: u64,
    next_compound: u64,
    next_agent: u64,
    /// Counts actions that left the coordinator (done, cancelled, purged): implicit restores
    /// waiting for theirs look again when it moves.
    pub(crate) ended: u64,
    /// The target is going: implicit restores stop waiting.
    pub(crate) closing: bool,
}

impl Cdt {
    /// A stopped coordinator with nothing queued.
    pub(crate) fn new() -> Self {
        Self {
            control: Control::Stopped,
            queues: [Queue::new(), Queue::new()],
            active: KVec::new(),
            agents: KVec::new(),
            next_cookie: 1,
            next_compound: 1,
            next_agent: 1,
            ended: 0,
            closing: false,
        }
    }

    /// Whether a RESTORE of `fid` waits or runs.
    pub(super) fn restore_queued(&self, fid: &Fid) -> bool {
        let restore = |it: &Item| it.action == Action::Restore && it.fid == *fid && !it.canceled;
        self.active.iter().any(|it| restore(it)) || self.waiting_iter().any(restore)
    }

    pub(crate) fn waiting_len(&self) -> usize {
        self.queues.iter().map(Queue::len).sum()
    }

    /// The waiting actions, in the order they will be handed out: RESTOREs first.
    pub(crate) fn waiting_iter(&self) -> impl Iterator<Item = &Item> {
        self.queues.iter().flat_map(Queue::iter)
    }

    /// The queue `action` waits in.
    fn queue_of(&mut self, action: Action) -> &mut Queue {
        let [urgent, other] = &mut self.queues;
        if action.urgent() {
            urgent
        } else {
            other
        }
    }

    /// Makes room for `n` more waiting actions of `action`.
    fn reserve(&mut self, action: Action, n: usize) -> Result {
        self.queue_of(action).waiting.reserve(n, GFP_KERNEL)?;
        Ok(())
    }

    pub(crate) fn push(&mut self, it: KBox<Item>) -> Result {
        self.queue_of(it.action).push(it)
    }

    /// Puts an action back at the head of its class. `reserve_retry` must have made room.
    fn requeue(&mut self, it: KBox<Item>) {
        self.queue_of(it.action).requeue(it);
    }

    /// Makes room for `n` requeued actions, before taking them out of anywhere.
    fn reserve_retry(&mut self, n: usize) -> Result {
        for q in self.queues.iter_mut() {
            q.retry.reserve(n, GFP_KERNEL)?;
        }
        Ok(())
    }

    /// Takes the first waiting action that a copytool serving `archives` can do.
    pub(crate) fn take_for(&mut self, archives: u64) -> Option<KBox<Item>> {
        self.take_where(|it| uapi::serves(archives, it.archive_id))
    }

    /// Takes the first waiting action, in the order they are handed out, that `pred` accepts.
    fn take_where(&mut self, pred: impl Fn(&Item) -> bool) -> Option<KBox<Item>> {
        self.queues.iter_mut().find_map(|q| q.take_where(&pred))
    }

    /// Removes the waiting actions for `fid` (CANCEL); returns how many.
    fn cancel_waiting(&mut self, fid: &Fid) -> usize {
        self.queues.iter_mut().map(|q| q.cancel(fid)).sum()
    }

    /// Puts the active actions with `cookies` back at the head of their class, in the order
    /// they were handed out; those cancelled meanwhile are dropped. Nothing moves if there is
    /// no memory to requeue them all.
    pub(crate) fn give_back(&mut self, cookies: &[u64]) -> Result {
        self.reserve_retry(cookies.len())?;
        // Cancelled ones leave: implicit restores waiting for them look again.
        self.ended = self.ended.wrapping_add(1);
        for cookie in cookies.iter().rev() {
            if let Some(i) = self.active.iter().position(|it| it.cookie == *cookie) {
                if let Ok(it) = self.active.remove(i) {
                    if !it.canceled {
                        self.requeue(it);
                    }
                }
            }
        }
        Ok(())
    }

    /// CANCEL of `fid`: drops its waiting actions and marks the active ones cancelled (a
    /// copytool that has not started one gets `ECANCELED` when it does).
    pub(crate) fn cancel(&mut self, fid: &Fid) {
        self.cancel_waiting(fid);
        for it in self.active.iter_mut().filter(|it| it.fid == *fid) {
            it.canceled = true;
        }
    }

    /// Drops every waiting and active action (`purge`).
    fn purge(&mut self) -> usize {
        let n = self.waiting_len() + self.active.len();
        self.queues = [Queue::new(), Queue::new()];
        self.active = KVec::new();
        n
    }

    pub(crate) fn count_active(&self, a: Action) -> usize {
        self.active.iter().filter(|it| it.action == a).count()
    }
}

impl Hsm {
    /// Drops waiting actions for `fids` and marks active ones cancelled.
    pub(super) fn cancel(&self, fids: &[Fid]) {
        let mut cdt = self.cdt.lock();
        for f in fids {
            cdt.cancel(f);
        }
        cdt.ended = cdt.ended.wrapping_add(1);
        drop(cdt);
        self.restore_wait.notify_all();
        for f in fids {
            self.changelog(f, HsmEvent::Cancel, 0, false);
        }
    }

    /// Queues actions for the coordinator, one per FID, as one compound request.
    pub(super) fn enqueue(
        &self,
        action: Action,
        archive_id: u32,
        flags: u64,
        data: &[u8],
        fids: &[Fid],
    ) -> Result {
        let mut d = KVec::with_capacity(data.len(), GFP_KERNEL)?;
        d.extend_from_slice(data, GFP_KERNEL)?;
        let data = Arc::new(d, GFP_KERNEL)?;
        let mut items = KVVec::with_capacity(fids.len(), GFP_KERNEL)?;
        for f in fids {
            let it = Item {
                cookie: 0,
                compound: 0,
                action,
                fid: *f,
                archive_id,
                flags,
                data: data.clone(),
                agent: 0,
                started: false,
                moved: 0,
                canceled: false,
            };
            items.push(KBox::new(it, GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let mut cdt = self.cdt.lock();
        if cdt.control == Control::Stopped {
            return Err(EAGAIN);
        }
        if cdt.waiting_len() + items.len() > MAX_WAITING {
            return Err(ENOSPC);
        }
        cdt.reserve(action, items.len())?;
        let compound = cdt.next_compound;
        cdt.next_compound += 1;
        for mut it in items.drain_all() {
            // One RESTORE per file at a time, as Lustre's coordinator: its waiters share it.
            if it.action == Action::Restore && cdt.restore_queued(&it.fid) {
                continue;
            }
            it.compound = compound;
            it.cookie = cdt.next_cookie;
            cdt.next_cookie += 1;
            cdt.push(it)?;
        }
        drop(cdt);
        self.cdt_wait.notify_all();
        Ok(())
    }

    /// Registers a copytool; returns its id.
    pub(crate) fn register_agent(&self, archives: u64) -> Result<u64> {
        let mut cdt = self.cdt.lock();
        let id = cdt.next_agent;
        cdt.next_agent += 1;
        let tgid = kernel::fsnotify::current::tgid();
        cdt.agents.push(
            Agent {
                id,
                tgid,
                archives,
                done_ok: 0,
                done_err: 0,
            },
            GFP_KERNEL,
        )?;
        Ok(id)
    }

    /// Unregisters a copytool; its unfinished actions wait again, first in line of their class,
    /// in the order it got them ([`Cdt::give_back`]).
    pub(crate) fn unregister_agent(&self, id: u64) {
        let mut cdt = self.cdt.lock();
        cdt.agents.retain(|a| a.id != id);
        let held = cdt.active.iter().filter(|it| it.agent == id).count();
        let mut cookies = KVec::new();
        let res = cookies
            .reserve(held, GFP_KERNEL)
            .map_err(Error::from)
            .and_then(|()| {
                for it in cdt.active.iter().filter(|it| it.agent == id) {
                    cookies
                        .push_within_capacity(it.cookie)
                        .map_err(|_| ENOMEM)?;
                }
                cdt.give_back(&cookies)
            });
        if res.is_err() {
            pr_err!(
                "{}: no memory to requeue {} HSM actions; they stay listed as running\n",
                BStr(self.name.to_bytes()),
                held
            );
            return;
        }
        drop(cdt);
        self.cdt_wait.notify_all();
        self.restore_wait.notify_all();
    }

    /// Hands the copytool the next actions it may do, encoded as one `hsm_action_list` in
    /// `out`; returns the list's length, or `None` if there is nothing for it now. The cookies
    /// of the actions go to `cookies`. `EINVAL` if `out` cannot hold even one action (which
    /// then waits again).
    ///
    /// As Lustre's coordinator, a list gathers actions of one archive id (any action), up to
    /// what `out` holds and `max_requests` allows in flight: a copytool reading with a large
    /// buffer gets a batch per `read()`.
    pub(crate) fn next_actions(
        &self,
        agent: u64,
        out: &mut [u8],
        cookies: &mut KVec<u64>,
    ) -> Result<Option<usize>> {
        cookies.clear();
        let max = self.params.lock().max_requests as usize;
        let mut cdt = self.cdt.lock();
        if cdt.control != Control::Enabled || cdt.active.len() >= max {
            return Ok(None);
        }
        let Some(archives) = cdt
            .agents
            .iter()
            .find(|a| a.id == agent)
            .map(|a| a.archives)
        else {
            return Err(ENOENT);
        };
        // Room first, so that nothing taken out can be dropped for lack of memory.
        let room = (max - cdt.active.len())
            .min(out.len() / uapi::ACTION_ITEM_LEN)
            .max(1);
        cdt.active.reserve(room, GFP_KERNEL)?;
        cdt.reserve_retry(room)?;
        cookies.reserve(room, GFP_KERNEL)?;
        let Some(first) = cdt.take_for(archives) else {
            return Ok(None);
        };
        let mut hal = uapi::ActionList {
            count: 0,
            compound_id: first.compound,
            flags: first.flags,
            archive_id: first.archive_id,
            fsname: self.fsname(),
        };
        let mut at = hal.first_item();
        if hal.size([first.data.len()].into_iter()) > out.len() {
            cdt.requeue(first);
            return Err(EINVAL);
        }
        out.fill(0);
        let mut next = Some(first);
        while let Some(mut it) = next.take() {
            // Active and listed among the cookies first (both reserved above, so neither push
            // fails), then encoded: nothing is in the list that the coordinator does not hold
            // as running.
            it.agent = agent;
            let (cookie, compound, flags) = (it.cookie, it.compound, it.flags);
            if let Err(e) = cdt.active.push_within_capacity(it) {
                cdt.requeue(e.0);
                break;
            }
            if cookies.push_within_capacity(cookie).is_err() {
                if let Some(it) = cdt.active.pop() {
                    cdt.requeue(it);
                }
                break;
            }
            let Some(it) = cdt.active.last() else { break };
            let item = uapi::ActionItem {
                action: it.action as u32,
                fid: it.fid,
                dfid: it.fid,
                offset: 0,
                length: u64::MAX,
                cookie,
                ..Default::default()
            };
            at = uapi::ActionList::encode_item(out, at, &item, &it.data);
            hal.count += 1;
            if compound != hal.compound_id {
                // Lustre's lists name no request when they gather several.
                hal.compound_id = 0;
            }
            // Lustre's list carries the flags of its last action.
            hal.flags = flags;
            if cookies.len() >= room {
                break;
            }
            let free = out.len().saturating_sub(at);
            next = cdt.take_where(|it| {
                it.archive_id == hal.archive_id
                    && uapi::serves(archives, it.archive_id)
                    && uapi::align8(uapi::ACTION_ITEM_LEN + it.data.len()) <= free
            });
        }
        hal.encode_header(out);
        Ok(Some(at))
    }

    /// Puts back actions handed out by [`Hsm::next_actions`] that never reached the copytool
    /// (its buffer faulted); those cancelled meanwhile are dropped, as on a copytool's exit.
    pub(crate) fn give_back(&self, cookies: &[u64]) {
        // Without memory to requeue them, they stay active until the copytool's file closes.
        let _ = self.cdt.lock().give_back(cookies);
        self.cdt_wait.notify_all();
        self.restore_wait.notify_all();
    }

    /// Whether a copytool could get an action from `cdt` now.
    fn can_take(cdt: &Cdt, agent: u64, max: usize) -> bool {
        let Some(archives) = cdt
            .agents
            .iter()
            .find(|a| a.id == agent)
            .map(|a| a.archives)
        else {
            return false;
        };
        cdt.control == Control::Enabled
            && cdt.active.len() < max
            && cdt
                .waiting_iter()
                .any(|it| uapi::serves(archives, it.archive_id))
    }

    /// Whether a copytool could get an action now (for `poll`).
    pub(crate) fn has_action(&self, agent: u64) -> bool {
        let max = self.params.lock().max_requests as usize;
        Self::can_take(&self.cdt.lock(), agent, max)
    }

    /// Waits until a copytool may find an action (or a second has passed); `true` if a signal
    /// is pending.
    pub(crate) fn wait_for_action(&self, agent: u64) -> bool {
        let max = self.params.lock().max_requests as usize;
        let mut cdt = self.cdt.lock();
        if Self::can_take(&cdt, agent, max) {
            return false;
        }
        matches!(
            self.cdt_wait
                .wait_interruptible_timeout(&mut cdt, kernel::time::msecs_to_jiffies(1000)),
            kernel::sync::CondVarTimeoutResult::Signal { .. }
        )
    }

    /// The coordinator action of cookie `cookie`, held by copytool `agent`: its index in
    /// `active`. `ENOENT` if there is none (done, purged), `EPERM` if another copytool has it.
    fn held(cdt: &Cdt, cookie: u64, agent: u64) -> Result<usize> {
        let i = cdt
            .active
            .iter()
            .position(|it| it.cookie == cookie)
            .ok_or(ENOENT)?;
        if cdt.active[i].agent != agent {
            return Err(EPERM);
        }
        Ok(i)
    }

    /// `IOC_COPY_START`: fills in the data version the copy starts from.
    pub(crate) fn copy_start(&self, c: &mut Copy, agent: u64) -> Result {
        let (action, fid) = if c.flags & uapi::HP_FLAG_UPCALL != 0 {
            if self.cdt.lock().control == Control::Stopped {
                return Err(EAGAIN);
            }
            Self::upcall_target(c)?
        } else {
            let mut cdt = self.cdt.lock();
            let i = Self::held(&cdt, c.hai.cookie, agent)?;
            let it = &mut cdt.active[i];
            if it.canceled {
                // Saves the copytool a copy nobody wants; it still ends the action.
                return Err(ECANCELED);
            }
            it.started = true;
            (it.action, it.fid)
        };
        c.data_version = match self.lookup(&fid) {
            Ok((p, st)) => {
                // A released file's archive is its only copy: archiving the punched file over
                // it, or removing it, would lose the data (an action queued before the
                // release, or through the upcall, which the release cannot see).
                let released = Self::read_attrs(&p)?.flags & state::HS_RELEASED != 0;
                match action {
                    Action::Archive if released => return Err(ECANCELED),
                    Action::Remove if released => return Err(EBUSY),
                    // A restore of a file already back would write the archived data over
                    // whatever was written since.
                    Action::Restore if !released => return Err(ECANCELED),
                    _ => {}
                }
                Self::data_version(&st)
            }
            Err(ENOENT) if action == Action::Remove => 0,
            Err(e) => return Err(e),
        };
        Ok(())
    }

    /// `IOC_PROGRESS`: the copytool holding the action of `p.cookie` copied `p.length` more
    /// bytes; `hsm_action` shows the sum while the copy runs. `ENOENT` for an action it does
    /// not hold (or that ended), `EINVAL` for a report about another file or before
    /// COPY_START, or one that says the copy is over (that is COPY_END's).
    pub(crate) fn progress(&self, p: &uapi::Progress, agent: u64) -> Result {
        if p.flags & uapi::HP_FLAG_COMPLETED != 0 {
            return Err(EINVAL);
        }
        let mut cdt = self.cdt.lock();
        let i = Self::held(&cdt, p.cookie, agent)?;
        let it = cdt.active.get_mut(i).ok_or(ENOENT)?;
        if it.fid != p.fid || !it.started {
            return Err(EINVAL);
        }
        it.moved = it.moved.saturating_add(p.length);
        Ok(())
    }

    /// `IOC_COPY_END`: the copy is over (`HP_FLAG_COMPLETED`), or failed and may be retried
    /// (`HP_FLAG_RETRY`, coordinator actions). A completion updates the file's state and
    /// appends a `CL_HSM` record; a coordinator action leaves the active list only once that is
    /// done, so an error here can be retried (or the action requeued when the copytool goes).
    pub(crate) fn copy_end(&self, c: &Copy, agent: u64) -> Result {
        if c.flags & uapi::HP_FLAG_COMPLETED == 0 {
            return Err(EINVAL);
        }
        if c.flags & uapi::HP_FLAG_UPCALL != 0 {
            if self.cdt.lock().control == Control::Stopped {
                return Err(EAGAIN);
            }
            let (action, fid) = Self::upcall_target(c)?;
            return self.complete(action, &fid, c.archive_id, c);
        }
        let (action, fid, archive_id) = {
            let mut cdt = self.cdt.lock();
            let i = Self::held(&cdt, c.hai.cookie, agent)?;
            if cdt.active[i].canceled || (c.errval != 0 && c.flags & uapi::HP_FLAG_RETRY != 0) {
                cdt.reserve_retry(1)?;
                let it = cdt.active.remove(i)?;
                if !it.canceled {
                    cdt.requeue(it);
                }
                cdt.ended = cdt.ended.wrapping_add(1);
                drop(cdt);
                self.cdt_wait.notify_all();
                self.restore_wait.notify_all();
                return Ok(());
            }
            let it = &cdt.active[i];
            (it.action, it.fid, it.archive_id)
        };
        let res = self.complete(action, &fid, archive_id, c);
        if res.is_ok() || res == Err(EBUSY) {
            let mut cdt = self.cdt.lock();
            if let Ok(i) = Self::held(&cdt, c.hai.cookie, agent) {
                let _ = cdt.active.remove(i);
                cdt.ended = cdt.ended.wrapping_add(1);
            }
            if let Some(a) = cdt.agents.iter_mut().find(|a| a.id == agent) {
                if c.errval == 0 && res.is_ok() {
                    a.done_ok += 1;
                } else {
                    a.done_err += 1;
                }
            }
            drop(cdt);
            self.cdt_wait.notify_all();
            self.restore_wait.notify_all();
        }
        res
    }

    /// `hsm_control` writes.
    pub(crate) fn set_control(&self, v: &[u8]) -> Result {
        let mut cdt = self.cdt.lock();
        match v {
            b"enabled" => cdt.control = Control::Enabled,
            b"disabled" => cdt.control = Control::Disabled,
            b"shutdown" => cdt.control = Control::Stopped,
            b"purge" => {
                let n = cdt.purge();
                pr_info!("{}: purged {} HSM actions\n", BStr(self.name.to_bytes()), n);
            }
            _ => return Err(EINVAL),
        }
        cdt.ended = cdt.ended.wrapping_add(1);
        drop(cdt);
        self.cdt_wait.notify_all();
        self.restore_wait.notify_all();
        Ok(())
    }
}
