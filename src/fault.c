#include "fault.h"

static const char *const names[WSG_FAULT__COUNT] = {
        [WSG_FAULT_NONE] = "-",
        [WSG_FAULT_FAILED_AUTHENTICATION] = "wsse:FailedAuthentication",
        [WSG_FAULT_INVALID_SECURITY] = "wsse:InvalidSecurity",
        [WSG_FAULT_INVALID_SECURITY_TOKEN] = "wsse:InvalidSecurityToken",
        [WSG_FAULT_UNSUPPORTED_SECURITY_TOKEN] =
                "wsse:UnsupportedSecurityToken",
        [WSG_FAULT_MESSAGE_EXPIRED] = "wsse:MessageExpired",
        [WSG_FAULT_VERSION_MISMATCH] = "soap:VersionMismatch",
        [WSG_FAULT_MUST_UNDERSTAND] = "soap:MustUnderstand",
        [WSG_FAULT_CLIENT] = "soap:Client",
        [WSG_FAULT_SERVER] = "soap:Server",
        [WSG_FAULT_UPSTREAM_ERROR] = "soap:Server.UpstreamError",
        [WSG_FAULT_UPSTREAM_TIMEOUT] = "soap:Server.UpstreamTimeout",
        [WSG_FAULT_UNSUPPORTED_MEDIA] = "soap:Client.UnsupportedMediaType",
        [WSG_FAULT_NOT_FOUND] = "soap:Client.NotFound",
        [WSG_FAULT_METHOD] = "soap:Client.MethodNotAllowed",
        [WSG_FAULT_TOO_LARGE] = "soap:Client.TooLarge",
        [WSG_FAULT_TRY_LATER] = "soap:Server.TryLater",
        [WSG_FAULT_BUSY] = "soap:Server.Busy",
        [WSG_FAULT_BAD_PATH] = "soap:Client.BadPath",
        [WSG_FAULT_MULTIPART] = "soap:Client.Multipart",
        [WSG_FAULT_FAILED_CHECK] = "wsse:FailedCheck",
        [WSG_FAULT_SECURITY_TOKEN_UNAVAILABLE] =
                "wsse:SecurityTokenUnavailable",
};

const char *
wsg_fault_name(enum wsg_fault fault)
{
	if ((int)fault < WSG_FAULT_NONE || fault >= WSG_FAULT__COUNT)
		return "-";
	return names[fault];
}
