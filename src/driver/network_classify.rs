//! Classify at the IP packet (network) layers, FWPM_LAYER_{INBOUND,OUTBOUND}_IPPACKET_V4/V6:
//! permit our own and unchangeable packets untouched; clone, absorb and reinject configured
//! traffic with the network injection functions on the path it came from; permit everything
//! else. The rules, each with its source, are rows of facts/kernel-facts.md and of the classify
//! table in docs/callout-driver.md:
//!
//! - These layers carry no protocol or port field (FWPS_FIELDS_*_IPPACKET_V4/V6), so the
//!   configuration's protocol and port are read from the packet's own headers.
//! - Inbound, the NET_BUFFER's data starts at the transport header (past the IP header, "Data
//!   offset positions"); FwpsInjectNetworkReceiveAsync0 needs an NBL that begins with the IP
//!   header, so the clone is taken after a retreat by `ipHeaderSize` (the metadata's), and the
//!   original is advanced back. Outbound the data starts at the IP header already and
//!   FwpsInjectNetworkSendAsync0 takes the clone as it is.
//! - Receive injection gets the arrival interface and sub-interface from the incoming values
//!   and the compartment from the metadata (UNSPECIFIED_COMPARTMENT_ID when absent).
//! - Network injection needs an AF-specific handle: the dual-stack injector's handle of the
//!   layer's family, the same one the injection-state query uses.
//! - IPsec: these layers see AH/ESP packets before decryption (inbound) and after encryption
//!   (outbound), and Microsoft calls them incompatible with IPsec: such packets pass untouched.
//! - Fragments: the layers see them before reassembly, without the transport header the
//!   configuration matches on: they pass untouched.

use crate::driver::classify::{CalloutState, Outcome, compartment, first_buffer, has, value_of};
use crate::driver::config::{PacketKey, carries_ports};
use crate::driver::counters::LayerCounters;
use crate::driver::layers::{Direction, NetworkFieldIndices, NetworkLayer};
use crate::inject::Injection;
use crate::inject::{IpFamily, NetBufferListRef, NetworkReceive, NetworkSend, RemoteAddress, Tag};
use crate::nt::NtStatus;
use crate::sys::KernelApi;
use crate::sys::types::{
    FWP_ACTION_BLOCK, FWP_BYTE_ARRAY16_TYPE, FWP_CONDITION_FLAG_IS_FRAGMENT,
    FWP_CONDITION_FLAG_IS_FRAGMENT_GROUP, FWP_CONDITION_FLAG_IS_LOOPBACK,
    FWP_CONDITION_FLAG_IS_REASSEMBLED, FWP_UINT32, FWPS_CLASSIFY_OUT_FLAG_ABSORB,
    FWPS_CLASSIFY_OUT0, FWPS_INCOMING_METADATA_VALUES0, FWPS_INCOMING_VALUES0,
    FWPS_METADATA_FIELD_IP_HEADER_SIZE, FWPS_RIGHT_ACTION_WRITE, NET_BUFFER,
};

/// IPPROTO_AH: an IPsec authentication header.
const IPPROTO_AH: u8 = 51;
/// IPPROTO_ESP: an IPsec encapsulating security payload.
const IPPROTO_ESP: u8 = 50;
/// IPv6 Next Header values of the extension headers walked to the upper-layer protocol
/// (RFC 8200 4): Hop-by-Hop Options, Routing, Destination Options; and Fragment.
const IPV6_HOP_BY_HOP: u8 = 0;
const IPV6_ROUTING: u8 = 43;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_DESTINATION_OPTIONS: u8 = 60;
/// Bytes copied when a packet's headers are not contiguous: the longest IPv4 header (60) and
/// the four bytes of ports after it. A longer (IPv6) header chain is read only in place.
const COPY_BYTES: usize = 64;

/// The values classify reads from an IP packet layer's incoming values.
struct NetworkFields {
    /// Network order; an IPv6 scope id is not among the values.
    remote_address: RemoteAddress,
    interface_index: u32,
    sub_interface_index: u32,
    flags: u32,
}

impl NetworkFields {
    /// Reads the fields, checking each value's type; `None` when any is missing or mistyped.
    #[inline(always)]
    fn read(values: &FWPS_INCOMING_VALUES0, layer: NetworkLayer) -> Option<Self> {
        Self::read_at(values, layer.family(), layer.fields())
    }

    #[inline(always)]
    fn read_at(
        values: &FWPS_INCOMING_VALUES0,
        family: IpFamily,
        field: &NetworkFieldIndices,
    ) -> Option<Self> {
        let required = NetworkFieldIndices::required_count(field);
        if values.valueCount < required || values.incomingValue.is_null() {
            return None;
        }
        // SAFETY: WFP passes `valueCount` readable values for the classify's duration; only the
        // first `required` (checked above) are read.
        let values =
            unsafe { core::slice::from_raw_parts(values.incomingValue, required as usize) };
        let remote = values.get(field.ip_remote_address)?;
        let remote_address = match family {
            IpFamily::V4 => {
                // Host-order integer: to_be_bytes gives network order.
                RemoteAddress::V4((value_of(remote, FWP_UINT32)? as u32).to_be_bytes())
            }
            IpFamily::V6 => {
                let pointer = value_of(remote, FWP_BYTE_ARRAY16_TYPE)? as *const [u8; 16];
                if pointer.is_null() {
                    return None;
                }
                // SAFETY: a FWP_BYTE_ARRAY16_TYPE value points to 16 bytes valid for the
                // classify's duration.
                RemoteAddress::V6(unsafe { pointer.read_unaligned() }, 0)
            }
        };
        let integer = |index: usize| value_of(values.get(index)?, FWP_UINT32).map(|v| v as u32);
        Some(Self {
            remote_address,
            interface_index: integer(field.interface_index)?,
            sub_interface_index: integer(field.sub_interface_index)?,
            flags: integer(field.flags)?,
        })
    }
}

/// What the packet's own headers say.
struct PacketHeaders {
    /// The upper-layer protocol (IPv6: after the extension headers).
    protocol: u8,
    /// The remote port for TCP and UDP (0 for others, whose criterion never asks for one).
    remote_port: u16,
    /// A fragment (IPv4 MF or offset; an IPv6 Fragment header).
    fragment: bool,
    /// The local address (the source of an outbound packet, the destination of an inbound
    /// one), network order, IPv4 in the first 4 bytes.
    local_address: [u8; 16],
}

/// Parses the IP header of `family` at the start of `bytes`, which holds at least its
/// `ip_header` bytes and, when there are, the four after it. `None`: not such a header, or its
/// length disagrees with the metadata's.
fn parse_headers(
    bytes: &[u8],
    family: IpFamily,
    ip_header: usize,
    direction: Direction,
) -> Option<PacketHeaders> {
    let first = *bytes.first()?;
    let (protocol, fragment) = match (family, first >> 4) {
        (IpFamily::V4, 4) => {
            if usize::from(first & 0x0F) * 4 != ip_header || ip_header < 20 {
                return None;
            }
            // Flags and fragment offset (bytes 6-7): MF set or a non-zero offset.
            let flags_offset = u16::from_be_bytes([*bytes.get(6)?, *bytes.get(7)?]);
            (*bytes.get(9)?, flags_offset & 0x3FFF != 0)
        }
        (IpFamily::V6, 6) => {
            let mut next = *bytes.get(6)?;
            let mut at = 40usize;
            let mut fragment = false;
            // The metadata's header size spans the extension headers: walk them to it.
            while at < ip_header {
                match next {
                    IPV6_HOP_BY_HOP | IPV6_ROUTING | IPV6_DESTINATION_OPTIONS => {
                        let length = (usize::from(*bytes.get(at + 1)?) + 1) * 8;
                        next = *bytes.get(at)?;
                        at += length;
                    }
                    IPV6_FRAGMENT => {
                        fragment = true;
                        next = *bytes.get(at)?;
                        at += 8;
                    }
                    _ => return None,
                }
            }
            if at != ip_header {
                return None;
            }
            (next, fragment || next == IPV6_FRAGMENT)
        }
        _ => return None,
    };
    let remote_port = if carries_ports(protocol) && !fragment {
        // Source port first, destination port second; the remote one is the source of an
        // inbound packet and the destination of an outbound one.
        let at = match direction {
            Direction::Inbound => ip_header,
            Direction::Outbound => ip_header + 2,
        };
        u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?])
    } else {
        0
    };
    // Source then destination address: IPv4 at bytes 12 and 16, IPv6 at 8 and 24.
    let (source, width) = match family {
        IpFamily::V4 => (12usize, 4usize),
        IpFamily::V6 => (8, 16),
    };
    let at = match direction {
        Direction::Outbound => source,
        Direction::Inbound => source + width,
    };
    let mut local_address = [0u8; 16];
    local_address
        .get_mut(..width)?
        .copy_from_slice(bytes.get(at..at + width)?);
    Some(PacketHeaders {
        protocol,
        remote_port,
        fragment,
        local_address,
    })
}

impl<K: KernelApi> CalloutState<K> {
    /// Decides one packet at an IP packet layer, after classify's own-packet check (out of line,
    /// as at the transport layers): the packet's headers and the configuration, then the rules
    /// in cost order.
    ///
    /// IRQL <= DISPATCH_LEVEL. Never fails: every refusal ends in permit.
    #[inline(never)]
    pub(crate) fn classify_network_not_own(
        &self,
        layer: NetworkLayer,
        counters: &LayerCounters,
        values: &FWPS_INCOMING_VALUES0,
        metadata: &FWPS_INCOMING_METADATA_VALUES0,
        nbl: NetBufferListRef<'_>,
        out: &mut FWPS_CLASSIFY_OUT0,
    ) {
        let decision = match NetworkFields::read(values, layer) {
            Some(fields) => self.decide_network(layer, nbl, &fields, metadata),
            None => Err(Outcome::Malformed),
        };
        let checksum_recomputed = match decision {
            Ok(checksum_recomputed) => checksum_recomputed,
            Err(outcome) => {
                self.permit_untouched(layer.into(), counters, outcome, out);
                return;
            }
        };
        out.actionType = FWP_ACTION_BLOCK;
        out.flags |= FWPS_CLASSIFY_OUT_FLAG_ABSORB;
        out.rights &= !FWPS_RIGHT_ACTION_WRITE;
        if checksum_recomputed {
            LayerCounters::bump(&counters.checksum_recomputed);
        }
        LayerCounters::bump(&counters.reinjected);
    }

    /// The buffer at the IP header for the decision: inbound retreated over the IP header
    /// (undone before returning, so the stack gets the original back as it came).
    fn decide_network(
        &self,
        layer: NetworkLayer,
        nbl: NetBufferListRef<'_>,
        fields: &NetworkFields,
        metadata: &FWPS_INCOMING_METADATA_VALUES0,
    ) -> Result<bool, Outcome> {
        if !self.config.inspects(layer.family()) {
            return Err(Outcome::NotInspected);
        }
        if !has(metadata, FWPS_METADATA_FIELD_IP_HEADER_SIZE) || metadata.ipHeaderSize == 0 {
            return Err(Outcome::Malformed);
        }
        let ip_header = metadata.ipHeaderSize;
        let buffer = first_buffer(nbl);
        if buffer.is_null() {
            return Err(Outcome::Malformed);
        }
        // SAFETY: the NBL's first NET_BUFFER is valid during classify.
        if !unsafe { (*buffer).Next }.is_null() {
            // Only the first NET_BUFFER's headers would be read (and, inbound, retreated).
            return Err(Outcome::MultiBuffer);
        }
        let inbound = layer.direction() == Direction::Inbound;
        if !inbound {
            return self.decide_at_ip_header(layer, nbl, buffer, fields, metadata, ip_header);
        }
        // SAFETY: as above.
        if unsafe { (*buffer).DataOffset } < ip_header {
            // The IP header is not in the buffer before the data: NDIS would allocate.
            return Err(Outcome::NoHeadroom);
        }
        // SAFETY: IRQL <= DISPATCH_LEVEL; the NET_BUFFER is the classify's; the retreat stays
        // within the buffer (DataOffset checked above), so NDIS allocates nothing.
        let status = unsafe {
            self.kernel.ndis_retreat_net_buffer_data_start(
                buffer,
                ip_header,
                0,
                core::ptr::null_mut(),
            )
        };
        if !NtStatus(status).is_success() {
            return Err(Outcome::Malformed);
        }
        let result = self.decide_at_ip_header(layer, nbl, buffer, fields, metadata, ip_header);
        // SAFETY: undoes the successful retreat above on the same buffer.
        unsafe {
            self.kernel.ndis_advance_net_buffer_data_start(
                buffer,
                ip_header,
                0,
                core::ptr::null_mut(),
            )
        };
        result
    }

    /// With the buffer at the IP header: the headers and the configuration, then the rules,
    /// then (inbound IPv4) a valid header checksum, and the clone's network injection.
    fn decide_at_ip_header(
        &self,
        layer: NetworkLayer,
        nbl: NetBufferListRef<'_>,
        buffer: *mut NET_BUFFER,
        fields: &NetworkFields,
        metadata: &FWPS_INCOMING_METADATA_VALUES0,
        ip_header: u32,
    ) -> Result<bool, Outcome> {
        let headers = self.read_headers(buffer, layer, ip_header)?;
        let key = PacketKey {
            protocol: headers.protocol,
            remote_address: fields.remote_address,
            remote_port: headers.remote_port,
            local_address: headers.local_address,
            direction: layer.direction(),
            network: true,
        };
        // A fragment's ports are unknown: it is matched on what it has, and a port criterion
        // selects TCP and UDP with ports, which a fragment never shows.
        if !self.config.matches(&key) {
            return Err(Outcome::NotInspected);
        }
        if fields.flags & FWP_CONDITION_FLAG_IS_LOOPBACK != 0 {
            return Err(Outcome::Loopback);
        }
        if headers.protocol == IPPROTO_ESP || headers.protocol == IPPROTO_AH {
            return Err(Outcome::Ipsec);
        }
        let fragments = FWP_CONDITION_FLAG_IS_FRAGMENT | FWP_CONDITION_FLAG_IS_FRAGMENT_GROUP;
        if headers.fragment || fields.flags & fragments != 0 {
            return Err(Outcome::Fragment);
        }
        if self.power().suspended() {
            return Err(Outcome::Suspended);
        }
        let family = layer.family();
        let compartment = compartment(metadata);
        if layer.direction() == Direction::Outbound {
            let injection = Injection::NetworkSend(NetworkSend {
                family,
                compartment,
            });
            return self
                .injector
                .clone_and_inject(nbl, injection, Tag::default())
                .map(|()| false)
                .map_err(Outcome::Failed);
        }
        // The transport layers see a header the stack has validated, so an invalid checksum
        // there comes from offload and is repaired; here the header is as it arrived, and only
        // a header the stack rebuilt (a reassembled packet) is repaired (facts row
        // FWP_CONDITION_FLAG_IS_REASSEMBLED).
        let repair = fields.flags & FWP_CONDITION_FLAG_IS_REASSEMBLED != 0;
        let rewritten = self.prepare_ip_header(buffer, family, ip_header, repair)?;
        let injection = Injection::NetworkReceive(NetworkReceive {
            family,
            compartment,
            interface_index: fields.interface_index,
            sub_interface_index: fields.sub_interface_index,
        });
        self.inject_received(nbl, injection, rewritten)
    }

    /// The IP header (and the four bytes after it, when the packet has them) through
    /// NdisGetDataBuffer: in place when contiguous, else through a copy of at most
    /// [`COPY_BYTES`]; parsed.
    fn read_headers(
        &self,
        buffer: *mut NET_BUFFER,
        layer: NetworkLayer,
        ip_header: u32,
    ) -> Result<PacketHeaders, Outcome> {
        // SAFETY: the NET_BUFFER is valid during classify.
        let length = unsafe { (*buffer).data_length() };
        if length < ip_header {
            return Err(Outcome::Malformed);
        }
        let wanted = length.min(ip_header.saturating_add(4));
        // Uninitialized: NdisGetDataBuffer writes every byte it hands back through it.
        let mut copy = [core::mem::MaybeUninit::<u8>::uninit(); COPY_BYTES];
        let storage = if wanted as usize <= copy.len() {
            copy.as_mut_ptr().cast()
        } else {
            core::ptr::null_mut()
        };
        // SAFETY: IRQL <= DISPATCH_LEVEL; the NET_BUFFER is valid during classify; `storage` is
        // null or has room for `wanted` bytes. A null answer (not contiguous and no copy, or a
        // low-resource condition) permits the packet untouched, counted as malformed.
        let start = unsafe {
            self.kernel
                .ndis_get_data_buffer(buffer, wanted, storage, 1, 0)
        };
        if start.is_null() {
            return Err(Outcome::Malformed);
        }
        // SAFETY: NdisGetDataBuffer returned `wanted` readable bytes of the packet (in place, or
        // copied into `copy`, which initializes them), not written by anything during this call.
        let bytes = unsafe { core::slice::from_raw_parts(start.cast::<u8>(), wanted as usize) };
        parse_headers(bytes, layer.family(), ip_header as usize, layer.direction())
            .ok_or(Outcome::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::{Direction, IpFamily, parse_headers};

    #[test]
    fn the_ipv6_walk_reaches_the_protocol_past_extension_headers_and_sees_fragments() {
        let mut packet = [0u8; 40 + 8 + 8 + 4];
        packet[0] = 0x60;
        packet[6] = 0; // Hop-by-Hop
        packet[40] = 44; // then Fragment
        packet[41] = 0; // 8 bytes
        packet[48] = 17; // then UDP
        packet[56..58].copy_from_slice(&5353u16.to_be_bytes());
        let parsed = parse_headers(&packet, IpFamily::V6, 56, Direction::Inbound).unwrap();
        assert_eq!(parsed.protocol, 17);
        assert!(parsed.fragment);
        // A header size the chain does not end at is refused.
        assert!(parse_headers(&packet, IpFamily::V6, 52, Direction::Inbound).is_none());
    }

    #[test]
    fn ipv4_ports_by_direction_and_fragments() {
        let mut packet = [0u8; 24];
        packet[0] = 0x45;
        packet[9] = 6;
        packet[20..22].copy_from_slice(&1000u16.to_be_bytes());
        packet[22..24].copy_from_slice(&2000u16.to_be_bytes());
        let inbound = parse_headers(&packet, IpFamily::V4, 20, Direction::Inbound).unwrap();
        assert_eq!((inbound.protocol, inbound.remote_port), (6, 1000));
        let outbound = parse_headers(&packet, IpFamily::V4, 20, Direction::Outbound).unwrap();
        assert_eq!(outbound.remote_port, 2000);
        packet[6] = 0x20; // MF
        assert!(
            parse_headers(&packet, IpFamily::V4, 20, Direction::Inbound)
                .unwrap()
                .fragment
        );
        assert!(parse_headers(&packet, IpFamily::V6, 20, Direction::Inbound).is_none());
    }
}
