//! Unload's part of the deferred load: stop the callback and the work item, wait for them, then
//! remove what the load created in the documented order, waiting for the retired instance.

use super::*;

impl<K: KernelApi> Loader<K> {
    /// Unload's part: stops the callback and the work item and waits for them, then removes
    /// what was created in the order [`crate::driver::Driver::unload`] documents. Returns the first
    /// failure's status and whether the loader block itself may be freed (false: a callback or
    /// routine may still use it). PASSIVE_LEVEL.
    pub(crate) fn tear_down(&self) -> (NtStatus, bool) {
        // The power routine first: once unregistered it never runs again (and, by the
        // assumption of facts row `callback-unregister`, is not running either),
        // so nothing below races with a sleep or resume (a waiting sleep routine stops waiting:
        // the drain below waits for the injections instead).
        self.power.unregister(&self.kernel);
        self.schedule.fetch_or(CANCELLED, Ordering::AcqRel);
        let mut first = NtStatus::SUCCESS;
        let mut loader_free = true;
        let subscription = self.subscription.swap(ptr::null_mut(), Ordering::AcqRel);
        if !subscription.is_null() {
            // SAFETY: PASSIVE_LEVEL (unload); the handle came from the subscribe in DriverEntry
            // and is unsubscribed once (swapped out above); unload is not the callback.
            let status = NtStatus(unsafe {
                self.kernel
                    .fwpm_bfe_state_unsubscribe_changes0(subscription)
            });
            if !status.is_success() {
                // The callback may still run with this loader: it must stay. With the cancel
                // bit set, it queues nothing.
                loader_free = false;
                first = status;
            }
        }
        let mut patience = Patience::new(crate::driver::objects::UNREGISTER_POLL, WORKER_PATIENCE);
        while self.schedule.load(Ordering::Acquire) & HOLDER != IDLE {
            if !patience.wait(&self.kernel) {
                self.log.write(
                    &self.kernel,
                    Level::Error,
                    &["unload: the load work item never ended; driver state leaked".into()],
                );
                return (first_failure(first, NtStatus::DEVICE_BUSY), false);
            }
        }
        let item = self.work_item.swap(ptr::null_mut(), Ordering::AcqRel);
        if !item.is_null() {
            // SAFETY: <= DISPATCH_LEVEL; allocated in DriverEntry, freed once (swapped out); not
            // queued: the token is free and cancelled, so nothing queues it again.
            unsafe { self.kernel.io_free_work_item(item) };
        }
        // SAFETY: the token is free and cancelled: unload is the pieces' only user now.
        let pieces = unsafe { self.pieces() };
        let (status, state_free) = self.remove_pieces(pieces);
        first = first_failure(first, status);
        (first, loader_free && state_free)
    }

    /// Filters, instance, callouts, injections in flight, objects and session, state, handles:
    /// the order that keeps every packet and classify safe. Returns the first failure and
    /// whether the state was freed.
    pub(super) fn remove_pieces(&self, pieces: &mut Pieces<K>) -> (NtStatus, bool) {
        let state = self.state.load(Ordering::Acquire);
        let mut first = NtStatus::SUCCESS;
        let mut still_registered = pieces.callouts_stuck;
        let registration = pieces.registration.take();
        let mut objects = pieces.objects.take();
        if self.bfe_lost.swap(false, Ordering::AcqRel) {
            // BFE stopped and no run has forgotten its session yet: do not use the dead handle.
            if let Some(objects) = objects.as_mut() {
                objects.engine_lost();
            }
        }
        if let Some(objects) = objects.as_mut() {
            first = objects.remove_filters();
        }
        if let Some(registration) = &registration {
            registration.retire();
        }
        if let Some(objects) = objects.as_mut() {
            first = first_failure(first, objects.unregister_callouts());
            still_registered |= objects.still_registered();
        }
        // The documentation ties STATUS_DEVICE_BUSY to flow contexts only: a classify may still
        // be inside the instance after its callout unregistered. Wait for it (bounded), then
        // give the slot back; late classifies through this instance's contexts permit without
        // entering.
        let released =
            registration.is_none_or(|registration| release_instance(&self.kernel, registration));
        if released && !still_registered {
            if let Some(shared) = self.state() {
                shared.injector.drain();
            }
        }
        if let Some(objects) = objects {
            first = first_failure(first, objects.remove_and_close());
        }
        if state.is_null() {
            return (first, !still_registered);
        }
        if still_registered || !released {
            // WFP may still call classify, or a classify is still inside: the state must stay.
            self.log.write(
                &self.kernel,
                Level::Error,
                &[
                    "unload: a callout stayed registered or in use; driver state leaked: ".into(),
                    first.into(),
                ],
            );
            return (first_failure(first, NtStatus::DEVICE_BUSY), false);
        }
        self.state.store(ptr::null_mut(), Ordering::Release);
        // SAFETY: every callout is unregistered and the instance is released with no classify
        // inside: nothing can reach the state any more, so it is reclaimed once here.
        let state = unsafe { Box::from_raw(state) };
        log_counters(&self.kernel, &self.log, &state.counters);
        let CalloutState { injector, .. } = *state;
        if let Err((failure, _)) = injector.close() {
            first = first_failure(first, failure.error.status());
        }
        (first, true)
    }
}

/// Waits (every [`crate::driver::objects::UNREGISTER_POLL`], for up to
/// [`crate::driver::objects::UNREGISTER_PATIENCE`]) until no classify is inside the retired instance,
/// then releases its slot. False when one never left.
///
/// IRQL: PASSIVE_LEVEL (it sleeps).
pub(super) fn release_instance<K: KernelApi>(kernel: &K, registration: Registration) -> bool {
    registration.retire();
    let mut patience = Patience::new(
        crate::driver::objects::UNREGISTER_POLL,
        crate::driver::objects::UNREGISTER_PATIENCE,
    );
    let mut registration = registration;
    loop {
        match registration.release() {
            Ok(()) => return true,
            Err(still_used) => registration = still_used,
        }
        if !patience.wait(kernel) {
            return false;
        }
    }
}

/// One log line per layer that saw traffic: what classify decided, counted. The image's only
/// way to show its counters (its tests read these lines).
pub(super) fn log_counters<K: KernelApi>(
    kernel: &K,
    log: &Log,
    counters: &crate::driver::counters::Counters,
) {
    for layer in crate::driver::layers::CalloutLayer::ALL {
        let c = counters.snapshot(layer);
        if c.classified == 0 {
            continue;
        }
        let n =
            |value: u64| crate::driver::log::Arg::from(u32::try_from(value).unwrap_or(u32::MAX));
        log.write(
            kernel,
            Level::Info,
            &[
                layer.into(),
                ": classified ".into(),
                n(c.classified),
                ", reinjected ".into(),
                n(c.reinjected),
                ", own ".into(),
                n(c.skipped_own),
                ", other-injector ".into(),
                n(c.skipped_other_injector),
                ", loopback ".into(),
                n(c.skipped_loopback),
                ", ale ".into(),
                n(c.skipped_ale_classify_required),
                ", ipsec ".into(),
                n(c.skipped_ipsec),
                ", tcp-below-dispatch ".into(),
                n(c.skipped_tcp_below_dispatch),
                ", no-headroom ".into(),
                n(c.skipped_no_headroom),
                ", multi-buffer ".into(),
                n(c.skipped_multi_buffer),
                ", split-checksum ".into(),
                n(c.skipped_split_header_checksum),
                ", checksum ".into(),
                n(c.checksum_recomputed),
                ", suspended ".into(),
                n(c.skipped_suspended),
                ", fragment ".into(),
                n(c.skipped_fragment),
                ", malformed ".into(),
                n(c.malformed),
                ", failed ".into(),
                n(c.failed),
            ],
        );
    }
}
