// What the WDK build compares with bindgen's view of the WDK headers (wdk-compare): the seam's
// imported functions, the layouts of its structures and the values of its constants, under
// their header names. Not a module of the crate: `include!`d by build.rs on the WDK build (with
// `types` = crates/seam/src/sys/types, compiled into the build script for the x64 Windows host) and by
// wdk-compare/tests/seam_items.rs on Linux (with `types` = wfp_injector::sys::types), so the list
// itself is compiled and run here. Values that live outside crates/seam/src/sys/types (status codes, field
// indices, layer ids and keys) are compared at compile time in src/driver/wdk_check.rs instead.
//
// Fields are listed by their C names (members of anonymous structs and unions included);
// fields the seam names differently (its own union wrappers) are compared through size only.

/// The seam as wdk-compare sees it; `windows_rs` is the text of crates/seam/src/sys/windows.rs.
fn seam_items(windows_rs: &str) -> Result<wdk_compare::Seam, wdk_compare::ParseError> {
    use wdk_compare::Extent::{Prefix, Whole};
    use wdk_compare::{SeamLayout, layout_of};

    let item = |name: &str, extent, layout| SeamLayout { name: name.to_owned(), extent, layout };
    let layouts = vec![
        // Structures the crate reads a prefix of and never allocates.
        item(
            "NET_BUFFER_LIST",
            Prefix,
            layout_of!(types::NET_BUFFER_LIST {
                Next, FirstNetBuffer, Context, ParentNetBufferList, NdisPoolHandle, NdisReserved,
                ProtocolReserved, MiniportReserved, Scratch, SourceHandle, NblFlags,
                ChildRefCount, Flags, Status,
            }),
        ),
        item(
            "NET_BUFFER",
            Prefix,
            layout_of!(types::NET_BUFFER {
                Next, CurrentMdl, CurrentMdlOffset, DataLength, MdlChain, DataOffset,
            }),
        ),
        item(
            "FWPS_INCOMING_METADATA_VALUES0",
            Prefix,
            layout_of!(types::FWPS_INCOMING_METADATA_VALUES0 {
                currentMetadataValues, flags, reserved, discardMetadata, flowHandle,
                ipHeaderSize, transportHeaderSize, processPath, token, processId,
                sourceInterfaceIndex, destinationInterfaceIndex, compartmentId,
                fragmentMetadata, pathMtu, completionHandle, transportEndpointHandle,
                remoteScopeId, controlData, controlDataLength, packetDirection,
                headerIncludeHeader, headerIncludeHeaderLength,
            }),
        ),
        item(
            "FWPS_FILTER1",
            Prefix,
            layout_of!(types::FWPS_FILTER1 {
                filterId, weight, subLayerWeight, flags, numFilterConditions, filterCondition,
                action, context, providerContext,
            }),
        ),
        item(
            "FWPS_INCOMING_VALUES0",
            Prefix,
            layout_of!(types::FWPS_INCOMING_VALUES0 { layerId, valueCount, incomingValue }),
        ),
        item(
            "KEY_VALUE_PARTIAL_INFORMATION",
            Prefix,
            layout_of!(types::KEY_VALUE_PARTIAL_INFORMATION { TitleIndex, Type, DataLength }),
        ),
        // Structures the crate fills in or allocates: the whole of them.
        item(
            "FWPS_CLASSIFY_OUT0",
            Whole,
            layout_of!(types::FWPS_CLASSIFY_OUT0 {
                actionType, outContext, filterId, rights, flags, reserved,
            }),
        ),
        item(
            "FWPS_CALLOUT1",
            Whole,
            layout_of!(types::FWPS_CALLOUT1 { calloutKey, flags, classifyFn, notifyFn, flowDeleteFn }),
        ),
        item(
            "FWPS_TRANSPORT_SEND_PARAMS0",
            Whole,
            layout_of!(types::FWPS_TRANSPORT_SEND_PARAMS0 {
                remoteAddress, remoteScopeId, controlData, controlDataLength,
            }),
        ),
        item(
            "FWPM_SESSION0",
            Whole,
            layout_of!(types::FWPM_SESSION0 {
                sessionKey, displayData, flags, txnWaitTimeoutInMSec, processId, sid, username,
                kernelMode,
            }),
        ),
        item(
            "FWPM_PROVIDER0",
            Whole,
            layout_of!(types::FWPM_PROVIDER0 {
                providerKey, displayData, flags, providerData, serviceName,
            }),
        ),
        item(
            "FWPM_SUBLAYER0",
            Whole,
            layout_of!(types::FWPM_SUBLAYER0 {
                subLayerKey, displayData, flags, providerKey, providerData, weight,
            }),
        ),
        item(
            "FWPM_CALLOUT0",
            Whole,
            layout_of!(types::FWPM_CALLOUT0 {
                calloutKey, displayData, flags, providerKey, providerData, applicableLayer,
                calloutId,
            }),
        ),
        item(
            "FWPM_FILTER0",
            Whole,
            layout_of!(types::FWPM_FILTER0 {
                filterKey, displayData, flags, providerKey, providerData, layerKey, subLayerKey,
                weight, numFilterConditions, filterCondition, action, rawContext, reserved,
                filterId, effectiveWeight,
            }),
        ),
        item(
            "FWPM_FILTER_CONDITION0",
            Whole,
            layout_of!(types::FWPM_FILTER_CONDITION0 { fieldKey, matchType, conditionValue }),
        ),
        item("FWP_VALUE0", Whole, layout_of!(types::FWP_VALUE0 {})),
        item(
            "OBJECT_ATTRIBUTES",
            Whole,
            layout_of!(types::OBJECT_ATTRIBUTES {
                Length, RootDirectory, ObjectName, Attributes, SecurityDescriptor,
                SecurityQualityOfService,
            }),
        ),
        item(
            "DRIVER_OBJECT",
            Whole,
            layout_of!(types::DRIVER_OBJECT {
                Type, Size, DeviceObject, Flags, DriverStart, DriverSize, DriverSection,
                DriverExtension, DriverName, HardwareDatabase, FastIoDispatch, DriverInit,
                DriverStartIo, DriverUnload, MajorFunction,
            }),
        ),
        item("UNICODE_STRING", Whole, layout_of!(types::UNICODE_STRING { Length, MaximumLength, Buffer })),
        item("KDPC", Whole, layout_of!(types::KDPC {})),
        item("EX_RUNDOWN_REF", Whole, layout_of!(types::EX_RUNDOWN_REF { Count })),
    ];
    let constants = [
        ("FWPS_METADATA_FIELD_IP_HEADER_SIZE", i128::from(types::FWPS_METADATA_FIELD_IP_HEADER_SIZE)),
        ("FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE", i128::from(types::FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE)),
        ("FWPS_METADATA_FIELD_COMPARTMENT_ID", i128::from(types::FWPS_METADATA_FIELD_COMPARTMENT_ID)),
        ("FWPS_METADATA_FIELD_TRANSPORT_ENDPOINT_HANDLE", i128::from(types::FWPS_METADATA_FIELD_TRANSPORT_ENDPOINT_HANDLE)),
        ("FWPS_METADATA_FIELD_TRANSPORT_CONTROL_DATA", i128::from(types::FWPS_METADATA_FIELD_TRANSPORT_CONTROL_DATA)),
        ("FWPS_METADATA_FIELD_REMOTE_SCOPE_ID", i128::from(types::FWPS_METADATA_FIELD_REMOTE_SCOPE_ID)),
        ("FWPS_RIGHT_ACTION_WRITE", i128::from(types::FWPS_RIGHT_ACTION_WRITE)),
        ("FWPS_CLASSIFY_OUT_FLAG_ABSORB", i128::from(types::FWPS_CLASSIFY_OUT_FLAG_ABSORB)),
        ("FWP_ACTION_BLOCK", i128::from(types::FWP_ACTION_BLOCK)),
        ("FWP_ACTION_PERMIT", i128::from(types::FWP_ACTION_PERMIT)),
        ("FWP_ACTION_CALLOUT_TERMINATING", i128::from(types::FWP_ACTION_CALLOUT_TERMINATING)),
        ("POOL_FLAG_NON_PAGED", i128::from(types::POOL_FLAG_NON_PAGED)),
        ("FWPM_SESSION_FLAG_DYNAMIC", i128::from(types::FWPM_SESSION_FLAG_DYNAMIC)),
        ("FWPM_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED", i128::from(types::FWPM_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED)),
        ("FWP_MATCH_EQUAL", i128::from(types::FWP_MATCH_EQUAL)),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    Ok(wdk_compare::Seam {
        functions: wdk_compare::seam_functions(windows_rs)?,
        layouts,
        constants,
    })
}
