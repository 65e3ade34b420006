//! Changing the inspection rules at run time: the control channel takes the loader's token (so
//! no work item run or BFE re-add touches the WFP objects meanwhile), replaces the filters in
//! one filter-engine transaction, and only once it committed makes the new rules the ones
//! classify decides with and the ones a later (re)install uses. A refused change leaves
//! everything as it was.

use super::*;

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

    /// Makes `rules` the configuration: the filters of the installed objects are replaced in one
    /// transaction (before the objects exist, or while BFE is away, there are none: the install
    /// or re-add uses the new rules), then classify's copy is switched. On failure nothing
    /// changed.
    ///
    /// IRQL: PASSIVE_LEVEL. Called by control requests only, one at a time.
    pub(crate) fn set_rules(&self, rules: &Rules) -> Result<(), NtStatus> {
        self.take_token()?;
        // SAFETY: the token is held (taken above, released below).
        let pieces = unsafe { self.pieces() };
        let context = pieces.registration.as_ref().map(|r| r.id().raw_context());
        let replaced = match (pieces.objects.as_mut(), context) {
            (Some(objects), Some(context)) => objects
                .replace_filters(context, rules)
                .map_err(|error| error.status),
            _ => Ok(()),
        };
        if replaced.is_ok() {
            // SAFETY: the token holder is the only writer, and control requests (the other
            // readers) are presented one at a time: this is one.
            unsafe { *self.rules.get() = *rules };
            if let Some(state) = self.state() {
                state.config.publish(rules);
                state.log.set_verbose(rules.verbose);
            }
        }
        // A request for a run that came meanwhile queues the work item; nothing frees the loader
        // while a control request runs (unload purges the control queue first).
        let _ = self.finish(false, false);
        replaced
    }
}
