//! The wfpinjctl binary: the library's [`wfpinjctl::run`] over the real control device on
//! Windows; elsewhere there is no driver to reach, so every command says so.

use std::io::Write;

#[cfg(windows)]
fn open(write: bool) -> Result<wfpinjctl::windows::ControlDevice, wfpinjctl::device::Failure> {
    wfpinjctl::windows::ControlDevice::open(write)
}

/// No control device outside Windows.
#[cfg(not(windows))]
struct Absent;

#[cfg(not(windows))]
impl wfpinjctl::device::Device for Absent {
    fn control(
        &mut self,
        _code: u32,
        _input: &[u8],
        _output_length: usize,
    ) -> Result<Vec<u8>, wfpinjctl::device::Failure> {
        Err(wfpinjctl::device::Failure::NotLoaded)
    }
}

#[cfg(not(windows))]
fn open(_write: bool) -> Result<Absent, wfpinjctl::device::Failure> {
    Err(wfpinjctl::device::Failure::NotLoaded)
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let mut pause = |seconds: u32| {
        std::thread::sleep(std::time::Duration::from_secs(u64::from(seconds)));
        true
    };
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let status = wfpinjctl::run(
        &arguments,
        &mut open,
        &mut pause,
        &mut stdout.lock(),
        &mut stderr.lock(),
    );
    let _ = std::io::stdout().flush();
    std::process::exit(status);
}
