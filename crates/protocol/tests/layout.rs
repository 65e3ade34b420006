//! The protocol's structures: every byte a field (the wire size is the `#[repr(C)]` size, so a
//! C or another Rust declaration of the same fields has the same layout), encode and decode
//! inverse, the control codes' fields where "Defining I/O Control Codes" puts them, and the rule
//! checks.

use wfp_protocol::*;

#[test]
fn wire_sizes_are_the_repr_c_sizes() {
    assert_eq!(RequestHeader::SIZE, size_of::<RequestHeader>());
    assert_eq!(ReplyHeader::SIZE, size_of::<ReplyHeader>());
    assert_eq!(StatusReply::SIZE, size_of::<StatusReply>());
    assert_eq!(LayerCounters::SIZE, size_of::<LayerCounters>());
    assert_eq!(CountersReply::SIZE, size_of::<CountersReply>());
    assert_eq!(Rule::SIZE, size_of::<Rule>());
    assert_eq!(Config::SIZE, size_of::<Config>());
    assert_eq!(
        (RequestHeader::SIZE, StatusReply::SIZE, Rule::SIZE),
        (8, 56, 48)
    );
    assert_eq!(Config::SIZE, 24 + 16 * 48);
    assert_eq!(CountersReply::SIZE, 8 + 8 * 18 * 8 + 16);
}

#[test]
fn control_codes_carry_type_access_function_and_method() {
    for (code, function, access) in [
        (IOCTL_GET_STATUS, 0x800, FILE_READ_ACCESS),
        (IOCTL_GET_COUNTERS, 0x801, FILE_READ_ACCESS),
        (IOCTL_GET_CONFIG, 0x802, FILE_READ_ACCESS),
        (IOCTL_SET_CONFIG, 0x803, FILE_WRITE_ACCESS),
        (IOCTL_CLEAR_CONFIG, 0x804, FILE_WRITE_ACCESS),
    ] {
        assert_eq!(code >> 16, DEVICE_TYPE);
        assert!(code >> 31 == 1, "the common bit: a vendor device type");
        assert_eq!((code >> 14) & 3, access);
        assert_eq!((code >> 2) & 0xFFF, function);
        assert_ne!(code & (1 << 13), 0, "the custom bit: a vendor function");
        assert_eq!(code & 3, METHOD_BUFFERED);
    }
}

#[test]
fn encode_and_decode_are_inverse_and_lengths_are_exact() {
    let mut config = Config::empty();
    config.flags = CONFIG_VERBOSE;
    config.rule_count = 1;
    config.rules[0] = Rule {
        family: FAMILY_IPV6,
        directions: DIRECTION_INBOUND,
        fields: FIELD_REMOTE_PORT | FIELD_PROTOCOL,
        protocol: PROTOCOL_UDP,
        remote_prefix: 16,
        local_prefix: 0,
        remote_port: 53,
        remote_address: [0x20, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        local_address: [0; 16],
        layers: LAYER_TRANSPORT | LAYER_IP_PACKET,
        reserved: [0; 7],
    };
    let mut bytes = vec![0u8; Config::SIZE];
    assert_eq!(config.encode(&mut bytes), Some(Config::SIZE));
    assert_eq!(Config::decode(&bytes), Ok(config));
    assert_eq!(config.check(), Ok(()));
    assert_eq!(
        &bytes[..8],
        &[2, 0, 0, 0, 0, 0, 0, 0],
        "version 2, little-endian"
    );
    config.generation = 0x0102_0304;
    config.encode(&mut bytes);
    assert_eq!(
        &bytes[16..24],
        &[4, 3, 2, 1, 0, 0, 0, 0],
        "generation, reserved"
    );
    assert_eq!(Config::decode(&bytes), Ok(config));
    config.reserved = 1;
    config.encode(&mut bytes);
    assert_eq!(
        Config::decode(&bytes).map(|c| c.check()),
        Ok(Err(Invalid::Reserved))
    );
    config.reserved = 0;
    assert_eq!(Config::decode(&bytes[1..]), Err(Invalid::TooShort));
    bytes.push(0);
    assert_eq!(Config::decode(&bytes), Err(Invalid::TooLong));
    assert_eq!(config.encode(&mut [0u8; 10]), None);
}

#[test]
fn rules_are_checked_field_by_field() {
    let good = Rule {
        family: FAMILY_IPV4,
        directions: DIRECTION_OUTBOUND,
        remote_prefix: 8,
        remote_address: [10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        layers: LAYER_TRANSPORT,
        ..Rule::default()
    };
    assert_eq!(good.check(), Ok(()));
    let bad = |edit: fn(&mut Rule)| {
        let mut rule = good;
        edit(&mut rule);
        rule.check()
    };
    assert!(matches!(
        bad(|r| r.remote_address[1] = 1),
        Err(Invalid::Range(_))
    ));
    assert!(matches!(
        bad(|r| r.remote_prefix = 33),
        Err(Invalid::Range(_))
    ));
    assert!(matches!(bad(|r| r.family = 0), Err(Invalid::Range(_))));
    assert_eq!(bad(|r| r.reserved[6] = 1), Err(Invalid::Reserved));
    assert!(matches!(bad(|r| r.layers = 0), Err(Invalid::Range(_))));
    assert!(matches!(bad(|r| r.layers = 4), Err(Invalid::Range(_))));
    assert_eq!(bad(|r| r.protocol = 6), Err(Invalid::Reserved));
    assert!(matches!(
        bad(|r| {
            r.fields = FIELD_LOCAL_ADDRESS;
            r.local_prefix = 32;
            r.local_address = [192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        }),
        Ok(())
    ));
    let mut any = good;
    any.remote_prefix = 0;
    any.remote_address = [0; 16];
    assert_eq!(any.check(), Ok(()), "prefix 0: any remote address");
}
