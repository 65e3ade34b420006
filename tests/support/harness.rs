//! One driver image on one simulated stack, with the objects the I/O manager would provide:
//! what the tests that run the shipped image share.

use wfp_injector::nt::NtStatus;
use wfp_injector::sys::types::{DRIVER_OBJECT, UNICODE_STRING};
use wfp_sim::{SERVICE_KEY_PATH, SimulatedStack};

use super::loader::MappedImage;
use super::shims;

/// One image on one simulated stack, with the objects the I/O manager would provide.
pub struct Harness<'a> {
    pub image: MappedImage,
    pub driver: Box<DRIVER_OBJECT>,
    _path_buffer: Vec<u16>,
    path: UNICODE_STRING,
    _bound: shims::Bound<'a>,
}

impl<'a> Harness<'a> {
    pub fn new(sim: &'a SimulatedStack) -> Option<Self> {
        let bytes = super::image_bytes()?;
        let bound = shims::bind(sim);
        let image = MappedImage::map(&bytes, shims::resolve).expect("map the image");
        // SAFETY: DRIVER_OBJECT is plain data; zero is how the I/O manager hands fields over.
        let driver = Box::new(unsafe { std::mem::zeroed::<DRIVER_OBJECT>() });
        let mut path_buffer: Vec<u16> = SERVICE_KEY_PATH.encode_utf16().collect();
        let length = (path_buffer.len() * 2) as u16;
        let path = UNICODE_STRING {
            Length: length,
            MaximumLength: length,
            Buffer: path_buffer.as_mut_ptr(),
        };
        Some(Self {
            image,
            driver,
            _path_buffer: path_buffer,
            path,
            _bound: bound,
        })
    }

    /// [`Harness::new`], then DriverEntry, which must succeed.
    pub fn loaded(sim: &'a SimulatedStack) -> Option<Self> {
        let mut harness = Self::new(sim)?;
        assert_eq!(harness.driver_entry(), NtStatus::SUCCESS);
        Some(harness)
    }

    /// Keeps the image mapped and its driver object alive for the rest of the process (WFP may
    /// still call into a driver whose callouts never unregistered), but releases the shims so
    /// other tests can bind their stacks.
    pub fn abandon(self) {
        let Self {
            image,
            driver,
            _path_buffer,
            path: _,
            _bound,
        } = self;
        std::mem::forget(image);
        std::mem::forget(driver);
        std::mem::forget(_path_buffer);
        drop(_bound);
    }

    pub fn driver_entry(&mut self) -> NtStatus {
        // SAFETY: the image is the driver; its imports are bound to `self.sim`.
        NtStatus(unsafe { self.image.driver_entry(&mut *self.driver, &self.path) })
    }

    pub fn driver_unload(&mut self) {
        self.unload_call().run();
    }

    /// The unload routine and its driver object, to call from another thread.
    pub fn unload_call(&mut self) -> UnloadCall {
        UnloadCall {
            routine: self
                .driver
                .DriverUnload
                .expect("DriverEntry installed DriverUnload"),
            driver: &raw mut *self.driver,
        }
    }
}

/// DriverUnload and its argument, movable to the thread that plays the I/O manager.
pub struct UnloadCall {
    routine: wfp_injector::sys::types::DRIVER_UNLOAD,
    driver: *mut DRIVER_OBJECT,
}

// SAFETY: the driver object outlives the call (the test joins the thread before dropping it).
unsafe impl Send for UnloadCall {}

impl UnloadCall {
    pub fn run(self) {
        // SAFETY: the routine the image stored, called once with its driver object.
        unsafe { (self.routine)(self.driver) };
    }
}

/// The value after `label ` in one of the counters lines the image logs at unload ("<layer>:
/// classified N, reinjected N, ..."): the image shows its counters nowhere else.
pub fn logged_count(line: &str, label: &str) -> u64 {
    let key = format!(" {label} ");
    let start = line
        .find(&key)
        .unwrap_or_else(|| panic!("no `{label}` in {line:?}"))
        + key.len();
    line[start..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("no number after `{label}` in {line:?}"))
}
