//! Changing the inspection rules at run time: the control channel takes the loader's token (so
//! no work item run or BFE re-add touches the WFP objects meanwhile), replaces the filters in
//! one filter-engine transaction, and only once it committed makes the new rules the ones
//! classify decides with and the ones a later (re)install uses. A refused change leaves
//! everything as it was.

use super::*;
use crate::driver::persisted;

/// How often a configuration change asks again for a token a work item run holds, and for how
/// long: a run makes one attempt after at most one backoff wait (`RetryPolicy::max_delay`).
const TOKEN_POLL: Duration = Duration::from_millis(10);
const TOKEN_PATIENCE: Duration = Duration::from_secs(2);

impl<K: KernelApi> Loader<K> {
    /// The rules in force.
    ///
    /// Any IRQL; the caller holds the token or is a control request (the only writers are
    /// control requests holding the token, presented one at a time).
    pub(crate) fn rules(&self) -> &Rules {
        // SAFETY: written only by `set_rules`, whose callers are serialized with every reader
        // (this function's contract).
        unsafe { &*self.rules.get() }
    }

    /// Takes the token from an idle loader, waiting while a run holds or awaits it. `Err`:
    /// unload began, or the token stayed busy.
    fn take_token(&self) -> Result<(), NtStatus> {
        let mut patience = Patience::new(TOKEN_POLL, TOKEN_PATIENCE);
        loop {
            let seen = self.schedule.load(Ordering::Acquire);
            if seen & CANCELLED != 0 {
                return Err(NtStatus::INVALID_DEVICE_STATE);
            }
            if seen & HOLDER == IDLE
                && self
                    .schedule
                    .compare_exchange(seen, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                return Ok(());
            }
            if !patience.wait(&self.kernel) {
                return Err(NtStatus::DEVICE_BUSY);
            }
        }
    }

    /// The rules' generation: opaque, different per load, one more at every change, never 0.
    /// Any IRQL.
    pub(crate) fn generation(&self) -> u32 {
        self.generation.load(Ordering::Acquire)
    }

    /// Makes `rules` the configuration: the filters of the installed objects are replaced in one
    /// transaction (before the objects exist, or while BFE is away, there are none: the install
    /// or re-add uses the new rules), then classify's copy is switched. `expected`: 0, or the
    /// generation the change was made against; if the rules changed since, STATUS_RETRY.
    /// `persist`: the rules are also written to `Parameters\InspectRules` first, and put back
    /// as they were if the filters cannot be replaced (`crate::driver::persisted`). On failure
    /// nothing changed, in the driver or the registry.
    ///
    /// Between the commit and the switch, classify decides with the old rules the packets the
    /// new filters send it: each classify still agrees with one whole configuration at its
    /// layer (a filter selects at least what its rules do, so the old filter would have sent it
    /// too), but across layers a packet may meet neither for that moment (docs/control.md, "A
    /// change, whole or not at all").
    ///
    /// IRQL: PASSIVE_LEVEL. Called by control requests only, one at a time.
    pub(crate) fn set_rules(
        &self,
        rules: &Rules,
        expected: u32,
        persist: bool,
    ) -> Result<(), NtStatus> {
        self.take_token()?;
        let result = if expected != 0 && expected != self.generation() {
            Err(NtStatus::RETRY)
        } else {
            // SAFETY: the token is held (taken above, released below).
            let pieces = unsafe { self.pieces() };
            if persist {
                persisted::store(
                    &self.kernel,
                    self.service_key.as_ref(),
                    &self.log,
                    rules,
                    || self.replace_filters(pieces, rules),
                )
            } else {
                self.replace_filters(pieces, rules)
            }
        };
        if result.is_ok() {
            // SAFETY: the token holder is the only writer, and control requests (the other
            // readers) are presented one at a time: this is one.
            unsafe { *self.rules.get() = *rules };
            // A plain load and store: the token holder is the only writer.
            let next = self.generation().wrapping_add(1).max(1);
            self.generation.store(next, Ordering::Release);
            if let Some(state) = self.state() {
                state.config.publish(rules);
                state.log.set_verbose(rules.verbose);
            }
        }
        // A request for a run that came meanwhile queues the work item; nothing frees the loader
        // while a control request runs (unload purges the control queue first).
        let _ = self.finish(false, false);
        result
    }

    /// The filters for `rules`, if there are objects with a session to replace them in. A
    /// failure while BFE is away (stopped, or stopping before its callback told this driver)
    /// is not one: its session went with its filters, and the re-add the BFE callback asks for
    /// installs the new rules. Token held.
    fn replace_filters(&self, pieces: &mut Pieces<K>, rules: &Rules) -> Result<(), NtStatus> {
        let context = pieces.registration.as_ref().map(|r| r.id().raw_context());
        let (Some(objects), Some(context)) = (pieces.objects.as_mut(), context) else {
            return Ok(());
        };
        match objects.replace_filters(context, rules) {
            Ok(()) => Ok(()),
            Err(error)
                if error.status == NtStatus::FWP_SESSION_ABORTED
                    || self.bfe_lost.load(Ordering::Acquire)
                    || !self.bfe_running() =>
            {
                // The session is gone (FWP_E_SESSION_ABORTED: close it, open another), whether
                // or not BFE's callback has said so yet: forget it, and make the run that
                // follows this change (queued when the token is given back) treat it as BFE's
                // stop, so progress says "waiting for BFE" and the objects come back with these
                // rules as soon as BFE runs, even if it is running again already.
                objects.engine_lost();
                self.bfe_lost.store(true, Ordering::Release);
                self.request();
                self.log.write(
                    &self.kernel,
                    Level::Info,
                    &[
                        "rules kept for BFE's return: replacing the filters failed: ".into(),
                        error.status.into(),
                    ],
                );
                Ok(())
            }
            Err(error) => Err(error.status),
        }
    }
}
