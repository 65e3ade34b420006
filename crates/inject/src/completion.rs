//! What happens when an injection completes: a typed handler that receives the packet back.

use core::marker::PhantomData;

use crate::nbl::OwnedNetBufferList;
use crate::nt::NtStatus;
use crate::request::InjectionPath;
use crate::sys::KernelApi;

/// A finished injection, handed to the [`CompletionHandler`].
#[derive(Debug)]
pub struct Completion<P> {
    /// The packet, owned again by the driver: dropping it releases it.
    pub packet: P,
    /// The NBL's completion status (or the kernel's refusal of a deferred call).
    pub status: NtStatus,
    /// Which injection function carried it.
    pub path: InjectionPath,
    /// The caller's cookie from the request's [`Tag`](crate::Tag).
    pub cookie: usize,
    /// The completion runs at DISPATCH_LEVEL (WFP's `dispatchLevel` BOOLEAN).
    pub at_dispatch: bool,
    /// The processor the completion runs on (`KeGetCurrentProcessorNumberEx`, which the injector
    /// asked to give the context back to that processor's cache): for a handler's own
    /// per-processor state, without asking again. Below DISPATCH_LEVEL a hint.
    pub processor: u32,
}

/// Receives every finished injection of a [`PacketInjector`](crate::PacketInjector),
/// exactly once per accepted injection.
///
/// Called at IRQL <= DISPATCH_LEVEL, on any processor, concurrently: it must not block, and it
/// owns the packet it is given.
pub trait CompletionHandler<K: KernelApi>: Sync {
    /// The packets this injector carries.
    type Packet: OwnedNetBufferList<K>;

    /// One injection finished.
    fn completed(&self, completion: Completion<Self::Packet>);
}

/// A handler that only releases each packet (dropping a clone frees it).
pub struct FreeOnCompletion<P>(PhantomData<fn(P)>);

impl<P> FreeOnCompletion<P> {
    /// The handler.
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<P> Default for FreeOnCompletion<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: KernelApi, P: OwnedNetBufferList<K>> CompletionHandler<K> for FreeOnCompletion<P> {
    type Packet = P;

    #[inline(always)]
    fn completed(&self, completion: Completion<P>) {
        drop(completion.packet);
    }
}
