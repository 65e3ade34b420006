//! The control channel's requests, as the driver handles them (wfp-protocol has the codes and
//! layouts): [`decode`] checks a request's input and copies it out, [`execute`] carries it out
//! and writes the reply. The KMDF shell moves the bytes between the framework's request and
//! these; host tests call them directly.
//!
//! METHOD_BUFFERED gives input and output one system buffer, so a request is decoded in full
//! into a value of its own before the output is touched. Every rejection happens in `decode`
//! or before anything changes: a request is carried out whole or not at all.
//!
//! | status | when |
//! |---|---|
//! | STATUS_INVALID_DEVICE_REQUEST | a control code the protocol does not define |
//! | STATUS_BUFFER_TOO_SMALL | input shorter than the request's structure, or output shorter than the reply |
//! | STATUS_INVALID_PARAMETER | input longer than the structure, another version, a reserved field not zero, a field out of range |
//! | STATUS_RETRY | a set naming a generation the configuration has left (another change came first) |
//! | STATUS_DEVICE_BUSY | a configuration change could not take the load's token in time |
//! | STATUS_INVALID_DEVICE_STATE | the driver is unloading |
//! | a filter-engine status | the transaction replacing the filters failed (nothing changed) |
//! | a registry status | a set with CONFIG_PERSIST could not open `Parameters` or read or write `InspectRules` (nothing changed) |
//! | STATUS_INVALID_DEVICE_STATE | also: a set with CONFIG_PERSIST on a driver loaded without a registry path |

use wfp_protocol::{
    CONFIG_PERSIST, Config, CountersReply, HANDLE_IPV4, HANDLE_IPV6, IOCTL_CLEAR_CONFIG,
    IOCTL_GET_CONFIG, IOCTL_GET_COUNTERS, IOCTL_GET_STATUS, IOCTL_SET_CONFIG, Invalid,
    PROGRESS_INERT, PROGRESS_LOADED, PROGRESS_WAITING_FOR_BFE, PROGRESS_WAITING_FOR_TCPIP,
    ReplyHeader, RequestHeader, StatusReply, Wire,
};

use crate::driver::layers::CalloutLayer;
use crate::driver::load_error::LoadStep;
use crate::driver::rules::Rules;
use crate::driver::{Driver, Progress};
use crate::nt::NtStatus;
use crate::sys::KernelApi;
use crate::sys::types::{KMDF_VERSION_MAJOR, KMDF_VERSION_MINOR};

/// A decoded, checked request.
// One lives on the stack for one request (the rule set is about 800 bytes); boxing it would
// allocate per request for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// IOCTL_GET_STATUS.
    Status,
    /// IOCTL_GET_COUNTERS.
    Counters,
    /// IOCTL_GET_CONFIG.
    GetConfig,
    /// IOCTL_SET_CONFIG: the rules it sets, the generation it was based on (0: any), and whether
    /// to persist them (CONFIG_PERSIST).
    SetConfig(Rules, u32, bool),
    /// IOCTL_CLEAR_CONFIG.
    ClearConfig,
}

fn status_of(invalid: Invalid) -> NtStatus {
    match invalid {
        Invalid::TooShort => NtStatus::BUFFER_TOO_SMALL,
        Invalid::TooLong | Invalid::Version | Invalid::Reserved | Invalid::Range(_) => {
            NtStatus::INVALID_PARAMETER
        }
    }
}

/// Checks `input` for the control code `code` and copies it out.
///
/// Any IRQL (no kernel call).
pub fn decode(code: u32, input: &[u8]) -> Result<Request, NtStatus> {
    let header = |input: &[u8]| {
        RequestHeader::decode(input)
            .and_then(|header| header.check())
            .map_err(status_of)
    };
    match code {
        IOCTL_GET_STATUS => header(input).map(|()| Request::Status),
        IOCTL_GET_COUNTERS => header(input).map(|()| Request::Counters),
        IOCTL_GET_CONFIG => header(input).map(|()| Request::GetConfig),
        IOCTL_CLEAR_CONFIG => header(input).map(|()| Request::ClearConfig),
        IOCTL_SET_CONFIG => {
            let config = Config::decode(input).map_err(status_of)?;
            config.check().map_err(status_of)?;
            Ok(Request::SetConfig(
                Rules::from_config(&config),
                config.generation,
                config.flags & CONFIG_PERSIST != 0,
            ))
        }
        _ => Err(NtStatus::INVALID_DEVICE_REQUEST),
    }
}

/// Carries out `request` and writes its reply to `output`: the bytes written. A reply that
/// does not fit is STATUS_BUFFER_TOO_SMALL, checked before a change is made.
///
/// IRQL: PASSIVE_LEVEL.
pub fn execute<K: KernelApi>(
    driver: &Driver<K>,
    request: Request,
    output: &mut [u8],
) -> Result<usize, NtStatus> {
    match request {
        Request::Status => reply(&status(driver), output),
        Request::Counters => reply(&counters(driver), output),
        // The reply is a valid IOCTL_SET_CONFIG input as it stands (a tool changes it and
        // sends it back).
        Request::GetConfig => {
            let mut config = driver.rules().to_config();
            config.generation = driver.rules_generation();
            reply(&config, output)
        }
        Request::SetConfig(rules, expected, persist) => {
            driver.set_rules(&rules, expected, persist).map(|()| 0)
        }
        // Not persisted: a persisted clear is a set of no rules with CONFIG_PERSIST.
        Request::ClearConfig => driver.set_rules(&Rules::default(), 0, false).map(|()| 0),
    }
}

fn reply<T: Wire>(value: &T, output: &mut [u8]) -> Result<usize, NtStatus> {
    value.encode(output).ok_or(NtStatus::BUFFER_TOO_SMALL)
}

/// [`StatusReply::handles`] with both families' handles.
const BOTH_HANDLES: u32 = HANDLE_IPV4 | HANDLE_IPV6;

/// A decimal version component of this crate, at compile time.
const fn version_part(text: &str) -> u16 {
    let bytes = text.as_bytes();
    let mut value: u16 = 0;
    let mut at = 0;
    while at < bytes.len() {
        value = value * 10 + (bytes[at] - b'0') as u16;
        at += 1;
    }
    value
}

/// The number of a failed step in [`StatusReply::failed_step`] (wfp-protocol names them).
fn step_number(step: LoadStep) -> u32 {
    match step {
        LoadStep::InjectionHandles => 1,
        LoadStep::DriverState => 2,
        LoadStep::EngineOpen => 3,
        LoadStep::StaleObjects => 4,
        LoadStep::CalloutRegister(_) => 5,
        LoadStep::TransactionBegin => 6,
        LoadStep::ProviderAdd => 7,
        LoadStep::SubLayerAdd => 8,
        LoadStep::CalloutAdd(_) => 9,
        LoadStep::FilterAdd(_) => 10,
        LoadStep::TransactionCommit => 11,
        LoadStep::WorkItem => 12,
        LoadStep::BfeSubscribe => 13,
        LoadStep::PowerCallback => 14,
    }
}

fn status<K: KernelApi>(driver: &Driver<K>) -> StatusReply {
    let (progress, failed_step, failed_status) = match driver.progress() {
        Progress::WaitingForTcpip => (PROGRESS_WAITING_FOR_TCPIP, 0, 0),
        Progress::WaitingForBfe => (PROGRESS_WAITING_FOR_BFE, 0, 0),
        Progress::Loaded => (PROGRESS_LOADED, 0, 0),
        Progress::Inert(error) => (PROGRESS_INERT, step_number(error.step), error.status.0),
    };
    let injector = driver.injector();
    StatusReply {
        header: ReplyHeader::of::<StatusReply>(),
        driver_major: const { version_part(env!("CARGO_PKG_VERSION_MAJOR")) },
        driver_minor: const { version_part(env!("CARGO_PKG_VERSION_MINOR")) },
        driver_patch: const { version_part(env!("CARGO_PKG_VERSION_PATCH")) },
        reserved0: 0,
        kmdf_major: KMDF_VERSION_MAJOR,
        kmdf_minor: KMDF_VERSION_MINOR,
        progress,
        failed_step,
        failed_status,
        // The injector holds both families' handles, or does not exist yet.
        handles: if injector.is_some() { BOTH_HANDLES } else { 0 },
        contexts_in_use: injector.map_or(0, |injector| injector.in_flight()),
        contexts_capacity: injector.map_or(0, |injector| injector.capacity()),
        rules: driver.rules().active().len() as u32,
        reserved1: 0,
    }
}

fn counters<K: KernelApi>(driver: &Driver<K>) -> CountersReply {
    let (completed_ok, completed_failed) = driver.completions();
    CountersReply {
        header: ReplyHeader::of::<CountersReply>(),
        layers: CalloutLayer::ALL.map(|each| driver.counters(each)),
        completed_ok,
        completed_failed,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_parts_read_as_decimal_numbers() {
        assert_eq!(super::version_part("0"), 0);
        assert_eq!(super::version_part("7"), 7);
        assert_eq!(super::version_part("10"), 10);
        assert_eq!(super::version_part("123"), 123);
    }
}
