//! What to inject where: one request type per injection function, with the parameters the
//! kernel needs. Everything the kernel reads after the call returns is copied into the
//! per-injection context, so a request can be built on the stack.

use crate::family::IpFamily;
use crate::state::InjectionContext;
use crate::sys::types::{COMPARTMENT_ID, IF_INDEX};
use crate::types::InjectionTypes;

/// `UNSPECIFIED_COMPARTMENT_ID`: what the Inject*Async0 pages say to pass when the classify's
/// metadata carries no compartment (the stack then uses the default compartment).
pub const UNSPECIFIED_COMPARTMENT: COMPARTMENT_ID = 0;
/// Control data a per-injection context holds itself. Ancillary data is a few WSACMSGHDRs of 16
/// bytes each plus their 8-aligned payloads: IPV6_PKTINFO's (20 bytes) takes 40, with one or two
/// integer options 64 to 88. Sized so that a context stays at 160 bytes.
pub const INLINE_CONTROL_DATA: usize = 88;
/// The most control data a transport send may carry. Longer than [`INLINE_CONTROL_DATA`], it is
/// copied into a buffer from a small pool of this size ([`Pools::large_control_data`](crate::Pools));
/// longer than this, the injection is refused before the kernel is called.
pub const CONTROL_DATA_CAPACITY: usize = 1024;

/// An IP protocol number (IPPROTO_*). Integer newtype: any value from the stack is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct IpProtocol(pub u8);

impl IpProtocol {
    /// IPPROTO_ICMP.
    pub const ICMP: Self = Self(1);
    /// IPPROTO_TCP: transport injection of TCP is deferred to a DPC, as the docs require.
    pub const TCP: Self = Self(6);
    /// IPPROTO_UDP.
    pub const UDP: Self = Self(17);
    /// IPPROTO_ICMPV6.
    pub const ICMPV6: Self = Self(58);
}

/// A remote address in network byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RemoteAddress {
    /// IPv4.
    V4([u8; 4]),
    /// IPv6, with its scope id (non-zero for link-local and site-local addresses).
    V6([u8; 16], u32),
}

impl RemoteAddress {
    /// The address's family.
    #[inline(always)]
    pub const fn family(&self) -> IpFamily {
        match self {
            Self::V4(_) => IpFamily::V4,
            Self::V6(..) => IpFamily::V6,
        }
    }
}

/// `FwpsInjectTransportSendAsync0`: outbound transport-layer data (no IP header).
#[derive(Debug, Clone, Copy)]
pub struct TransportSend<'a> {
    /// The endpoint, from the classify's `transportEndpointHandle` metadata.
    pub endpoint_handle: u64,
    /// Where the packet goes; its family picks the handle.
    pub remote_address: RemoteAddress,
    /// Ancillary data from the classify's metadata; copied, at most
    /// [`CONTROL_DATA_CAPACITY`] bytes.
    pub control_data: &'a [u8],
    /// The compartment, from metadata.
    pub compartment: COMPARTMENT_ID,
    /// The transport protocol: TCP is deferred to a DPC.
    pub protocol: IpProtocol,
}

/// `FwpsInjectTransportReceiveAsync0`: inbound data whose NBL starts at the IP header.
#[derive(Debug, Clone, Copy)]
pub struct TransportReceive {
    /// The packet's family.
    pub family: IpFamily,
    /// The compartment, from metadata.
    pub compartment: COMPARTMENT_ID,
    /// Arrival interface, from metadata.
    pub interface_index: IF_INDEX,
    /// Arrival sub-interface, from metadata.
    pub sub_interface_index: IF_INDEX,
    /// The transport protocol: TCP is deferred to a DPC.
    pub protocol: IpProtocol,
}

/// `FwpsInjectNetworkSendAsync0`: an outbound IP packet (NBL starts at the IP header).
#[derive(Debug, Clone, Copy)]
pub struct NetworkSend {
    /// The packet's family: network injection needs that family's handle.
    pub family: IpFamily,
    /// The compartment.
    pub compartment: COMPARTMENT_ID,
}

/// `FwpsInjectNetworkReceiveAsync0`: an inbound IP packet (NBL starts at the IP header).
#[derive(Debug, Clone, Copy)]
pub struct NetworkReceive {
    /// The packet's family: network injection needs that family's handle.
    pub family: IpFamily,
    /// The compartment.
    pub compartment: COMPARTMENT_ID,
    /// Arrival interface.
    pub interface_index: IF_INDEX,
    /// Arrival sub-interface.
    pub sub_interface_index: IF_INDEX,
}

/// `FwpsInjectForwardAsync0`: a packet to forward out of an interface (not reclassified).
#[derive(Debug, Clone, Copy)]
pub struct Forward {
    /// The packet's family.
    pub family: IpFamily,
    /// The compartment.
    pub compartment: COMPARTMENT_ID,
    /// Interface to send on.
    pub interface_index: IF_INDEX,
}

/// `FwpsStreamInjectAsync0`: data into a TCP stream. There is no injection-state query for
/// stream data.
#[derive(Debug, Clone, Copy)]
pub struct StreamInject {
    /// The flow's family (picks the handle).
    pub family: IpFamily,
    /// The flow, from `FWPS_METADATA_FIELD_FLOW_HANDLE`.
    pub flow_id: u64,
    /// The callout's run-time id, from registration.
    pub callout_id: u32,
    /// FWPS_LAYER_STREAM_V4 or FWPS_LAYER_STREAM_V6, from the classify.
    pub layer_id: u16,
    /// FWPS_STREAM_FLAG_* (send or receive, and the modifiers).
    pub stream_flags: u32,
    /// Bytes of the NBL chain to inject.
    pub data_length: usize,
}

/// One injection: which function, with what parameters.
#[derive(Debug, Clone, Copy)]
pub enum Injection<'a> {
    /// `FwpsInjectTransportSendAsync0`.
    TransportSend(TransportSend<'a>),
    /// `FwpsInjectTransportReceiveAsync0`.
    TransportReceive(TransportReceive),
    /// `FwpsInjectNetworkSendAsync0`.
    NetworkSend(NetworkSend),
    /// `FwpsInjectNetworkReceiveAsync0`.
    NetworkReceive(NetworkReceive),
    /// `FwpsInjectForwardAsync0`.
    Forward(Forward),
    /// `FwpsStreamInjectAsync0`.
    Stream(StreamInject),
}

/// Which injection function a completion belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InjectionPath {
    /// Transport send.
    TransportSend,
    /// Transport receive.
    TransportReceive,
    /// Network send.
    NetworkSend,
    /// Network receive.
    NetworkReceive,
    /// Forward.
    Forward,
    /// Stream.
    Stream,
}

impl Injection<'_> {
    /// The family whose handle carries the injection.
    #[inline(always)]
    pub const fn family(&self) -> IpFamily {
        match self {
            Self::TransportSend(send) => send.remote_address.family(),
            Self::TransportReceive(receive) => receive.family,
            Self::NetworkSend(send) => send.family,
            Self::NetworkReceive(receive) => receive.family,
            Self::Forward(forward) => forward.family,
            Self::Stream(stream) => stream.family,
        }
    }

    /// The path.
    #[inline(always)]
    pub const fn path(&self) -> InjectionPath {
        match self {
            Self::TransportSend(_) => InjectionPath::TransportSend,
            Self::TransportReceive(_) => InjectionPath::TransportReceive,
            Self::NetworkSend(_) => InjectionPath::NetworkSend,
            Self::NetworkReceive(_) => InjectionPath::NetworkReceive,
            Self::Forward(_) => InjectionPath::Forward,
            Self::Stream(_) => InjectionPath::Stream,
        }
    }

    /// The request without its control data (kept elsewhere), so it can outlive the caller's.
    #[inline(always)]
    pub(crate) const fn without_control_data(&self) -> Injection<'static> {
        match *self {
            Self::TransportSend(send) => Injection::TransportSend(TransportSend {
                endpoint_handle: send.endpoint_handle,
                remote_address: send.remote_address,
                control_data: &[],
                compartment: send.compartment,
                protocol: send.protocol,
            }),
            Self::TransportReceive(receive) => Injection::TransportReceive(receive),
            Self::NetworkSend(send) => Injection::NetworkSend(send),
            Self::NetworkReceive(receive) => Injection::NetworkReceive(receive),
            Self::Forward(forward) => Injection::Forward(forward),
            Self::Stream(stream) => Injection::Stream(stream),
        }
    }

    /// True when the docs require the call to be made from a DPC (TCP transport injection).
    #[inline(always)]
    pub const fn must_defer(&self) -> bool {
        match self {
            Self::TransportSend(send) => send.protocol.0 == IpProtocol::TCP.0,
            Self::TransportReceive(receive) => receive.protocol.0 == IpProtocol::TCP.0,
            _ => false,
        }
    }
}

impl InjectionPath {
    /// The injection type the handle needs.
    #[inline(always)]
    pub const fn required_type(self) -> InjectionTypes {
        match self {
            Self::TransportSend | Self::TransportReceive => InjectionTypes::TRANSPORT,
            Self::NetworkSend | Self::NetworkReceive => InjectionTypes::NETWORK,
            Self::Forward => InjectionTypes::FORWARD,
            Self::Stream => InjectionTypes::STREAM,
        }
    }
}

/// Per-injection caller data: the WFP injection context (returned by a query when the packet
/// comes back) and a cookie handed to the completion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tag {
    /// Passed to the kernel as `injectionContext`.
    pub injection_context: InjectionContext,
    /// Returned in [`Completion::cookie`](crate::Completion::cookie).
    pub cookie: usize,
}
