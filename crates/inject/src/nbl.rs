//! Who owns a `NET_BUFFER_LIST`: borrowed (classify's packets) or owned (clones), in types.

use core::marker::PhantomData;
use core::ptr::{self, NonNull};

use crate::error::{Error, InputError, KernelFn};
use crate::nt::{Irql, NtStatus};
use crate::sys::KernelApi;
use crate::sys::types::NET_BUFFER_LIST;

/// A borrowed NBL: one the stack owns and lent to this call (a classify's layer data). It can be
/// queried and cloned, never freed or injected.
#[derive(Debug, Clone, Copy)]
pub struct NetBufferListRef<'a> {
    raw: NonNull<NET_BUFFER_LIST>,
    _lent: PhantomData<&'a NET_BUFFER_LIST>,
}

impl NetBufferListRef<'_> {
    /// Borrows `raw`; `None` for null.
    ///
    /// # Safety
    /// A non-null `raw` is a valid NBL that stays valid, and is not freed, for the borrow's
    /// lifetime.
    #[inline(always)]
    pub unsafe fn from_raw(raw: *mut NET_BUFFER_LIST) -> Option<Self> {
        NonNull::new(raw).map(|raw| Self {
            raw,
            _lent: PhantomData,
        })
    }

    /// The raw pointer, for kernel calls.
    #[inline(always)]
    pub fn as_raw(self) -> *mut NET_BUFFER_LIST {
        self.raw.as_ptr()
    }
}

/// An NBL this driver owns and can hand to an injection: ownership goes to WFP while the
/// injection is pending and comes back in the completion (or in the error of a refused call).
///
/// # Safety
/// `into_raw` gives up a valid, owned NBL; `from_raw` of that pointer with the same kernel takes
/// ownership back exactly once; dropping the value releases the NBL the right way for its kind.
pub unsafe trait OwnedNetBufferList<K>: Sized {
    /// The raw pointer, still owned by `self`.
    fn as_raw(&self) -> *mut NET_BUFFER_LIST;

    /// Gives up ownership.
    fn into_raw(self) -> *mut NET_BUFFER_LIST;

    /// Takes ownership back.
    ///
    /// # Safety
    /// `raw` came from [`into_raw`](Self::into_raw) of this type, created with `kernel`, and is
    /// not owned by anything else.
    unsafe fn from_raw(kernel: &K, raw: *mut NET_BUFFER_LIST) -> Self;
}

/// A clone from `FwpsAllocateCloneNetBufferList0`, freed exactly once with
/// `FwpsFreeCloneNetBufferList0` when dropped.
///
/// IRQL: created and dropped at IRQL <= DISPATCH_LEVEL. The original must outlive the clone:
/// classify guarantees this for an absorbed original, which the stack completes only after its
/// clones are freed.
pub struct ClonedNetBufferList<K: KernelApi> {
    raw: NonNull<NET_BUFFER_LIST>,
    kernel: K,
}

// SAFETY: an NBL may be passed between processors; the clone is owned by this value alone.
unsafe impl<K: KernelApi + Send> Send for ClonedNetBufferList<K> {}

impl<K: KernelApi> ClonedNetBufferList<K> {
    /// Clones `original` (WFP's default pools, no flags).
    pub fn clone_of(kernel: K, original: NetBufferListRef<'_>) -> Result<Self, Error> {
        if cfg!(debug_assertions) {
            Error::check_irql(&kernel, Irql::DISPATCH)?;
        }
        let mut clone: *mut NET_BUFFER_LIST = ptr::null_mut();
        // SAFETY: IRQL <= DISPATCH_LEVEL (the documented contract, checked in debug builds);
        // `original` is a valid NBL for the borrow; `clone` is writable.
        let status = unsafe {
            kernel.fwps_allocate_clone_net_buffer_list0(
                original.as_raw(),
                ptr::null_mut(),
                ptr::null_mut(),
                0,
                &mut clone,
            )
        };
        NtStatus(status)
            .ok()
            .map_err(|status| Error::kernel(KernelFn::FwpsAllocateCloneNetBufferList0, status))?;
        let raw = NonNull::new(clone).ok_or(Error::InvalidInput(InputError::NullNetBufferList))?;
        Ok(Self { raw, kernel })
    }

    /// The kernel the clone was made with (and is freed through).
    #[inline(always)]
    pub fn kernel(&self) -> &K {
        &self.kernel
    }

    /// Borrows the clone (to query or inspect it).
    #[inline(always)]
    pub fn as_ref(&self) -> NetBufferListRef<'_> {
        NetBufferListRef {
            raw: self.raw,
            _lent: PhantomData,
        }
    }
}

// SAFETY: into_raw forgets the value without freeing; from_raw rebuilds it with the same kernel;
// Drop frees with FwpsFreeCloneNetBufferList0, the documented release of a clone.
unsafe impl<K: KernelApi> OwnedNetBufferList<K> for ClonedNetBufferList<K> {
    #[inline(always)]
    fn as_raw(&self) -> *mut NET_BUFFER_LIST {
        self.raw.as_ptr()
    }

    #[inline(always)]
    fn into_raw(self) -> *mut NET_BUFFER_LIST {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again: the kernel value is moved out once.
        drop(unsafe { ptr::read(&this.kernel) });
        this.raw.as_ptr()
    }

    #[inline(always)]
    unsafe fn from_raw(kernel: &K, raw: *mut NET_BUFFER_LIST) -> Self {
        Self {
            // SAFETY: the caller passes a pointer from into_raw, which is never null.
            raw: unsafe { NonNull::new_unchecked(raw) },
            kernel: kernel.clone(),
        }
    }
}

impl<K: KernelApi> Drop for ClonedNetBufferList<K> {
    fn drop(&mut self) {
        // SAFETY: the clone is owned by this value (not pending in WFP: an injection holds it as
        // a raw pointer), freed once here; IRQL <= DISPATCH_LEVEL is the type's contract.
        unsafe {
            self.kernel
                .fwps_free_clone_net_buffer_list0(self.raw.as_ptr(), 0)
        };
    }
}

impl<K: KernelApi> core::fmt::Debug for ClonedNetBufferList<K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("ClonedNetBufferList")
            .field(&self.raw)
            .finish()
    }
}
