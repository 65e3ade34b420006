//! Logical processors in the simulated stack: how many are active, and which one each thread
//! runs on.
//!
//! A thread is placed on a processor the first time it asks (round robin over the active ones,
//! so parallel threads land on different processors), or where a test puts it
//! ([`SimulatedStack::run_on_processor`]). A test moves a thread between two calls to model what
//! Windows may do below DISPATCH_LEVEL; at or above DISPATCH_LEVEL the thread is not rescheduled,
//! so a move there is a test error and panics. Processors are numbered across groups of
//! [`GROUP_SIZE`], as the system-wide index is.

use std::cell::Cell;
use std::collections::HashMap;
use std::thread::{self, ThreadId};

use super::stack::SimulatedStack;
use crate::nt::Irql;
use crate::sys::types::PROCESSOR_NUMBER;

/// Processors the stack starts with: more than one, so that per-processor state is exercised by
/// every test that runs threads.
pub const DEFAULT_PROCESSORS: u32 = 4;

/// Logical processors in one group on 64-bit Windows (KeQueryMaximumProcessorCountEx's page).
pub const GROUP_SIZE: u32 = 64;

/// `ALL_PROCESSOR_GROUPS`, the simulator's own copy.
pub const ALL_PROCESSOR_GROUPS: u16 = 0xFFFF;

/// The stack's processors and the threads' places on them.
#[derive(Debug)]
pub(super) struct Processors {
    active: u32,
    placed: HashMap<ThreadId, u32>,
    next: u32,
}

impl Default for Processors {
    fn default() -> Self {
        Self {
            active: DEFAULT_PROCESSORS,
            placed: HashMap::new(),
            next: 0,
        }
    }
}

impl Processors {
    /// The calling thread's processor, placing it on first use.
    pub(super) fn current(&mut self) -> u32 {
        let active = self.active;
        let next = &mut self.next;
        *self
            .placed
            .entry(thread::current().id())
            .or_insert_with(|| {
                let index = *next % active;
                *next = next.wrapping_add(1);
                index
            })
    }
}

thread_local! {
    /// The stack whose callout's classify runs on this thread (the innermost one), for the seam's
    /// `current_processor_index`, which classify calls before it holds a kernel value.
    static CLASSIFYING: Cell<*const SimulatedStack> = const { Cell::new(std::ptr::null()) };
}

/// Makes `stack` the one classifying on this thread until dropped, then the previous one again.
pub(super) struct Classifying {
    previous: *const SimulatedStack,
}

impl Classifying {
    pub(super) fn on(stack: &SimulatedStack) -> Self {
        Self {
            previous: CLASSIFYING.replace(std::ptr::from_ref(stack)),
        }
    }
}

impl Drop for Classifying {
    fn drop(&mut self) {
        CLASSIFYING.set(self.previous);
    }
}

/// `KeGetCurrentProcessorNumberEx(NULL)` on the stack classifying on this thread, through the
/// prologue (counted, as the image's import is); 0 when no simulated classify runs on it (a test
/// that calls the classify function itself).
pub(crate) fn current_processor_of_classify() -> u32 {
    let stack = CLASSIFYING.get();
    if stack.is_null() {
        return 0;
    }
    // SAFETY: set by `Classifying::on` from a stack borrowed for the whole classify, which is
    // still running (the guard restores the previous value when it returns).
    let stack = unsafe { &*stack };
    // SAFETY: any IRQL; a null PROCESSOR_NUMBER pointer asks for the index alone.
    unsafe {
        crate::sys::KernelApi::ke_get_current_processor_number_ex(&stack, std::ptr::null_mut())
    }
}

/// Puts the thread back where it was when dropped.
#[must_use = "the thread returns to its previous processor when the guard drops"]
pub struct ProcessorGuard<'a> {
    stack: &'a SimulatedStack,
    thread: ThreadId,
    previous: Option<u32>,
}

impl Drop for ProcessorGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.stack.lock();
        match self.previous {
            Some(previous) => state.processors.placed.insert(self.thread, previous),
            None => state.processors.placed.remove(&self.thread),
        };
    }
}

impl SimulatedStack {
    /// Sets the number of active processors (at least one). Threads already placed beyond the
    /// new count keep their index (a test that shrinks the count places them again).
    pub fn set_processor_count(&self, count: u32) {
        assert!(count > 0, "a system has at least one processor");
        self.lock().processors.active = count;
    }

    /// Active processors now.
    pub fn processor_count(&self) -> u32 {
        self.lock().processors.active
    }

    /// Moves the calling thread to processor `index` until the guard drops: a test's way to model
    /// the scheduler moving a thread that runs below DISPATCH_LEVEL.
    ///
    /// Panics for an index beyond the active processors, or when the thread runs at or above
    /// DISPATCH_LEVEL (Windows does not reschedule it there).
    pub fn run_on_processor(&self, index: u32) -> ProcessorGuard<'_> {
        let thread = thread::current().id();
        let mut state = self.lock();
        assert!(
            index < state.processors.active,
            "processor {index} is not active ({} are)",
            state.processors.active
        );
        let irql = state.irql_of_current_thread();
        assert!(
            irql < Irql::DISPATCH,
            "a thread at {irql} is not moved between processors"
        );
        let previous = state.processors.placed.insert(thread, index);
        ProcessorGuard {
            stack: self,
            thread,
            previous,
        }
    }
}

/// The semantics of the processor functions.
#[allow(non_snake_case)]
impl SimulatedStack {
    pub(crate) fn KeQueryActiveProcessorCountEx(&self, group: u16) -> u32 {
        let active = self.lock().processors.active;
        if group == ALL_PROCESSOR_GROUPS {
            return active;
        }
        // The processors of one group: full groups first, the rest in the last one.
        let first = u32::from(group) * GROUP_SIZE;
        active.saturating_sub(first).min(GROUP_SIZE)
    }

    pub(crate) unsafe fn KeGetCurrentProcessorNumberEx(
        &self,
        number: *mut PROCESSOR_NUMBER,
    ) -> u32 {
        let mut state = self.lock();
        let index = state.processors.current();
        if !number.is_null() {
            // SAFETY: the seam's contract makes a non-null `number` writable for one
            // PROCESSOR_NUMBER (written unaligned: the simulator does not rely on the caller's
            // alignment).
            unsafe {
                number.write_unaligned(PROCESSOR_NUMBER {
                    Group: (index / GROUP_SIZE) as u16,
                    Number: (index % GROUP_SIZE) as u8,
                    Reserved: 0,
                })
            };
        }
        index
    }
}
