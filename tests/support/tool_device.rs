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
