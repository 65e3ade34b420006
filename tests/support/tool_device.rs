//! wfpinjctl's device over the simulated I/O manager: each request goes through
//! `SimulatedStack::device_io_control_as` to whatever driver (host-built behind its KMDF shell,
//! or the shipped image) created `\\.\WfpInjector`, with the caller's rights.

#![allow(dead_code)]

use wfp_sim::SimulatedStack;
use wfp_sim::kmdf_io::{Access, Caller};
use wfpinjctl::device::{Device, Failure};

pub struct SimDevice<'a> {
    pub sim: &'a SimulatedStack,
    pub caller: Caller,
    pub access: Access,
}

impl Device for SimDevice<'_> {
    fn control(
        &mut self,
        code: u32,
        input: &[u8],
        output_length: usize,
    ) -> Result<Vec<u8>, Failure> {
        let reply = self.sim.device_io_control_as(
            wfp_protocol::DEVICE_PATH,
            self.caller,
            self.access,
            code,
            input,
            output_length,
        );
        if reply.status.is_success() {
            Ok(reply.output)
        } else {
            Err(Failure::Status(reply.status.0 as u32))
        }
    }
}

/// Runs wfpinjctl's command line `line` (split on spaces) as `caller` against `sim`: (exit
/// status, stdout, stderr). `counters --watch` stops after `rounds` rounds.
pub fn wfpinjctl(
    sim: &SimulatedStack,
    caller: Caller,
    line: &str,
    rounds: u32,
) -> (i32, String, String) {
    let arguments: Vec<String> = line.split_whitespace().map(String::from).collect();
    let mut open = |write: bool| {
        Ok(SimDevice {
            sim,
            caller,
            access: if write {
                Access::READ_WRITE
            } else {
                Access::READ
            },
        })
    };
    let mut left = rounds;
    let mut pause = |_seconds: u32| {
        left = left.saturating_sub(1);
        left > 0
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = wfpinjctl::run(&arguments, &mut open, &mut pause, &mut out, &mut err);
    (
        status,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

/// A device whose sets first go to `before_set`: `Err` refuses the set with that failure, `Ok`
/// lets it through to the driver (after whatever the hook did, such as another administrator's
/// change). Its reads go to the driver.
pub struct BeforeSet<'a, F: FnMut(&SimulatedStack) -> Result<(), Failure>> {
    pub inner: SimDevice<'a>,
    pub before_set: F,
}

impl<F: FnMut(&SimulatedStack) -> Result<(), Failure>> Device for BeforeSet<'_, F> {
    fn control(
        &mut self,
        code: u32,
        input: &[u8],
        output_length: usize,
    ) -> Result<Vec<u8>, Failure> {
        if code == wfp_protocol::IOCTL_SET_CONFIG {
            (self.before_set)(self.inner.sim)?;
        }
        self.inner.control(code, input, output_length)
    }
}

/// Runs `line` as an administrator through a [`BeforeSet`] device with `before_set`: (exit
/// status, stderr).
pub fn wfpinjctl_before_set(
    sim: &SimulatedStack,
    line: &str,
    before_set: impl FnMut(&SimulatedStack) -> Result<(), Failure>,
) -> (i32, String) {
    let arguments: Vec<String> = line.split_whitespace().map(String::from).collect();
    let mut device = Some(BeforeSet {
        inner: SimDevice {
            sim,
            caller: Caller::Administrator,
            access: Access::READ_WRITE,
        },
        before_set,
    });
    let mut open = |_write: bool| device.take().ok_or(Failure::NotLoaded);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = wfpinjctl::run(&arguments, &mut open, &mut |_| false, &mut out, &mut err);
    (status, String::from_utf8(err).unwrap())
}
