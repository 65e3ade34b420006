/*
 * layouts.c -- independent transcription of x64 Windows kernel struct layouts.
 *
 * How the layout rows of facts/kernel-facts.md were made:
 *   gcc facts/layouts.c -o /tmp/l && /tmp/l
 * prints those rows (kinds offset, size, align), one per line, exactly as the
 * table has them; tests/kernel_facts.rs compiles it and compares.
 *
 * Every declaration below was copied from Microsoft's documentation syntax
 * blocks (MicrosoftDocs/windows-driver-docs-ddi and MicrosoftDocs/sdk-api,
 * syntax text as rendered on learn.microsoft.com) and mapped to fixed-width C:
 *   ULONG/UINT32/DWORD -> uint32_t, USHORT/UINT16/CSHORT -> uint16_t/int16_t,
 *   UCHAR/BOOLEAN/UINT8 -> uint8_t, LONG/NTSTATUS/NDIS_STATUS/BOOL -> int32_t,
 *   C enums (FWP_DATA_TYPE, FWP_MATCH_TYPE, FWP_DIRECTION,
 *   FWPS_DISCARD_MODULE0) -> int32_t, FWP_ACTION_TYPE (typedef UINT32) ->
 *   uint32_t, UINT64/ULONG64/ULONGLONG -> uint64_t, SIZE_T/ULONG_PTR/HANDLE/
 *   NDIS_HANDLE/any pointer/function pointer -> pointer sized,
 *   DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT) (x64: 16) and the
 *   DECLSPEC_ALIGN(16) on SLIST_HEADER -> __attribute__((aligned(16))).
 * gcc on x86-64 Linux lays these fixed-width types out the same way MSVC x64
 * does (natural alignment, no packing pragmas are involved in these headers).
 *
 * Only standard C11 plus the GNU aligned attribute and anonymous
 * structs/unions; no Windows headers are needed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if !defined(__x86_64__)
#error "build this on x86-64: the table is the x64 layout"
#endif

#define A16 __attribute__((aligned(16)))

/* ------------------------------------------------------------------ */
/* Base types                                                          */
/* ------------------------------------------------------------------ */

/* guiddef.h */
typedef struct _GUID {
    uint32_t Data1;
    uint16_t Data2;
    uint16_t Data3;
    uint8_t Data4[8];
} GUID;

/* ntdef.h */
typedef struct _UNICODE_STRING {
    uint16_t Length;
    uint16_t MaximumLength;
    uint16_t *Buffer;
} UNICODE_STRING;

typedef struct _OBJECT_ATTRIBUTES {
    uint32_t Length;
    void *RootDirectory;
    UNICODE_STRING *ObjectName;
    uint32_t Attributes;
    void *SecurityDescriptor;
    void *SecurityQualityOfService;
} OBJECT_ATTRIBUTES;

/* winnt.h: LARGE_INTEGER (PHYSICAL_ADDRESS / NDIS_PHYSICAL_ADDRESS) */
typedef union _LARGE_INTEGER {
    struct {
        uint32_t LowPart;
        int32_t HighPart;
    };
    struct {
        uint32_t LowPart;
        int32_t HighPart;
    } u;
    int64_t QuadPart;
} LARGE_INTEGER;

/* winnt.h / ntddk: x64 SLIST_HEADER is DECLSPEC_ALIGN(16) */
typedef union A16 _SLIST_HEADER {
    struct {
        uint64_t Alignment;
        uint64_t Region;
    };
    struct {
        uint64_t Depth : 16;
        uint64_t Sequence : 48;
        uint64_t Reserved : 4;
        uint64_t NextEntry : 60;
    } HeaderX64;
} SLIST_HEADER;

/* ws2def.h / docs page of FWPS_TRANSPORT_SEND_PARAMS0 */
typedef struct {
    union {
        struct {
            uint32_t Zone : 28;
            uint32_t Level : 4;
        };
        uint32_t Value;
    };
} SCOPE_ID;

/* ws2def.h / ws2ipdef.h / netioapi.h */
typedef struct {
    uint16_t sin_family;
    uint16_t sin_port;
    uint32_t sin_addr;
    char sin_zero[8];
} SOCKADDR_IN;

typedef struct {
    uint16_t sin6_family;
    uint16_t sin6_port;
    uint32_t sin6_flowinfo;
    union {
        uint8_t Byte[16];
        uint16_t Word[8];
    } sin6_addr;
    union {
        uint32_t sin6_scope_id;
        SCOPE_ID sin6_scope_struct;
    };
} SOCKADDR_IN6;

typedef union _SOCKADDR_INET {
    SOCKADDR_IN Ipv4;
    SOCKADDR_IN6 Ipv6;
    uint16_t si_family;
} SOCKADDR_INET;

typedef struct _IP_ADDRESS_PREFIX {
    SOCKADDR_INET Prefix;
    uint8_t PrefixLength;
} IP_ADDRESS_PREFIX;

/* ------------------------------------------------------------------ */
/* NDIS: ndis/nbl.h, ndis/nblinfo.h                                    */
/* ------------------------------------------------------------------ */

/*
 * MaxNetBufferListInfo for an x64 (_AMD64_, _WIN64) driver build with
 * NDIS_SUPPORT_NDIS680 and NDIS_WRAPPER != 1, counted from ndis/nblinfo.h:
 *  0 TcpIpChecksum  1 IPsecOffloadV1  2 TcpLargeSend  3 ClassificationHandle
 *  4 Ieee8021Q  5 CancelId  6 MediaSpecificInformation  7 FrameType
 *  8 HashValue  9 HashInfo  10 WfpNetBufferListInfo  11 IPsecOffloadV2Tunnel
 * 12 IPsecOffloadV2Header  13 CorrelationId  14 FilteringInfo
 * 15 MediaSpecificInformationEx  16 NblOriginalInterfaceIfIndex
 * 17 TcpReceiveBytesTransferred  18 SwitchForwardingReserved
 * 19 SwitchForwardingDetail  20 VirtualSubnetInfo  21 IMReserved
 * 22 TcpRecvSegCoalesceInfo  23 RscTcpTimestampDelta
 * 24 GftOffloadInformation  25 GftFlowEntryId  26 NetBufferListInfoReserved3
 * -> MaxNetBufferListInfo = 27.
 */
#define MaxNetBufferListInfo 27

typedef struct _NET_BUFFER_DATA {
    void *Next;
    void *CurrentMdl;
    uint32_t CurrentMdlOffset;
    union {
        uint32_t DataLength;
        size_t stDataLength;
    } NbDataLength;
    void *MdlChain;
    uint32_t DataOffset;
} NET_BUFFER_DATA;

typedef union _NET_BUFFER_HEADER {
    NET_BUFFER_DATA NetBufferData;
    SLIST_HEADER Link;
} NET_BUFFER_HEADER;

typedef struct _NET_BUFFER {
    union {
        struct {
            void *Next;
            void *CurrentMdl;
            uint32_t CurrentMdlOffset;
            union {
                uint32_t DataLength;
                size_t stDataLength;
            };
            void *MdlChain;
            uint32_t DataOffset;
        };
        SLIST_HEADER Link;
        NET_BUFFER_HEADER NetBufferHeader;
    };
    uint16_t ChecksumBias;
    uint16_t Reserved;
    void *NdisPoolHandle;
    A16 void *NdisReserved[2];
    A16 void *ProtocolReserved[6];
    A16 void *MiniportReserved[4];
    LARGE_INTEGER DataPhysicalAddress;
    union {
        void *SharedMemoryInfo;
        void *ScatterGatherList;
    };
} NET_BUFFER;

typedef struct _NET_BUFFER_LIST_DATA {
    void *Next;
    void *FirstNetBuffer;
} NET_BUFFER_LIST_DATA;

typedef union _NET_BUFFER_LIST_HEADER {
    NET_BUFFER_LIST_DATA NetBufferListData;
    SLIST_HEADER Link;
} NET_BUFFER_LIST_HEADER;

typedef struct _NET_BUFFER_LIST {
    union {
        struct {
            void *Next;
            void *FirstNetBuffer;
        };
        SLIST_HEADER Link;
        NET_BUFFER_LIST_HEADER NetBufferListHeader;
    };
    void *Context;
    void *ParentNetBufferList;
    void *NdisPoolHandle;
    A16 void *NdisReserved[2];
    A16 void *ProtocolReserved[4];
    A16 void *MiniportReserved[2];
    void *Scratch;
    void *SourceHandle;
    uint32_t NblFlags;
    int32_t ChildRefCount;
    uint32_t Flags;
    union {
        int32_t Status;
        uint32_t NdisReserved2;
    };
    void *NetBufferListInfo[MaxNetBufferListInfo];
} NET_BUFFER_LIST;

/* ------------------------------------------------------------------ */
/* fwptypes.h                                                          */
/* ------------------------------------------------------------------ */

typedef struct FWP_BYTE_ARRAY16_ {
    uint8_t byteArray16[16];
} FWP_BYTE_ARRAY16;

typedef struct FWP_BYTE_BLOB_ {
    uint32_t size;
    uint8_t *data;
} FWP_BYTE_BLOB;

typedef struct FWP_V4_ADDR_AND_MASK_ {
    uint32_t addr;
    uint32_t mask;
} FWP_V4_ADDR_AND_MASK;

typedef struct FWP_V6_ADDR_AND_MASK_ {
    uint8_t addr[16];
    uint8_t prefixLength;
} FWP_V6_ADDR_AND_MASK;

typedef struct FWP_VALUE0_ {
    int32_t type; /* FWP_DATA_TYPE */
    union {
        uint8_t uint8;
        uint16_t uint16;
        uint32_t uint32;
        uint64_t *uint64;
        int8_t int8;
        int16_t int16;
        int32_t int32;
        int64_t *int64;
        float float32;
        double *double64;
        FWP_BYTE_ARRAY16 *byteArray16;
        FWP_BYTE_BLOB *byteBlob;
        void *sid;
        FWP_BYTE_BLOB *sd;
        void *tokenInformation;
        FWP_BYTE_BLOB *tokenAccessInformation;
        uint16_t *unicodeString;
        void *byteArray6;
    };
} FWP_VALUE0;

typedef struct FWP_RANGE0_ {
    FWP_VALUE0 valueLow;
    FWP_VALUE0 valueHigh;
} FWP_RANGE0;

typedef struct FWP_CONDITION_VALUE0_ {
    int32_t type; /* FWP_DATA_TYPE */
    union {
        uint8_t uint8;
        uint16_t uint16;
        uint32_t uint32;
        uint64_t *uint64;
        int8_t int8;
        int16_t int16;
        int32_t int32;
        int64_t *int64;
        float float32;
        double *double64;
        FWP_BYTE_ARRAY16 *byteArray16;
        FWP_BYTE_BLOB *byteBlob;
        void *sid;
        FWP_BYTE_BLOB *sd;
        void *tokenInformation;
        FWP_BYTE_BLOB *tokenAccessInformation;
        uint16_t *unicodeString;
        void *byteArray6;
        FWP_V4_ADDR_AND_MASK *v4AddrMask;
        FWP_V6_ADDR_AND_MASK *v6AddrMask;
        FWP_RANGE0 *rangeValue;
    };
} FWP_CONDITION_VALUE0;

typedef struct FWPM_DISPLAY_DATA0_ {
    uint16_t *name;
    uint16_t *description;
} FWPM_DISPLAY_DATA0;

/* ------------------------------------------------------------------ */
/* fwpstypes.h                                                         */
/* ------------------------------------------------------------------ */

typedef struct FWPS_INCOMING_VALUE0_ {
    FWP_VALUE0 value;
} FWPS_INCOMING_VALUE0;

typedef struct FWPS_INCOMING_VALUES0_ {
    uint16_t layerId;
    uint32_t valueCount;
    FWPS_INCOMING_VALUE0 *incomingValue;
} FWPS_INCOMING_VALUES0;

typedef struct FWPS_DISCARD_METADATA0_ {
    int32_t discardModule; /* FWPS_DISCARD_MODULE0 */
    uint32_t discardReason;
    uint64_t filterId;
} FWPS_DISCARD_METADATA0;

typedef struct FWPS_INBOUND_FRAGMENT_METADATA0_ {
    uint32_t fragmentIdentification;
    uint16_t fragmentOffset;
    uint32_t fragmentLength;
} FWPS_INBOUND_FRAGMENT_METADATA0;

typedef struct FWPS_CLASSIFY_OUT0_ {
    uint32_t actionType; /* FWP_ACTION_TYPE */
    uint64_t outContext;
    uint64_t filterId;
    uint32_t rights;
    uint32_t flags;
    uint32_t reserved;
} FWPS_CLASSIFY_OUT0;

typedef struct FWPS_ACTION0_ {
    uint32_t type; /* FWP_ACTION_TYPE */
    uint32_t calloutId;
} FWPS_ACTION0;

typedef struct FWPS_FILTER_CONDITION0_ {
    uint16_t fieldId;
    uint16_t reserved;
    int32_t matchType; /* FWP_MATCH_TYPE */
    FWP_CONDITION_VALUE0 conditionValue;
} FWPS_FILTER_CONDITION0;

typedef struct FWPS_FILTER1_ {
    uint64_t filterId;
    FWP_VALUE0 weight;
    uint16_t subLayerWeight;
    uint16_t flags;
    uint32_t numFilterConditions;
    FWPS_FILTER_CONDITION0 *filterCondition;
    FWPS_ACTION0 action;
    uint64_t context;
    void *providerContext; /* FWPM_PROVIDER_CONTEXT1 * */
} FWPS_FILTER1;

/* ------------------------------------------------------------------ */
/* fwpsk.h                                                             */
/* ------------------------------------------------------------------ */

/*
 * FWPS_INCOMING_METADATA_VALUES0, NTDDI_VERSION >= WIN8 and
 * NDIS_SUPPORT_NDIS630 (the vSwitch branch).  The docs' syntax block shows
 * both arms of "#if (NDIS_SUPPORT_NDIS630) ... #else padding0/1/2 #endif";
 * they occupy the same bytes, see the _NOT630 variant below.
 */
typedef struct FWPS_INCOMING_METADATA_VALUES0_ {
    uint32_t currentMetadataValues;
    uint32_t flags;
    uint64_t reserved;
    FWPS_DISCARD_METADATA0 discardMetadata;
    uint64_t flowHandle;
    uint32_t ipHeaderSize;
    uint32_t transportHeaderSize;
    FWP_BYTE_BLOB *processPath;
    uint64_t token;
    uint64_t processId;
    uint32_t sourceInterfaceIndex;
    uint32_t destinationInterfaceIndex;
    uint32_t compartmentId;
    FWPS_INBOUND_FRAGMENT_METADATA0 fragmentMetadata;
    uint32_t pathMtu;
    void *completionHandle;
    uint64_t transportEndpointHandle;
    SCOPE_ID remoteScopeId;
    void *controlData; /* WSACMSGHDR * */
    uint32_t controlDataLength;
    int32_t packetDirection; /* FWP_DIRECTION */
    void *headerIncludeHeader;
    uint32_t headerIncludeHeaderLength;
    IP_ADDRESS_PREFIX destinationPrefix;
    uint16_t frameLength;
    uint64_t parentEndpointHandle;
    uint32_t icmpIdAndSequence;
    uint32_t localRedirectTargetPID; /* DWORD */
    void *originalDestination; /* SOCKADDR * */
    void *redirectRecords;
    uint32_t currentL2MetadataValues;
    uint32_t l2Flags;
    uint32_t ethernetMacHeaderSize;
    uint32_t wiFiOperationMode;
    uint32_t vSwitchSourcePortId; /* NDIS_SWITCH_PORT_ID = UINT32 */
    uint16_t vSwitchSourceNicIndex; /* NDIS_SWITCH_NIC_INDEX = USHORT */
    uint32_t vSwitchDestinationPortId; /* NDIS_SWITCH_PORT_ID */
    void *vSwitchPacketContext;
    void *subProcessTag;
    uint64_t reserved1;
} FWPS_INCOMING_METADATA_VALUES0;

/* Same struct, "#else" arm (!NDIS_SUPPORT_NDIS630): padding0/1/2. */
typedef struct FWPS_INCOMING_METADATA_VALUES0_NOT630_ {
    uint32_t currentMetadataValues;
    uint32_t flags;
    uint64_t reserved;
    FWPS_DISCARD_METADATA0 discardMetadata;
    uint64_t flowHandle;
    uint32_t ipHeaderSize;
    uint32_t transportHeaderSize;
    FWP_BYTE_BLOB *processPath;
    uint64_t token;
    uint64_t processId;
    uint32_t sourceInterfaceIndex;
    uint32_t destinationInterfaceIndex;
    uint32_t compartmentId;
    FWPS_INBOUND_FRAGMENT_METADATA0 fragmentMetadata;
    uint32_t pathMtu;
    void *completionHandle;
    uint64_t transportEndpointHandle;
    SCOPE_ID remoteScopeId;
    void *controlData;
    uint32_t controlDataLength;
    int32_t packetDirection;
    void *headerIncludeHeader;
    uint32_t headerIncludeHeaderLength;
    IP_ADDRESS_PREFIX destinationPrefix;
    uint16_t frameLength;
    uint64_t parentEndpointHandle;
    uint32_t icmpIdAndSequence;
    uint32_t localRedirectTargetPID;
    void *originalDestination;
    void *redirectRecords;
    uint32_t currentL2MetadataValues;
    uint32_t l2Flags;
    uint32_t ethernetMacHeaderSize;
    uint32_t wiFiOperationMode;
    uint32_t padding0;
    uint16_t padding1;
    uint32_t padding2;
    void *vSwitchPacketContext;
    void *subProcessTag;
    uint64_t reserved1;
} FWPS_INCOMING_METADATA_VALUES0_NOT630;

typedef struct FWPS_CALLOUT1_ {
    GUID calloutKey;
    uint32_t flags;
    void *classifyFn;   /* FWPS_CALLOUT_CLASSIFY_FN1 */
    void *notifyFn;     /* FWPS_CALLOUT_NOTIFY_FN1 */
    void *flowDeleteFn; /* FWPS_CALLOUT_FLOW_DELETE_NOTIFY_FN0 */
} FWPS_CALLOUT1;

typedef struct FWPS_TRANSPORT_SEND_PARAMS0_ {
    uint8_t *remoteAddress;
    SCOPE_ID remoteScopeId;
    void *controlData; /* WSACMSGHDR * */
    uint32_t controlDataLength;
} FWPS_TRANSPORT_SEND_PARAMS0;

typedef struct FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0_ {
    unsigned isSecure : 1;
    unsigned isTransportMode : 1;
    unsigned isTunnelMode : 1;
    unsigned isTransportModeVerified : 1;
    unsigned isTunnelModeVerified : 1;
    unsigned isDeTunneled : 1;
} FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0;

typedef struct FWPS_PACKET_LIST_OUTBOUND_IPSEC_INFORMATION0_ {
    unsigned isIPsecPolicyMatch : 1;
    unsigned isTransportPolicyMatch : 1;
    unsigned isTunnelPolicyMatch : 1;
    unsigned isTunnelIPinIP : 1;
} FWPS_PACKET_LIST_OUTBOUND_IPSEC_INFORMATION0;

typedef struct FWPS_PACKET_LIST_IPSEC_INFORMATION0_ {
    union {
        FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0 inbound;
        FWPS_PACKET_LIST_OUTBOUND_IPSEC_INFORMATION0 outbound;
        uint32_t flags;
    };
} FWPS_PACKET_LIST_IPSEC_INFORMATION0;

typedef struct FWPS_PACKET_LIST_FWP_INFORMATION0_ {
    unsigned isReinjected : 1;
} FWPS_PACKET_LIST_FWP_INFORMATION0;

typedef struct FWPS_PACKET_LIST_INFORMATION0_ {
    FWPS_PACKET_LIST_IPSEC_INFORMATION0 ipsecInformation;
    FWPS_PACKET_LIST_FWP_INFORMATION0 fwpInformation;
} FWPS_PACKET_LIST_INFORMATION0;

/* ------------------------------------------------------------------ */
/* fwpmtypes.h                                                         */
/* ------------------------------------------------------------------ */

typedef struct FWPM_SESSION0_ {
    GUID sessionKey;
    FWPM_DISPLAY_DATA0 displayData;
    uint32_t flags;
    uint32_t txnWaitTimeoutInMSec;
    uint32_t processId; /* DWORD */
    void *sid;          /* SID * */
    uint16_t *username;
    int32_t kernelMode; /* BOOL */
} FWPM_SESSION0;

typedef struct FWPM_PROVIDER0_ {
    GUID providerKey;
    FWPM_DISPLAY_DATA0 displayData;
    uint32_t flags;
    FWP_BYTE_BLOB providerData;
    uint16_t *serviceName;
} FWPM_PROVIDER0;

typedef struct FWPM_SUBLAYER0_ {
    GUID subLayerKey;
    FWPM_DISPLAY_DATA0 displayData;
    uint32_t flags;
    GUID *providerKey;
    FWP_BYTE_BLOB providerData;
    uint16_t weight;
} FWPM_SUBLAYER0;

typedef struct FWPM_CALLOUT0_ {
    GUID calloutKey;
    FWPM_DISPLAY_DATA0 displayData;
    uint32_t flags;
    GUID *providerKey;
    FWP_BYTE_BLOB providerData;
    GUID applicableLayer;
    uint32_t calloutId;
} FWPM_CALLOUT0;

typedef struct FWPM_ACTION0_ {
    uint32_t type; /* FWP_ACTION_TYPE */
    union {
        GUID filterType;
        GUID calloutKey;
    };
} FWPM_ACTION0;

typedef struct FWPM_FILTER_CONDITION0_ {
    GUID fieldKey;
    int32_t matchType; /* FWP_MATCH_TYPE */
    FWP_CONDITION_VALUE0 conditionValue;
} FWPM_FILTER_CONDITION0;

typedef struct FWPM_FILTER0_ {
    GUID filterKey;
    FWPM_DISPLAY_DATA0 displayData;
    uint32_t flags;
    GUID *providerKey;
    FWP_BYTE_BLOB providerData;
    GUID layerKey;
    GUID subLayerKey;
    FWP_VALUE0 weight;
    uint32_t numFilterConditions;
    FWPM_FILTER_CONDITION0 *filterCondition;
    FWPM_ACTION0 action;
    union {
        uint64_t rawContext;
        GUID providerContextKey;
    };
    GUID *reserved;
    uint64_t filterId;
    FWP_VALUE0 effectiveWeight;
} FWPM_FILTER0;

/* ------------------------------------------------------------------ */
/* wdm.h                                                               */
/* ------------------------------------------------------------------ */

#define IRP_MJ_MAXIMUM_FUNCTION 0x1b

typedef struct _DRIVER_OBJECT {
    int16_t Type;  /* CSHORT */
    int16_t Size;  /* CSHORT */
    void *DeviceObject;
    uint32_t Flags;
    void *DriverStart;
    uint32_t DriverSize;
    void *DriverSection;
    void *DriverExtension;
    UNICODE_STRING DriverName;
    UNICODE_STRING *HardwareDatabase;
    void *FastIoDispatch;
    void *DriverInit;
    void *DriverStartIo;
    void *DriverUnload;
    void *MajorFunction[IRP_MJ_MAXIMUM_FUNCTION + 1];
} DRIVER_OBJECT;

typedef struct _KEY_VALUE_PARTIAL_INFORMATION {
    uint32_t TitleIndex;
    uint32_t Type;
    uint32_t DataLength;
    uint8_t Data[1];
} KEY_VALUE_PARTIAL_INFORMATION;

/* KDPC: opaque in the docs; layout as in windows-sys / public symbols. */
typedef struct _KDPC {
    union {
        uint32_t TargetInfoAsUlong;
        struct {
            uint8_t Type;
            uint8_t Importance;
            uint16_t Number;
        };
    };
    void *DpcListEntry; /* SINGLE_LIST_ENTRY */
    uintptr_t ProcessorHistory;
    void *DeferredRoutine;
    void *DeferredContext;
    void *SystemArgument1;
    void *SystemArgument2;
    void *DpcData;
} KDPC;

/* EX_RUNDOWN_REF: opaque in the docs; union of ULONG_PTR Count / PVOID Ptr. */
typedef struct _EX_RUNDOWN_REF {
    union {
        uintptr_t Count;
        void *Ptr;
    };
} EX_RUNDOWN_REF;

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

#define DDI "windows-driver-docs-ddi:wdk-ddi-src/content/"
#define SDK "sdk-api:sdk-api-src/content/"
#define WS "windows-sys 0.61.2:"

#define S_NBL DDI "nbl/ns-nbl-net_buffer_list.md"
#define S_NB DDI "nbl/ns-nbl-net_buffer.md"
#define S_VALUE SDK "fwptypes/ns-fwptypes-fwp_value0.md"
#define S_BLOB SDK "fwptypes/ns-fwptypes-fwp_byte_blob.md"
#define S_BA16 SDK "fwptypes/ns-fwptypes-fwp_byte_array16.md"
#define S_V4 SDK "fwptypes/ns-fwptypes-fwp_v4_addr_and_mask.md"
#define S_V6 SDK "fwptypes/ns-fwptypes-fwp_v6_addr_and_mask.md"
#define S_RANGE SDK "fwptypes/ns-fwptypes-fwp_range0.md"
#define S_CV SDK "fwptypes/ns-fwptypes-fwp_condition_value0.md"
#define S_DISP SDK "fwptypes/ns-fwptypes-fwpm_display_data0.md"
#define S_IV SDK "fwpstypes/ns-fwpstypes-fwps_incoming_value0.md"
#define S_IVS SDK "fwpstypes/ns-fwpstypes-fwps_incoming_values0.md"
#define S_DM SDK "fwpstypes/ns-fwpstypes-fwps_discard_metadata0.md"
#define S_FM SDK "fwpstypes/ns-fwpstypes-fwps_inbound_fragment_metadata0.md"
#define S_CO SDK "fwpstypes/ns-fwpstypes-fwps_classify_out0.md"
#define S_SA SDK "fwpstypes/ns-fwpstypes-fwps_action0.md"
#define S_SFC SDK "fwpstypes/ns-fwpstypes-fwps_filter_condition0.md"
#define S_SF1 SDK "fwpstypes/ns-fwpstypes-fwps_filter1.md"
#define S_MD DDI "fwpsk/ns-fwpsk-fwps_incoming_metadata_values0_.md"
#define S_CALLOUT1 DDI "fwpsk/ns-fwpsk-fwps_callout1_.md"
#define S_TSP DDI "fwpsk/ns-fwpsk-fwps_transport_send_params0_.md"
#define S_PLI DDI "fwpsk/ns-fwpsk-fwps_packet_list_information0_.md"
#define S_PLII DDI "fwpsk/ns-fwpsk-fwps_packet_list_ipsec_information0_.md"
#define S_PLIN DDI "fwpsk/ns-fwpsk-fwps_packet_list_inbound_ipsec_information0_.md"
#define S_PLOUT DDI "fwpsk/ns-fwpsk-fwps_packet_list_outbound_ipsec_information0_.md"
#define S_PLF DDI "fwpsk/ns-fwpsk-fwps_packet_list_fwp_information0_.md"
#define S_SESS SDK "fwpmtypes/ns-fwpmtypes-fwpm_session0.md"
#define S_PROV SDK "fwpmtypes/ns-fwpmtypes-fwpm_provider0.md"
#define S_SUBL SDK "fwpmtypes/ns-fwpmtypes-fwpm_sublayer0.md"
#define S_MCALL SDK "fwpmtypes/ns-fwpmtypes-fwpm_callout0.md"
#define S_MACT SDK "fwpmtypes/ns-fwpmtypes-fwpm_action0.md"
#define S_MFC SDK "fwpmtypes/ns-fwpmtypes-fwpm_filter_condition0.md"
#define S_MF SDK "fwpmtypes/ns-fwpmtypes-fwpm_filter0.md"
#define S_US SDK "ntdef/ns-ntdef-_unicode_string.md"
#define S_OA SDK "ntdef/ns-ntdef-_object_attributes.md"
#define S_KVPI DDI "wdm/ns-wdm-_key_value_partial_information.md"
#define S_DO DDI "wdm/ns-wdm-_driver_object.md"
#define S_GUID SDK "guiddef/ns-guiddef-guid.md"
#define S_IPAP SDK "netioapi/ns-netioapi-ip_address_prefix.md"
#define S_LI SDK "winnt/ns-winnt-large_integer~r1.md"
#define S_KDPC WS "Windows/Wdk/Foundation (KDPC)"
#define S_RUND WS "Windows/Wdk/System/SystemServices (EX_RUNDOWN_REF)"
#define S_SLIST WS "Windows/Win32/System/Kernel (SLIST_HEADER)"

static void row(const char *kind, const char *item, const char *value,
                const char *src, const char *note)
{
    printf("| %s | %s | %s | %s | %s |\n", kind, item, value, src, note);
}

static void off_row(const char *item, size_t off, const char *src,
                    const char *note)
{
    char v[32];
    snprintf(v, sizeof v, "0x%zx", off);
    row("offset", item, v, src, note);
}

static void size_row(const char *item, size_t sz, const char *src,
                     const char *note)
{
    char v[32];
    snprintf(v, sizeof v, "0x%zx", sz);
    row("size", item, v, src, note);
}

static void align_row(const char *item, size_t al, const char *src,
                      const char *note)
{
    char v[32];
    snprintf(v, sizeof v, "%zu", al);
    row("align", item, v, src, note);
}

#define OFF(T, f, src, note) off_row(#T "." #f, offsetof(T, f), src, note)
#define OFFN(name, T, f, src, note) off_row(name, offsetof(T, f), src, note)
#define SIZE(T, src, note) size_row(#T, sizeof(T), src, note)
#define ALIGN(T, src, note) align_row(#T, _Alignof(T), src, note)

#define WSA "windows-sys agrees"
#define UNI "union member"

/* Issue 12: the mask of one bit-field in its 32-bit unit, as the compiler lays it out. */
#define BITMASK(T, f, src)                                                        \
    do {                                                                          \
        union { T s; uint32_t u; } probe;                                          \
        char v[32];                                                               \
        probe.u = 0;                                                              \
        probe.s.f = 1;                                                            \
        snprintf(v, sizeof v, "0x%x", (unsigned)probe.u);                         \
        row("const", #T "." #f, v, src,                                           \
            "mask of the 1-bit field in its 32-bit unit, from facts/layouts.c "    \
            "(x64 compilers allocate bit-fields from bit 0 in declaration order)"); \
    } while (0)

int main(void)
{
    /* ---------------- NET_BUFFER_LIST ---------------- */
    OFF(NET_BUFFER_LIST, Next, S_NBL, "first union: anonymous struct {Next, FirstNetBuffer}; public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER_LIST, FirstNetBuffer, S_NBL, "public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER_LIST, Link, S_NBL, UNI "; SLIST_HEADER is 16 bytes DECLSPEC_ALIGN(16) on x64");
    OFF(NET_BUFFER_LIST, NetBufferListHeader, S_NBL, UNI " (NDIS_INCLUDE_LEGACY_NAMES duplicate of the union)");
    OFF(NET_BUFFER_LIST, Context, S_NBL, "public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER_LIST, ParentNetBufferList, S_NBL, "public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER_LIST, NdisPoolHandle, S_NBL, "public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER_LIST, NdisReserved, S_NBL, "DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT) in ndis/nbl.h (docs syntax block omits it): 8 bytes padding after NdisPoolHandle; public symbols ndis.sys x64 say 0x30 too");
    OFF(NET_BUFFER_LIST, ProtocolReserved, S_NBL, "DECLSPEC_ALIGN(16) in ndis/nbl.h; public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER_LIST, MiniportReserved, S_NBL, "DECLSPEC_ALIGN(16) in ndis/nbl.h; public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER_LIST, Scratch, S_NBL, "public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER_LIST, SourceHandle, S_NBL, "public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER_LIST, NblFlags, S_NBL, "public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER_LIST, ChildRefCount, S_NBL, "public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER_LIST, Flags, S_NBL, "public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER_LIST, Status, S_NBL, UNI " (NDIS_STATUS); public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER_LIST, NdisReserved2, S_NBL, UNI "; public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER_LIST, NetBufferListInfo, S_NBL, "PVOID[MaxNetBufferListInfo]; slot i at 0x90 + 8*i (WfpNetBufferListInfo = 10 -> 0xe0); public symbols ndis.sys x64 agree");
    SIZE(NET_BUFFER_LIST, S_NBL, "doubtful: depends on MaxNetBufferListInfo; 27 slots for an x64 driver with NDIS_SUPPORT_NDIS680 (ndis/nblinfo.h) -> 0x90+0xd8=0x168 padded to 0x170; 26 slots -> 0x160, 24 slots (NDIS 6.30) -> 0x150; ndis.sys own symbols show 29 slots (NDIS_WRAPPER) -> 0x180; never allocate it yourself");
    ALIGN(NET_BUFFER_LIST, S_NBL, "16 from SLIST_HEADER and the DECLSPEC_ALIGN(16) members; public symbols pad ndis.sys size 0x178 to 0x180");

    /* ---------------- NET_BUFFER ---------------- */
    OFF(NET_BUFFER, Next, S_NB, "public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER, CurrentMdl, S_NB, "public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER, CurrentMdlOffset, S_NB, "public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER, DataLength, S_NB, "union {ULONG DataLength; SIZE_T stDataLength;} is 8 bytes, so 4 bytes padding after CurrentMdlOffset; public symbols agree");
    OFF(NET_BUFFER, stDataLength, S_NB, UNI " with DataLength; public symbols agree");
    OFF(NET_BUFFER, MdlChain, S_NB, "public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER, DataOffset, S_NB, "public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER, Link, S_NB, UNI " (SLIST_HEADER, 16-aligned)");
    OFF(NET_BUFFER, NetBufferHeader, S_NB, UNI " (NET_BUFFER_HEADER, NDIS_INCLUDE_LEGACY_NAMES); the header union is 0x30 bytes");
    OFF(NET_BUFFER, ChecksumBias, S_NB, "public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER, Reserved, S_NB, "public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER, NdisPoolHandle, S_NB, "public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER, NdisReserved, S_NB, "DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT) in ndis/nbl.h (docs syntax omits it); public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER, ProtocolReserved, S_NB, "DECLSPEC_ALIGN(16); public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER, MiniportReserved, S_NB, "DECLSPEC_ALIGN(16); public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER, DataPhysicalAddress, S_NB, "PHYSICAL_ADDRESS = LARGE_INTEGER; public symbols ndis.sys x64 agree");
    OFF(NET_BUFFER, SharedMemoryInfo, S_NB, "last union (NDIS_SUPPORT_NDIS620); public symbols agree");
    OFF(NET_BUFFER, ScatterGatherList, S_NB, UNI " with SharedMemoryInfo");
    SIZE(NET_BUFFER, S_NB, "public symbols ndis.sys x64 (Win10) agree");
    ALIGN(NET_BUFFER, S_NB, "16 from SLIST_HEADER / DECLSPEC_ALIGN(16)");

    /* ---------------- helpers used above ---------------- */
    SIZE(SLIST_HEADER, S_SLIST, "x64 union DECLSPEC_ALIGN(16) {Alignment, Region; HeaderX64} (winnt.h/ntddk declaration); windows-sys agrees on size");
    ALIGN(SLIST_HEADER, S_SLIST, "doubtful in windows-sys: its x64 SLIST_HEADER is plain repr(C) (align 8 in Rust); the header's DECLSPEC_ALIGN(16) wins, confirmed by the ndis.sys public-symbol offsets");
    SIZE(LARGE_INTEGER, S_LI, "PHYSICAL_ADDRESS");
    ALIGN(LARGE_INTEGER, S_LI, "");

    /* ---------------- GUID ---------------- */
    OFF(GUID, Data1, S_GUID, WSA);
    OFF(GUID, Data2, S_GUID, WSA);
    OFF(GUID, Data3, S_GUID, WSA);
    OFF(GUID, Data4, S_GUID, WSA);
    SIZE(GUID, S_GUID, WSA);
    ALIGN(GUID, S_GUID, WSA);

    /* ---------------- fwptypes ---------------- */
    OFF(FWP_VALUE0, type, S_VALUE, "FWP_DATA_TYPE enum (4 bytes); " WSA);
    OFF(FWP_VALUE0, uint8, S_VALUE, UNI "; " WSA);
    OFF(FWP_VALUE0, uint16, S_VALUE, UNI "; " WSA);
    OFF(FWP_VALUE0, uint32, S_VALUE, UNI "; " WSA);
    OFF(FWP_VALUE0, uint64, S_VALUE, UNI " (UINT64 *); " WSA);
    OFF(FWP_VALUE0, int8, S_VALUE, UNI "; " WSA);
    OFF(FWP_VALUE0, int16, S_VALUE, UNI "; " WSA);
    OFF(FWP_VALUE0, int32, S_VALUE, UNI "; " WSA);
    OFF(FWP_VALUE0, int64, S_VALUE, UNI " (INT64 *); " WSA);
    OFF(FWP_VALUE0, float32, S_VALUE, UNI "; " WSA);
    OFF(FWP_VALUE0, double64, S_VALUE, UNI " (double *); " WSA);
    OFF(FWP_VALUE0, byteArray16, S_VALUE, UNI "; " WSA);
    OFF(FWP_VALUE0, byteBlob, S_VALUE, UNI "; " WSA);
    OFF(FWP_VALUE0, sid, S_VALUE, UNI "; " WSA);
    OFF(FWP_VALUE0, sd, S_VALUE, UNI "; " WSA);
    OFF(FWP_VALUE0, tokenInformation, S_VALUE, UNI "; " WSA);
    OFF(FWP_VALUE0, tokenAccessInformation, S_VALUE, UNI "; " WSA);
    OFF(FWP_VALUE0, unicodeString, S_VALUE, UNI "; " WSA);
    OFF(FWP_VALUE0, byteArray6, S_VALUE, UNI "; " WSA);
    SIZE(FWP_VALUE0, S_VALUE, WSA);
    ALIGN(FWP_VALUE0, S_VALUE, WSA);

    OFF(FWP_BYTE_BLOB, size, S_BLOB, WSA);
    OFF(FWP_BYTE_BLOB, data, S_BLOB, WSA);
    SIZE(FWP_BYTE_BLOB, S_BLOB, WSA);
    ALIGN(FWP_BYTE_BLOB, S_BLOB, WSA);

    OFF(FWP_BYTE_ARRAY16, byteArray16, S_BA16, WSA);
    SIZE(FWP_BYTE_ARRAY16, S_BA16, WSA);
    ALIGN(FWP_BYTE_ARRAY16, S_BA16, WSA);

    OFF(FWP_V4_ADDR_AND_MASK, addr, S_V4, WSA);
    OFF(FWP_V4_ADDR_AND_MASK, mask, S_V4, WSA);
    SIZE(FWP_V4_ADDR_AND_MASK, S_V4, WSA);
    ALIGN(FWP_V4_ADDR_AND_MASK, S_V4, WSA);

    OFF(FWP_V6_ADDR_AND_MASK, addr, S_V6, WSA);
    OFF(FWP_V6_ADDR_AND_MASK, prefixLength, S_V6, WSA);
    SIZE(FWP_V6_ADDR_AND_MASK, S_V6, WSA);
    ALIGN(FWP_V6_ADDR_AND_MASK, S_V6, WSA);

    OFF(FWP_RANGE0, valueLow, S_RANGE, WSA);
    OFF(FWP_RANGE0, valueHigh, S_RANGE, WSA);
    SIZE(FWP_RANGE0, S_RANGE, WSA);
    ALIGN(FWP_RANGE0, S_RANGE, WSA);

    OFF(FWP_CONDITION_VALUE0, type, S_CV, "FWP_DATA_TYPE enum; " WSA);
    OFF(FWP_CONDITION_VALUE0, uint8, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, uint16, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, uint32, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, uint64, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, int8, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, int16, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, int32, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, int64, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, float32, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, double64, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, byteArray16, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, byteBlob, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, sid, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, sd, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, tokenInformation, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, tokenAccessInformation, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, unicodeString, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, byteArray6, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, v4AddrMask, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, v6AddrMask, S_CV, UNI "; " WSA);
    OFF(FWP_CONDITION_VALUE0, rangeValue, S_CV, UNI "; " WSA);
    SIZE(FWP_CONDITION_VALUE0, S_CV, WSA);
    ALIGN(FWP_CONDITION_VALUE0, S_CV, WSA);

    OFF(FWPM_DISPLAY_DATA0, name, S_DISP, WSA);
    OFF(FWPM_DISPLAY_DATA0, description, S_DISP, WSA);
    SIZE(FWPM_DISPLAY_DATA0, S_DISP, WSA);
    ALIGN(FWPM_DISPLAY_DATA0, S_DISP, WSA);

    /* ---------------- fwpstypes ---------------- */
    OFF(FWPS_INCOMING_VALUE0, value, S_IV, "not in windows-sys");
    SIZE(FWPS_INCOMING_VALUE0, S_IV, "array stride of incomingValue");
    ALIGN(FWPS_INCOMING_VALUE0, S_IV, "");

    OFF(FWPS_INCOMING_VALUES0, layerId, S_IVS, "UINT16");
    OFF(FWPS_INCOMING_VALUES0, valueCount, S_IVS, "2 bytes padding after layerId");
    OFF(FWPS_INCOMING_VALUES0, incomingValue, S_IVS, "");
    SIZE(FWPS_INCOMING_VALUES0, S_IVS, "");
    ALIGN(FWPS_INCOMING_VALUES0, S_IVS, "");

    OFF(FWPS_DISCARD_METADATA0, discardModule, S_DM, "FWPS_DISCARD_MODULE0 enum");
    OFF(FWPS_DISCARD_METADATA0, discardReason, S_DM, "");
    OFF(FWPS_DISCARD_METADATA0, filterId, S_DM, "");
    SIZE(FWPS_DISCARD_METADATA0, S_DM, "");
    ALIGN(FWPS_DISCARD_METADATA0, S_DM, "");

    OFF(FWPS_INBOUND_FRAGMENT_METADATA0, fragmentIdentification, S_FM, "");
    OFF(FWPS_INBOUND_FRAGMENT_METADATA0, fragmentOffset, S_FM, "UINT16");
    OFF(FWPS_INBOUND_FRAGMENT_METADATA0, fragmentLength, S_FM, "ULONG, 2 bytes padding before it");
    SIZE(FWPS_INBOUND_FRAGMENT_METADATA0, S_FM, "");
    ALIGN(FWPS_INBOUND_FRAGMENT_METADATA0, S_FM, "");

    OFF(FWPS_CLASSIFY_OUT0, actionType, S_CO, "FWP_ACTION_TYPE = UINT32 (windows-sys: u32)");
    OFF(FWPS_CLASSIFY_OUT0, outContext, S_CO, "4 bytes padding after actionType");
    OFF(FWPS_CLASSIFY_OUT0, filterId, S_CO, "");
    OFF(FWPS_CLASSIFY_OUT0, rights, S_CO, "");
    OFF(FWPS_CLASSIFY_OUT0, flags, S_CO, "");
    OFF(FWPS_CLASSIFY_OUT0, reserved, S_CO, "");
    SIZE(FWPS_CLASSIFY_OUT0, S_CO, "0x24 padded to 0x28");
    ALIGN(FWPS_CLASSIFY_OUT0, S_CO, "");

    OFF(FWPS_ACTION0, type, S_SA, "FWP_ACTION_TYPE");
    OFF(FWPS_ACTION0, calloutId, S_SA, "");
    SIZE(FWPS_ACTION0, S_SA, "");
    ALIGN(FWPS_ACTION0, S_SA, "");

    OFF(FWPS_FILTER_CONDITION0, fieldId, S_SFC, "");
    OFF(FWPS_FILTER_CONDITION0, reserved, S_SFC, "");
    OFF(FWPS_FILTER_CONDITION0, matchType, S_SFC, "FWP_MATCH_TYPE enum");
    OFF(FWPS_FILTER_CONDITION0, conditionValue, S_SFC, "FWP_CONDITION_VALUE0");
    SIZE(FWPS_FILTER_CONDITION0, S_SFC, "");
    ALIGN(FWPS_FILTER_CONDITION0, S_SFC, "");

    OFF(FWPS_FILTER1, filterId, S_SF1, "");
    OFF(FWPS_FILTER1, weight, S_SF1, "FWP_VALUE0");
    OFF(FWPS_FILTER1, subLayerWeight, S_SF1, "");
    OFF(FWPS_FILTER1, flags, S_SF1, "");
    OFF(FWPS_FILTER1, numFilterConditions, S_SF1, "");
    OFF(FWPS_FILTER1, filterCondition, S_SF1, "");
    OFF(FWPS_FILTER1, action, S_SF1, "FWPS_ACTION0");
    OFF(FWPS_FILTER1, action.type, S_SF1, "nested FWPS_ACTION0.type");
    OFF(FWPS_FILTER1, action.calloutId, S_SF1, "nested FWPS_ACTION0.calloutId");
    OFF(FWPS_FILTER1, context, S_SF1, "");
    OFF(FWPS_FILTER1, providerContext, S_SF1, "FWPM_PROVIDER_CONTEXT1 *");
    SIZE(FWPS_FILTER1, S_SF1, "");
    ALIGN(FWPS_FILTER1, S_SF1, "");

    /* ---------------- FWPS_INCOMING_METADATA_VALUES0 ---------------- */
#define MDN "NTDDI_VERSION >= WIN8, NDIS_SUPPORT_NDIS630"
    OFF(FWPS_INCOMING_METADATA_VALUES0, currentMetadataValues, S_MD, "");
    OFF(FWPS_INCOMING_METADATA_VALUES0, flags, S_MD, "");
    OFF(FWPS_INCOMING_METADATA_VALUES0, reserved, S_MD, "");
    OFF(FWPS_INCOMING_METADATA_VALUES0, discardMetadata, S_MD, "FWPS_DISCARD_METADATA0 (0x10 bytes)");
    OFF(FWPS_INCOMING_METADATA_VALUES0, discardMetadata.discardModule, S_MD, "nested");
    OFF(FWPS_INCOMING_METADATA_VALUES0, discardMetadata.discardReason, S_MD, "nested");
    OFF(FWPS_INCOMING_METADATA_VALUES0, discardMetadata.filterId, S_MD, "nested");
    OFF(FWPS_INCOMING_METADATA_VALUES0, flowHandle, S_MD, "");
    OFF(FWPS_INCOMING_METADATA_VALUES0, ipHeaderSize, S_MD, "");
    OFF(FWPS_INCOMING_METADATA_VALUES0, transportHeaderSize, S_MD, "");
    OFF(FWPS_INCOMING_METADATA_VALUES0, processPath, S_MD, "FWP_BYTE_BLOB *");
    OFF(FWPS_INCOMING_METADATA_VALUES0, token, S_MD, "");
    OFF(FWPS_INCOMING_METADATA_VALUES0, processId, S_MD, "");
    OFF(FWPS_INCOMING_METADATA_VALUES0, sourceInterfaceIndex, S_MD, "");
    OFF(FWPS_INCOMING_METADATA_VALUES0, destinationInterfaceIndex, S_MD, "");
    OFF(FWPS_INCOMING_METADATA_VALUES0, compartmentId, S_MD, "ULONG (COMPARTMENT_ID, 4 bytes)");
    OFF(FWPS_INCOMING_METADATA_VALUES0, fragmentMetadata, S_MD, "FWPS_INBOUND_FRAGMENT_METADATA0 (0xc bytes, align 4)");
    OFF(FWPS_INCOMING_METADATA_VALUES0, fragmentMetadata.fragmentIdentification, S_MD, "nested");
    OFF(FWPS_INCOMING_METADATA_VALUES0, fragmentMetadata.fragmentOffset, S_MD, "nested");
    OFF(FWPS_INCOMING_METADATA_VALUES0, fragmentMetadata.fragmentLength, S_MD, "nested");
    OFF(FWPS_INCOMING_METADATA_VALUES0, pathMtu, S_MD, "");
    OFF(FWPS_INCOMING_METADATA_VALUES0, completionHandle, S_MD, "HANDLE");
    OFF(FWPS_INCOMING_METADATA_VALUES0, transportEndpointHandle, S_MD, "");
    OFF(FWPS_INCOMING_METADATA_VALUES0, remoteScopeId, S_MD, "SCOPE_ID (4 bytes)");
    OFF(FWPS_INCOMING_METADATA_VALUES0, controlData, S_MD, "WSACMSGHDR *; 4 bytes padding before it");
    OFF(FWPS_INCOMING_METADATA_VALUES0, controlDataLength, S_MD, "");
    OFF(FWPS_INCOMING_METADATA_VALUES0, packetDirection, S_MD, "FWP_DIRECTION enum");
    OFF(FWPS_INCOMING_METADATA_VALUES0, headerIncludeHeader, S_MD, "NTDDI >= WIN6SP1");
    OFF(FWPS_INCOMING_METADATA_VALUES0, headerIncludeHeaderLength, S_MD, "NTDDI >= WIN6SP1");
    OFF(FWPS_INCOMING_METADATA_VALUES0, destinationPrefix, S_MD, "IP_ADDRESS_PREFIX (0x20 bytes, align 4); NTDDI >= WIN7");
    OFF(FWPS_INCOMING_METADATA_VALUES0, frameLength, S_MD, "UINT16; NTDDI >= WIN7");
    OFF(FWPS_INCOMING_METADATA_VALUES0, parentEndpointHandle, S_MD, "6 bytes padding before it");
    OFF(FWPS_INCOMING_METADATA_VALUES0, icmpIdAndSequence, S_MD, "");
    OFF(FWPS_INCOMING_METADATA_VALUES0, localRedirectTargetPID, S_MD, "DWORD");
    OFF(FWPS_INCOMING_METADATA_VALUES0, originalDestination, S_MD, "SOCKADDR *");
    OFF(FWPS_INCOMING_METADATA_VALUES0, redirectRecords, S_MD, "HANDLE; NTDDI >= WIN8");
    OFF(FWPS_INCOMING_METADATA_VALUES0, currentL2MetadataValues, S_MD, "NTDDI >= WIN8");
    OFF(FWPS_INCOMING_METADATA_VALUES0, l2Flags, S_MD, "");
    OFF(FWPS_INCOMING_METADATA_VALUES0, ethernetMacHeaderSize, S_MD, "");
    OFF(FWPS_INCOMING_METADATA_VALUES0, wiFiOperationMode, S_MD, "");
    OFF(FWPS_INCOMING_METADATA_VALUES0, vSwitchSourcePortId, S_MD, "NDIS_SWITCH_PORT_ID = UINT32; NDIS_SUPPORT_NDIS630 arm");
    OFF(FWPS_INCOMING_METADATA_VALUES0, vSwitchSourceNicIndex, S_MD, "NDIS_SWITCH_NIC_INDEX = USHORT; NDIS_SUPPORT_NDIS630 arm");
    OFF(FWPS_INCOMING_METADATA_VALUES0, vSwitchDestinationPortId, S_MD, "UINT32, 2 bytes padding before it; NDIS_SUPPORT_NDIS630 arm");
    OFFN("FWPS_INCOMING_METADATA_VALUES0.padding0", FWPS_INCOMING_METADATA_VALUES0_NOT630, padding0, S_MD, "UINT32; #else arm of NDIS_SUPPORT_NDIS630 (older docs syntax shows the #if/#else); same bytes as vSwitchSourcePortId");
    OFFN("FWPS_INCOMING_METADATA_VALUES0.padding1", FWPS_INCOMING_METADATA_VALUES0_NOT630, padding1, S_MD, "USHORT; #else arm; same bytes as vSwitchSourceNicIndex");
    OFFN("FWPS_INCOMING_METADATA_VALUES0.padding2", FWPS_INCOMING_METADATA_VALUES0_NOT630, padding2, S_MD, "UINT32; #else arm; same bytes as vSwitchDestinationPortId");
    OFF(FWPS_INCOMING_METADATA_VALUES0, vSwitchPacketContext, S_MD, "HANDLE; 4 bytes padding before it");
    OFF(FWPS_INCOMING_METADATA_VALUES0, subProcessTag, S_MD, "doubtful: 2018 docs syntax had UINT32 l2ConnectionProfileIndex between vSwitchPacketContext and subProcessTag (would move subProcessTag to 0x110 and reserved1 to 0x118); current rendered syntax (from current fwpsk.h) has none; current wins");
    OFF(FWPS_INCOMING_METADATA_VALUES0, reserved1, S_MD, "last field (2018 docs spelled it Reserved1)");
    SIZE(FWPS_INCOMING_METADATA_VALUES0, S_MD, "doubtful for the same reason as subProcessTag (0x120 with l2ConnectionProfileIndex); the filter engine allocates it, callouts only read it");
    ALIGN(FWPS_INCOMING_METADATA_VALUES0, S_MD, "");

    SIZE(SCOPE_ID, WS "Windows/Win32/Networking/WinSock (SCOPE_ID)", "union {struct {ULONG Zone:28; ULONG Level:4;}; ULONG Value;} as printed on " DDI "fwpsk/ns-fwpsk-fwps_transport_send_params0_.md; " WSA);
    ALIGN(SCOPE_ID, WS "Windows/Win32/Networking/WinSock (SCOPE_ID)", WSA);
    SIZE(IP_ADDRESS_PREFIX, S_IPAP, "SOCKADDR_INET (0x1c) + UINT8 PrefixLength, padded; " WSA);
    ALIGN(IP_ADDRESS_PREFIX, S_IPAP, WSA);

    /* ---------------- fwpsk others ---------------- */
    OFF(FWPS_CALLOUT1, calloutKey, S_CALLOUT1, "GUID");
    OFF(FWPS_CALLOUT1, flags, S_CALLOUT1, "");
    OFF(FWPS_CALLOUT1, classifyFn, S_CALLOUT1, "FWPS_CALLOUT_CLASSIFY_FN1; 4 bytes padding before it");
    OFF(FWPS_CALLOUT1, notifyFn, S_CALLOUT1, "FWPS_CALLOUT_NOTIFY_FN1");
    OFF(FWPS_CALLOUT1, flowDeleteFn, S_CALLOUT1, "FWPS_CALLOUT_FLOW_DELETE_NOTIFY_FN0");
    SIZE(FWPS_CALLOUT1, S_CALLOUT1, "");
    ALIGN(FWPS_CALLOUT1, S_CALLOUT1, "");

    OFF(FWPS_TRANSPORT_SEND_PARAMS0, remoteAddress, S_TSP, "UCHAR *");
    OFF(FWPS_TRANSPORT_SEND_PARAMS0, remoteScopeId, S_TSP, "SCOPE_ID (4 bytes)");
    OFF(FWPS_TRANSPORT_SEND_PARAMS0, controlData, S_TSP, "WSACMSGHDR *");
    OFF(FWPS_TRANSPORT_SEND_PARAMS0, controlDataLength, S_TSP, "");
    SIZE(FWPS_TRANSPORT_SEND_PARAMS0, S_TSP, "");
    ALIGN(FWPS_TRANSPORT_SEND_PARAMS0, S_TSP, "");

    SIZE(FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0, S_PLIN, "six 1-bit unsigned bit-fields in one 32-bit unit (bits 0..5: isSecure, isTransportMode, isTunnelMode, isTransportModeVerified, isTunnelModeVerified, isDeTunneled)");
    ALIGN(FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0, S_PLIN, "");
    BITMASK(FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0, isSecure, S_PLIN);
    BITMASK(FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0, isTransportMode, S_PLIN);
    BITMASK(FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0, isTunnelMode, S_PLIN);
    BITMASK(FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0, isDeTunneled, S_PLIN);
    SIZE(FWPS_PACKET_LIST_OUTBOUND_IPSEC_INFORMATION0, S_PLOUT, "four 1-bit unsigned bit-fields (bits 0..3: isIPsecPolicyMatch, isTransportPolicyMatch, isTunnelPolicyMatch, isTunnelIPinIP)");
    ALIGN(FWPS_PACKET_LIST_OUTBOUND_IPSEC_INFORMATION0, S_PLOUT, "");
    OFF(FWPS_PACKET_LIST_IPSEC_INFORMATION0, inbound, S_PLII, UNI);
    OFF(FWPS_PACKET_LIST_IPSEC_INFORMATION0, outbound, S_PLII, UNI);
    OFF(FWPS_PACKET_LIST_IPSEC_INFORMATION0, flags, S_PLII, UNI " (UINT32)");
    SIZE(FWPS_PACKET_LIST_IPSEC_INFORMATION0, S_PLII, "");
    ALIGN(FWPS_PACKET_LIST_IPSEC_INFORMATION0, S_PLII, "");
    SIZE(FWPS_PACKET_LIST_FWP_INFORMATION0, S_PLF, "one 1-bit unsigned bit-field isReinjected (bit 0) in a 32-bit unit");
    ALIGN(FWPS_PACKET_LIST_FWP_INFORMATION0, S_PLF, "");
    OFF(FWPS_PACKET_LIST_INFORMATION0, ipsecInformation, S_PLI, "");
    OFF(FWPS_PACKET_LIST_INFORMATION0, fwpInformation, S_PLI, "");
    SIZE(FWPS_PACKET_LIST_INFORMATION0, S_PLI, "");
    ALIGN(FWPS_PACKET_LIST_INFORMATION0, S_PLI, "");

    /* ---------------- fwpmtypes ---------------- */
    OFF(FWPM_SESSION0, sessionKey, S_SESS, WSA);
    OFF(FWPM_SESSION0, displayData, S_SESS, WSA);
    OFF(FWPM_SESSION0, flags, S_SESS, WSA);
    OFF(FWPM_SESSION0, txnWaitTimeoutInMSec, S_SESS, WSA);
    OFF(FWPM_SESSION0, processId, S_SESS, WSA);
    OFF(FWPM_SESSION0, sid, S_SESS, WSA);
    OFF(FWPM_SESSION0, username, S_SESS, WSA);
    OFF(FWPM_SESSION0, kernelMode, S_SESS, "BOOL; " WSA);
    SIZE(FWPM_SESSION0, S_SESS, WSA);
    ALIGN(FWPM_SESSION0, S_SESS, WSA);

    OFF(FWPM_PROVIDER0, providerKey, S_PROV, WSA);
    OFF(FWPM_PROVIDER0, displayData, S_PROV, WSA);
    OFF(FWPM_PROVIDER0, flags, S_PROV, WSA);
    OFF(FWPM_PROVIDER0, providerData, S_PROV, WSA);
    OFF(FWPM_PROVIDER0, serviceName, S_PROV, WSA);
    SIZE(FWPM_PROVIDER0, S_PROV, WSA);
    ALIGN(FWPM_PROVIDER0, S_PROV, WSA);

    OFF(FWPM_SUBLAYER0, subLayerKey, S_SUBL, WSA);
    OFF(FWPM_SUBLAYER0, displayData, S_SUBL, WSA);
    OFF(FWPM_SUBLAYER0, flags, S_SUBL, WSA);
    OFF(FWPM_SUBLAYER0, providerKey, S_SUBL, WSA);
    OFF(FWPM_SUBLAYER0, providerData, S_SUBL, WSA);
    OFF(FWPM_SUBLAYER0, weight, S_SUBL, "UINT16; " WSA);
    SIZE(FWPM_SUBLAYER0, S_SUBL, WSA);
    ALIGN(FWPM_SUBLAYER0, S_SUBL, WSA);

    OFF(FWPM_CALLOUT0, calloutKey, S_MCALL, WSA);
    OFF(FWPM_CALLOUT0, displayData, S_MCALL, WSA);
    OFF(FWPM_CALLOUT0, flags, S_MCALL, WSA);
    OFF(FWPM_CALLOUT0, providerKey, S_MCALL, WSA);
    OFF(FWPM_CALLOUT0, providerData, S_MCALL, WSA);
    OFF(FWPM_CALLOUT0, applicableLayer, S_MCALL, WSA);
    OFF(FWPM_CALLOUT0, calloutId, S_MCALL, WSA);
    SIZE(FWPM_CALLOUT0, S_MCALL, WSA);
    ALIGN(FWPM_CALLOUT0, S_MCALL, WSA);

    OFF(FWPM_ACTION0, type, S_MACT, "FWP_ACTION_TYPE; " WSA);
    OFF(FWPM_ACTION0, filterType, S_MACT, UNI "; " WSA);
    OFF(FWPM_ACTION0, calloutKey, S_MACT, UNI "; " WSA);
    SIZE(FWPM_ACTION0, S_MACT, WSA);
    ALIGN(FWPM_ACTION0, S_MACT, WSA);

    OFF(FWPM_FILTER_CONDITION0, fieldKey, S_MFC, WSA);
    OFF(FWPM_FILTER_CONDITION0, matchType, S_MFC, "FWP_MATCH_TYPE; " WSA);
    OFF(FWPM_FILTER_CONDITION0, conditionValue, S_MFC, WSA);
    SIZE(FWPM_FILTER_CONDITION0, S_MFC, "array stride of FWPM_FILTER0.filterCondition; " WSA);
    ALIGN(FWPM_FILTER_CONDITION0, S_MFC, WSA);

    OFF(FWPM_FILTER0, filterKey, S_MF, WSA);
    OFF(FWPM_FILTER0, displayData, S_MF, WSA);
    OFF(FWPM_FILTER0, displayData.name, S_MF, "nested; " WSA);
    OFF(FWPM_FILTER0, displayData.description, S_MF, "nested; " WSA);
    OFF(FWPM_FILTER0, flags, S_MF, WSA);
    OFF(FWPM_FILTER0, providerKey, S_MF, WSA);
    OFF(FWPM_FILTER0, providerData, S_MF, WSA);
    OFF(FWPM_FILTER0, layerKey, S_MF, WSA);
    OFF(FWPM_FILTER0, subLayerKey, S_MF, WSA);
    OFF(FWPM_FILTER0, weight, S_MF, WSA);
    OFF(FWPM_FILTER0, weight.type, S_MF, "nested; " WSA);
    OFF(FWPM_FILTER0, weight.uint8, S_MF, "nested union member; " WSA);
    OFF(FWPM_FILTER0, numFilterConditions, S_MF, WSA);
    OFF(FWPM_FILTER0, filterCondition, S_MF, WSA);
    OFF(FWPM_FILTER0, action, S_MF, WSA);
    OFF(FWPM_FILTER0, action.type, S_MF, "nested; " WSA);
    OFF(FWPM_FILTER0, action.calloutKey, S_MF, "nested union member; " WSA);
    OFF(FWPM_FILTER0, rawContext, S_MF, UNI " {rawContext, providerContextKey}; " WSA);
    OFF(FWPM_FILTER0, providerContextKey, S_MF, UNI "; union is 16 bytes; " WSA);
    OFF(FWPM_FILTER0, reserved, S_MF, WSA);
    OFF(FWPM_FILTER0, filterId, S_MF, WSA);
    OFF(FWPM_FILTER0, effectiveWeight, S_MF, WSA);
    SIZE(FWPM_FILTER0, S_MF, WSA);
    ALIGN(FWPM_FILTER0, S_MF, WSA);

    /* ---------------- ntdef / wdm ---------------- */
    OFF(UNICODE_STRING, Length, S_US, WSA);
    OFF(UNICODE_STRING, MaximumLength, S_US, WSA);
    OFF(UNICODE_STRING, Buffer, S_US, "public symbols x64 agree; " WSA);
    SIZE(UNICODE_STRING, S_US, "public symbols x64 agree; " WSA);
    ALIGN(UNICODE_STRING, S_US, WSA);

    OFF(OBJECT_ATTRIBUTES, Length, S_OA, WSA);
    OFF(OBJECT_ATTRIBUTES, RootDirectory, S_OA, WSA);
    OFF(OBJECT_ATTRIBUTES, ObjectName, S_OA, WSA);
    OFF(OBJECT_ATTRIBUTES, Attributes, S_OA, WSA);
    OFF(OBJECT_ATTRIBUTES, SecurityDescriptor, S_OA, WSA);
    OFF(OBJECT_ATTRIBUTES, SecurityQualityOfService, S_OA, WSA);
    SIZE(OBJECT_ATTRIBUTES, S_OA, WSA);
    ALIGN(OBJECT_ATTRIBUTES, S_OA, WSA);

    OFF(KEY_VALUE_PARTIAL_INFORMATION, TitleIndex, S_KVPI, WSA);
    OFF(KEY_VALUE_PARTIAL_INFORMATION, Type, S_KVPI, WSA);
    OFF(KEY_VALUE_PARTIAL_INFORMATION, DataLength, S_KVPI, WSA);
    OFF(KEY_VALUE_PARTIAL_INFORMATION, Data, S_KVPI, "UCHAR Data[1]; " WSA);
    SIZE(KEY_VALUE_PARTIAL_INFORMATION, S_KVPI, "0xd padded to 0x10; use offsetof(Data) + DataLength for buffer sizes; " WSA);
    ALIGN(KEY_VALUE_PARTIAL_INFORMATION, S_KVPI, WSA);

    OFF(DRIVER_OBJECT, Type, S_DO, "CSHORT; public symbols ntoskrnl x64 agree; " WSA);
    OFF(DRIVER_OBJECT, Size, S_DO, "public symbols agree; " WSA);
    OFF(DRIVER_OBJECT, DeviceObject, S_DO, "public symbols agree; " WSA);
    OFF(DRIVER_OBJECT, Flags, S_DO, "public symbols agree; " WSA);
    OFF(DRIVER_OBJECT, DriverStart, S_DO, "public symbols agree; " WSA);
    OFF(DRIVER_OBJECT, DriverSize, S_DO, "public symbols agree; " WSA);
    OFF(DRIVER_OBJECT, DriverSection, S_DO, "public symbols agree; " WSA);
    OFF(DRIVER_OBJECT, DriverExtension, S_DO, "public symbols agree; " WSA);
    OFF(DRIVER_OBJECT, DriverName, S_DO, "UNICODE_STRING; public symbols agree; " WSA);
    OFF(DRIVER_OBJECT, HardwareDatabase, S_DO, "public symbols agree; " WSA);
    OFF(DRIVER_OBJECT, FastIoDispatch, S_DO, "public symbols agree; " WSA);
    OFF(DRIVER_OBJECT, DriverInit, S_DO, "public symbols agree; " WSA);
    OFF(DRIVER_OBJECT, DriverStartIo, S_DO, "public symbols agree; " WSA);
    OFF(DRIVER_OBJECT, DriverUnload, S_DO, "public symbols agree; " WSA);
    OFF(DRIVER_OBJECT, MajorFunction, S_DO, "PDRIVER_DISPATCH[IRP_MJ_MAXIMUM_FUNCTION + 1]; IRP_MJ_MAXIMUM_FUNCTION = 0x1b (windows-sys 27) -> 28 entries; public symbols agree; " WSA);
    SIZE(DRIVER_OBJECT, S_DO, "public symbols ntoskrnl x64 agree (0x150); " WSA);
    ALIGN(DRIVER_OBJECT, S_DO, WSA);

    SIZE(KDPC, S_KDPC, "opaque in the docs; windows-sys layout {u32 union; SINGLE_LIST_ENTRY; ULONG_PTR ProcessorHistory; 5 pointers}; public symbols ntoskrnl x64 (Win8.1+) agree 0x40");
    ALIGN(KDPC, S_KDPC, "windows-sys layout; public symbols agree");

    OFF(EX_RUNDOWN_REF, Count, S_RUND, "union {ULONG_PTR Count; PVOID Ptr;}; opaque in the docs");
    OFF(EX_RUNDOWN_REF, Ptr, S_RUND, UNI);
    SIZE(EX_RUNDOWN_REF, S_RUND, "opaque in the docs (ExInitializeRundownProtection takes a PEX_RUNDOWN_REF)");
    ALIGN(EX_RUNDOWN_REF, S_RUND, "");

    return 0;
}
