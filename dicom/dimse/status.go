package dimse

// DIMSE status codes used by VetBridge's services (PS3.7 Annex C, PS3.4).
const (
	StatusSuccess                  uint16 = 0x0000
	StatusPending                  uint16 = 0xFF00
	StatusPendingWarning           uint16 = 0xFF01 // optional keys not supported
	StatusCancel                   uint16 = 0xFE00
	StatusOutOfResources           uint16 = 0xA700
	StatusIdentifierDoesNotMatch   uint16 = 0xA900
	StatusUnableToProcess          uint16 = 0xC000
	StatusSOPClassNotSupported     uint16 = 0x0122
	StatusUnrecognizedOperation    uint16 = 0x0211
	StatusMistypedArgument         uint16 = 0x0212
	StatusProcessingFailure        uint16 = 0x0110
	StatusDuplicateSOPInstance     uint16 = 0x0111
	StatusNoSuchSOPInstance        uint16 = 0x0112
	StatusInvalidAttributeValue    uint16 = 0x0106
	StatusMissingAttribute         uint16 = 0x0120
	StatusMissingAttributeValue    uint16 = 0x0121
	StatusNoSuchAttribute          uint16 = 0x0105
	StatusInvalidObjectInstance    uint16 = 0x0117
	StatusResourceLimitation       uint16 = 0x0213
	StatusDuplicateInvocation      uint16 = 0x0210
	StatusAttributeValueOutOfRange uint16 = 0x0116
)

// IsPending reports whether a C-FIND status means more responses follow.
func IsPending(s uint16) bool { return s == StatusPending || s == StatusPendingWarning }

// ImplementationClassUID identifies VetBridge in A-ASSOCIATE PDUs, server
// and client alike. It is a UUID-derived UID (PS3.5 B.2), so it needs no
// registered root.
const ImplementationClassUID = "2.25.224903248893537345699147867197963912497"

// ImplementationVersionName accompanies ImplementationClassUID (at most 16
// characters).
const ImplementationVersionName = "VETBRIDGE_1"

// Well-known UIDs.
const (
	VerificationSOPClass = "1.2.840.10008.1.1"
	ModalityWorklistFind = "1.2.840.10008.5.1.4.31"
	MPPSSOPClass         = "1.2.840.10008.3.1.2.3.3"

	ImplicitVRLittleEndian = "1.2.840.10008.1.2"
	ExplicitVRLittleEndian = "1.2.840.10008.1.2.1"
	ExplicitVRBigEndian    = "1.2.840.10008.1.2.2"
)

// TransferSyntax names a negotiated transfer syntax and how its data sets
// are encoded.
type TransferSyntax struct {
	UID       string
	BigEndian bool
	Implicit  bool
}

// LookupTransferSyntax returns the description of one of the three
// uncompressed syntaxes VetBridge speaks.
func LookupTransferSyntax(uid string) (TransferSyntax, bool) {
	switch uid {
	case ImplicitVRLittleEndian:
		return TransferSyntax{UID: uid, Implicit: true}, true
	case ExplicitVRLittleEndian:
		return TransferSyntax{UID: uid}, true
	case ExplicitVRBigEndian:
		return TransferSyntax{UID: uid, BigEndian: true}, true
	}
	return TransferSyntax{}, false
}

// PreferredTransferSyntaxes lists the syntaxes we accept, best first:
// Explicit VR LE keeps VRs for sloppy private tags, Implicit LE is what every
// device supports, retired Big Endian only for old devices that offer nothing
// else.
var PreferredTransferSyntaxes = []string{ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian}
