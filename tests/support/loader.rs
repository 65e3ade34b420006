//! A test-only loader for the driver image: maps its sections, applies its base relocations,
//! binds every import to a host function by module and name, and calls its entry point and the
//! unload routine it stores in the DRIVER_OBJECT. The image's machine code runs natively.

use std::ffi::c_void;

use wfp_injector::sys::types::{DRIVER_OBJECT, NTSTATUS, UNICODE_STRING};

const IMAGE_REL_BASED_ABSOLUTE: u16 = 0;
const IMAGE_REL_BASED_DIR64: u16 = 10;
const IMAGE_DIRECTORY_ENTRY_IMPORT: usize = 1;
const IMAGE_DIRECTORY_ENTRY_BASERELOC: usize = 5;

/// A mapped, relocated, bound image. Unmapped on drop.
pub struct MappedImage {
    base: *mut u8,
    size: usize,
    entry: usize,
}

fn read_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

impl MappedImage {
    /// Maps `file` and binds its imports with `resolve(module, name)`. Fails naming the first
    /// import `resolve` does not know.
    pub fn map(file: &[u8], resolve: impl Fn(&str, &str) -> Option<usize>) -> Result<Self, String> {
        let pe_offset = read_u32(file, 0x3C) as usize;
        if &file[pe_offset..pe_offset + 4] != b"PE\0\0" {
            return Err("no PE signature".into());
        }
        let coff = pe_offset + 4;
        let sections = read_u16(file, coff + 2) as usize;
        let optional_size = read_u16(file, coff + 16) as usize;
        let optional = coff + 20;
        if read_u16(file, optional) != 0x20B {
            return Err("not PE32+".into());
        }
        let entry_rva = read_u32(file, optional + 16) as usize;
        let image_base = read_u64(file, optional + 24);
        let size_of_image = read_u32(file, optional + 56) as usize;
        let size_of_headers = read_u32(file, optional + 60) as usize;
        let directories = optional + 112;
        let directory = |index: usize| {
            (
                read_u32(file, directories + index * 8) as usize,
                read_u32(file, directories + index * 8 + 4) as usize,
            )
        };
        // SAFETY: an anonymous private mapping; checked for failure below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size_of_image,
                libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err("mmap failed".into());
        }
        let image = Self {
            base: base.cast(),
            size: size_of_image,
            entry: base as usize + entry_rva,
        };
        // SAFETY: the mapping is size_of_image writable bytes, owned by `image`.
        let memory = unsafe { std::slice::from_raw_parts_mut(image.base, size_of_image) };
        memory[..size_of_headers].copy_from_slice(&file[..size_of_headers]);
        let table = optional + optional_size;
        for index in 0..sections {
            let header = table + index * 40;
            let virtual_size = read_u32(file, header + 8) as usize;
            let virtual_address = read_u32(file, header + 12) as usize;
            let raw_size = read_u32(file, header + 16) as usize;
            let raw_pointer = read_u32(file, header + 20) as usize;
            let length = raw_size.min(virtual_size.max(raw_size));
            if length > 0 {
                memory[virtual_address..virtual_address + length]
                    .copy_from_slice(&file[raw_pointer..raw_pointer + length]);
            }
        }
        // Base relocations: the image runs wherever mmap put it.
        let delta = (image.base as u64).wrapping_sub(image_base);
        let (relocations, relocations_size) = directory(IMAGE_DIRECTORY_ENTRY_BASERELOC);
        let mut block = relocations;
        while block < relocations + relocations_size {
            let page = read_u32(memory, block) as usize;
            let block_size = read_u32(memory, block + 4) as usize;
            if block_size < 8 {
                return Err(format!("bad relocation block at {block:#x}"));
            }
            for entry in (block + 8..block + block_size).step_by(2) {
                let value = read_u16(memory, entry);
                let (kind, offset) = (value >> 12, (value & 0xFFF) as usize);
                match kind {
                    IMAGE_REL_BASED_ABSOLUTE => {}
                    IMAGE_REL_BASED_DIR64 => {
                        let at = page + offset;
                        let relocated = read_u64(memory, at).wrapping_add(delta);
                        memory[at..at + 8].copy_from_slice(&relocated.to_le_bytes());
                    }
                    other => return Err(format!("relocation type {other} not supported")),
                }
            }
            block += block_size;
        }
        // Imports: every one must have a host function.
        let (imports, _) = directory(IMAGE_DIRECTORY_ENTRY_IMPORT);
        let mut descriptor = imports;
        loop {
            let lookup = read_u32(memory, descriptor) as usize;
            let name = read_u32(memory, descriptor + 12) as usize;
            let address_table = read_u32(memory, descriptor + 16) as usize;
            if name == 0 {
                break;
            }
            let module = c_string(memory, name);
            let mut slot = 0;
            loop {
                let thunk = read_u64(
                    memory,
                    if lookup != 0 { lookup } else { address_table } + slot * 8,
                );
                if thunk == 0 {
                    break;
                }
                if thunk & (1 << 63) != 0 {
                    return Err(format!(
                        "{module}: import by ordinal {} not supported",
                        thunk & 0xFFFF
                    ));
                }
                let function = c_string(memory, thunk as usize + 2);
                let address = resolve(&module, &function).ok_or_else(|| {
                    format!("no host implementation for import {module}!{function}")
                })?;
                let at = address_table + slot * 8;
                memory[at..at + 8].copy_from_slice(&(address as u64).to_le_bytes());
                slot += 1;
            }
            descriptor += 20;
        }
        Ok(image)
    }

    /// Calls the entry point (DriverEntry) as the I/O manager would.
    ///
    /// # Safety
    /// The image is a driver whose entry has the DRIVER_INITIALIZE signature; its imports are
    /// bound to a live simulated stack.
    pub unsafe fn driver_entry(
        &self,
        driver: *mut DRIVER_OBJECT,
        registry_path: *const UNICODE_STRING,
    ) -> NTSTATUS {
        type DriverInitialize =
            unsafe extern "win64" fn(*mut DRIVER_OBJECT, *const UNICODE_STRING) -> NTSTATUS;
        // SAFETY: the entry point is the image's DriverEntry (checked by the PE test).
        let entry: DriverInitialize =
            unsafe { std::mem::transmute::<usize, DriverInitialize>(self.entry) };
        // SAFETY: the caller's contract.
        unsafe { entry(driver, registry_path) }
    }

    /// Where the image is mapped (its first byte, the PE image base's place).
    pub fn base(&self) -> usize {
        self.base as usize
    }

    /// The image's size in memory.
    pub fn size(&self) -> usize {
        self.size
    }
}

fn c_string(memory: &[u8], at: usize) -> String {
    let end = memory[at..]
        .iter()
        .position(|&b| b == 0)
        .map_or(memory.len(), |n| at + n);
    String::from_utf8_lossy(&memory[at..end]).into_owned()
}

impl Drop for MappedImage {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `map` with this size and is unmapped once.
        unsafe { libc::munmap(self.base.cast::<c_void>(), self.size) };
    }
}
