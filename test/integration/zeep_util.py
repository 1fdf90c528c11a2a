"""zeep clients for the Echo WSDL, with the exact request bytes captured for replay tests."""

import datetime

from zeep import Client
from zeep.transports import Transport
from zeep.wsse import utils
from zeep.wsse.username import UsernameToken

import wsg

BINDINGS = {"soap11": "{urn:example:echo}EchoSoap11Binding",
            "soap12": "{urn:example:echo}EchoSoap12Binding"}


class CapturingTransport(Transport):
    """Keeps the body and headers of the last POST, exactly as sent."""

    def __init__(self):
        super().__init__(session=wsg.http_session(), timeout=30, operation_timeout=30)
        self.last_body = None
        self.last_headers = None

    def post(self, address, message, headers):
        self.last_body = message if isinstance(message, bytes) else message.encode("utf-8")
        self.last_headers = dict(headers)
        wsg.remember_secrets(self.last_body)
        return super().post(address, message, headers)


def timestamp_element(ttl=300):
    """A wsu:Timestamp (UTC, ms, Z) for UsernameToken(timestamp_token=...)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ts = utils.WSU.Timestamp()
    ts.append(utils.WSU.Created(wsg.wsse_request.utc_stamp(now)))
    ts.append(utils.WSU.Expires(wsg.wsse_request.utc_stamp(now + datetime.timedelta(seconds=ttl))))
    return ts


def client(user, password, use_digest, timestamp=False, zulu=None):
    """A zeep Client for echo.wsdl with a UsernameToken; returns (client, transport)."""
    transport = CapturingTransport()
    token = UsernameToken(user, password, use_digest=use_digest,
                          timestamp_token=timestamp_element() if timestamp else None,
                          zulu_timestamp=zulu)
    return Client(wsg.WSDL, transport=transport, wsse=token), transport


def service(c, binding, address):
    return c.create_service(BINDINGS[binding], address)
