//! The control device on Windows: `CreateFileW` on `\\.\WfpInjector` (read access, and write
//! access for changes: the driver's change requests need FILE_WRITE_ACCESS) and
//! `DeviceIoControl`.

use windows_sys::Win32::Foundation::{
    CloseHandle, GENERIC_READ, GENERIC_WRITE, GetLastError, HANDLE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_SHARE_READ, FILE_SHARE_WRITE, OPEN_EXISTING,
};
use windows_sys::Win32::System::IO::DeviceIoControl;

use crate::device::{Device, Failure, win32};

/// An open handle to the driver's control device.
pub struct ControlDevice(HANDLE);

impl ControlDevice {
    /// Opens the device, for writing too when `write`.
    pub fn open(write: bool) -> Result<Self, Failure> {
        let path: Vec<u16> = wfp_protocol::DEVICE_PATH
            .encode_utf16()
            .chain(Some(0))
            .collect();
        let access = if write {
            GENERIC_READ | GENERIC_WRITE
        } else {
            GENERIC_READ
        };
        // SAFETY: `path` is NUL-terminated UTF-16 and outlives the call; no security
        // attributes or template.
        let handle = unsafe {
            CreateFileW(
                path.as_ptr(),
                access,
                FILE_SHARE_READ | FILE_SHARE_WRITE,
                core::ptr::null(),
                OPEN_EXISTING,
                0,
                core::ptr::null_mut(),
            )
        };
        if handle == INVALID_HANDLE_VALUE {
            // SAFETY: no precondition.
            let error = unsafe { GetLastError() };
            return Err(match error {
                win32::FILE_NOT_FOUND | win32::PATH_NOT_FOUND => Failure::NotLoaded,
                win32::ACCESS_DENIED => Failure::AccessDenied,
                other => Failure::Win32(other),
            });
        }
        Ok(Self(handle))
    }
}

impl Device for ControlDevice {
    fn control(
        &mut self,
        code: u32,
        input: &[u8],
        output_length: usize,
    ) -> Result<Vec<u8>, Failure> {
        let mut output = vec![0u8; output_length];
        let mut returned = 0u32;
        let input_length =
            u32::try_from(input.len()).map_err(|_| Failure::Win32(win32::INVALID_PARAMETER))?;
        let output_size =
            u32::try_from(output.len()).map_err(|_| Failure::Win32(win32::INVALID_PARAMETER))?;
        // SAFETY: the handle is open; the buffers are valid for their lengths; synchronous
        // (no OVERLAPPED).
        let done = unsafe {
            DeviceIoControl(
                self.0,
                code,
                input.as_ptr().cast(),
                input_length,
                output.as_mut_ptr().cast(),
                output_size,
                &mut returned,
                core::ptr::null_mut(),
            )
        };
        if done == 0 {
            // SAFETY: no precondition.
            return Err(Failure::Win32(unsafe { GetLastError() }));
        }
        output.truncate(returned as usize);
        Ok(output)
    }
}

impl Drop for ControlDevice {
    fn drop(&mut self) {
        // SAFETY: the handle was opened by `open` and is closed once.
        unsafe { CloseHandle(self.0) };
    }
}
