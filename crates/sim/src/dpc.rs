//! DPCs in the simulated stack: queued by the driver, run when and on the thread the test
//! chooses, at DISPATCH_LEVEL.

use core::ffi::c_void;
use std::collections::{BTreeMap, VecDeque};

use super::stack::{SimulatedStack, Violation};
use crate::nt::Irql;
use crate::sys::KernelFn;
use crate::sys::types::{BOOLEAN, KDEFERRED_ROUTINE, KDPC};

/// `sizeof(KDPC)` on x64 (the simulator's own copy; tests/kernel_facts.rs pins it). The KDPC
/// is opaque to drivers, so the simulator keeps its own contents there: a signature written at
/// `KeInitializeDpc` and checked whenever the DPC is queued or run. Memory freed meanwhile
/// (poisoned by the test allocator or by the simulated pool) or overwritten no longer holds it.
pub const KDPC_SIZE: usize = 0x40;

/// The signature the simulator keeps in an initialized KDPC at `address`.
fn signature(address: usize) -> [u8; KDPC_SIZE] {
    let mut bytes = [0u8; KDPC_SIZE];
    for (index, chunk) in bytes.chunks_exact_mut(8).enumerate() {
        let word = (address as u64 ^ 0xD9C0_5151_0000_0000).rotate_left(index as u32 * 8);
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    bytes
}

/// Whether the KDPC at `address` still holds its signature.
///
/// # Safety
/// `address` was given to `KeInitializeDpc` and is readable for KDPC_SIZE bytes: the driver's
/// contract while the DPC may be queued. A driver that freed it breaks that contract, and
/// this read is then what the kernel would do too (host heaps keep small freed blocks mapped).
unsafe fn intact(address: usize) -> bool {
    // SAFETY: the caller's contract.
    let now = unsafe { (address as *const [u8; KDPC_SIZE]).read_unaligned() };
    now == signature(address)
}

#[derive(Debug, Default)]
pub(super) struct DpcTable {
    initialized: BTreeMap<usize, (KDEFERRED_ROUTINE, usize)>,
    queue: VecDeque<(usize, usize, usize)>,
    running: usize,
}

impl DpcTable {
    pub(super) fn queued_count(&self) -> usize {
        self.queue.len()
    }
}

impl SimulatedStack {
    #[allow(non_snake_case)] // the semantics of KeInitializeDpc
    pub(super) fn KeInitializeDpc(
        &self,
        dpc: *mut KDPC,
        routine: KDEFERRED_ROUTINE,
        context: *mut c_void,
    ) {
        let mut state = self.lock();
        let address = dpc as usize;
        if state
            .dpcs
            .queue
            .iter()
            .any(|(queued, _, _)| *queued == address)
        {
            state
                .violations
                .push(Violation::DpcReinitializedWhileQueued(address));
        }
        state
            .dpcs
            .initialized
            .insert(address, (routine, context as usize));
        // SAFETY: the seam's contract: `dpc` points to writable KDPC storage (KDPC_SIZE bytes).
        unsafe { (address as *mut [u8; KDPC_SIZE]).write_unaligned(signature(address)) };
    }

    #[allow(non_snake_case)] // the semantics of KeInsertQueueDpc
    pub(super) fn KeInsertQueueDpc(
        &self,
        dpc: *mut KDPC,
        argument1: *mut c_void,
        argument2: *mut c_void,
    ) -> BOOLEAN {
        let mut state = self.lock();
        let address = dpc as usize;
        // Below DISPATCH_LEVEL the kernel runs a DPC queued on this processor as soon as
        // it lowers the IRQL again, so inside a classify it would run inside the classify.
        if state.in_classify() && state.irql_of_current_thread() < Irql::DISPATCH {
            state
                .violations
                .push(Violation::DpcWouldRunInsideClassify(address));
        }
        if !state.dpcs.initialized.contains_key(&address) {
            state
                .violations
                .push(Violation::NullPointer(KernelFn::KeInsertQueueDpc));
            return 0;
        }
        // SAFETY: initialized above (checked), so the driver keeps it valid while it may queue it.
        if !unsafe { intact(address) } {
            state
                .violations
                .push(Violation::DpcMemoryClobbered(address));
            return 0;
        }
        if state
            .dpcs
            .queue
            .iter()
            .any(|(queued, _, _)| *queued == address)
        {
            return 0;
        }
        state
            .dpcs
            .queue
            .push_back((address, argument1 as usize, argument2 as usize));
        1
    }

    #[allow(non_snake_case)] // the semantics of KeFlushQueuedDpcs
    pub(super) fn KeFlushQueuedDpcs(&self) {
        // The test runs DPCs on threads of its choosing: flushing waits for them.
        self.wait_until(KernelFn::KeFlushQueuedDpcs, |state| {
            state.dpcs.queue.is_empty() && state.dpcs.running == 0
        });
    }

    /// DPCs queued and not yet run.
    pub fn queued_dpcs(&self) -> usize {
        self.lock().dpcs.queue.len()
    }

    /// Runs the queued DPCs in order on the calling thread at DISPATCH_LEVEL, including any they
    /// queue. Returns how many ran.
    pub fn run_queued_dpcs(&self) -> usize {
        let mut ran = 0;
        loop {
            let mut state = self.lock();
            let Some((address, argument1, argument2)) = state.dpcs.queue.pop_front() else {
                return ran;
            };
            let (routine, context) = state.dpcs.initialized[&address];
            // SAFETY: a queued DPC's storage must stay valid until its routine has run.
            if !unsafe { intact(address) } {
                state
                    .violations
                    .push(Violation::DpcMemoryClobbered(address));
                drop(state);
                self.changed.notify_all();
                continue;
            }
            state.dpcs.running += 1;
            drop(state);
            self.at_irql(Irql::DISPATCH, || {
                // SAFETY: the DPC was initialized with this routine and context, and the driver's
                // contract keeps the KDPC valid until the routine has run.
                unsafe {
                    routine(
                        address as *mut KDPC,
                        context as *mut c_void,
                        argument1 as *mut c_void,
                        argument2 as *mut c_void,
                    )
                }
            });
            self.lock().dpcs.running -= 1;
            self.changed.notify_all();
            ran += 1;
        }
    }
}
