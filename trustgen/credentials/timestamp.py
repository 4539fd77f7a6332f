"""Time stamps: when an RFC 3161 authority's failure is worth another try, and how it is told.

A manifest without a time stamp is judged at the time it is read: once the signing certificate
expires, it reads ``signingCredential.expired`` and the credentials are invalid. A time stamp
proves the signature existed while the certificate was valid, so it keeps verifying.

c2pa-rs asks the authority itself, inside ``Builder.sign``, and reports its failures only as
text; a c2pa builder signs once (it is closed after any attempt), so a retry signs anew.
Unreachable authorities and server errors (HTTP 5xx, 408, 429) are tried ``TRIES`` times with
exponential backoff; an answer that can never become a usable time stamp fails at once. Either
way the error is one line naming the authority and the cause. c2pa waits up to 30 s for each
answer, so an authority that never answers costs at most 3 x 30 s plus 1.5 s of backoff.
"""

from __future__ import annotations

import functools
import inspect
import re
import time
from typing import Callable, NamedTuple, TypeVar

from ..errors import SigningError

#: Requests per signature, and the wait before the second one (doubled before each next one).
TRIES = 3
FIRST_DELAY_S = 0.5

_UNREACHABLE = ("http resolver", "unable to complete http request")
_HTTP_STATUS = re.compile(
    r'service responded with an HTTP error \(status = (\d+), content-type = (?:Some\("([^"]*)"\)|None)')
_BAD_ANSWER = ("decode error", "nonce mismatch", "time stamp", "timestamp")
_TRANSIENT_STATUS = frozenset({408, 429})
_INTERNAL = re.compile(r"^(?:Signature: )?internal error \((.*)\)$")

F = TypeVar("F", bound=Callable)


class TimeStampError(SigningError):
    """The time-stamp authority could not stamp a signature; nothing was signed."""


class _Failure(NamedTuple):
    """What went wrong at the authority, for the message, and whether to try again."""

    cause: str
    transient: bool


def _failure(message: str) -> _Failure | None:
    """The authority's failure in c2pa's signing error ``message``; None if it is not one."""
    inner = _INTERNAL.match(message.strip())
    if inner is None:
        return None
    text = inner.group(1)
    lowered = text.lower()
    if any(marker in lowered for marker in _UNREACHABLE):
        return _Failure("did not answer (connection refused, host not found, or timed out)", True)
    status = _HTTP_STATUS.search(text)
    if status:
        code, content_type = int(status.group(1)), status.group(2)
        if code == 200:  # c2pa calls any other content type an HTTP error too
            return _Failure(f"answered {content_type or 'without a content type'}, "
                            "not an RFC 3161 time-stamp reply", False)
        return _Failure(f"answered HTTP {code}", code >= 500 or code in _TRANSIENT_STATUS)
    if any(marker in lowered for marker in _BAD_ANSWER):
        return _Failure(f"sent an unusable answer: {text}", False)
    return None


def retry_time_stamp(sign: F) -> F:
    """Decorate a function that signs with its ``signer`` argument: when the signer's
    time-stamp authority fails, sign again after 0.5 s, 1 s, ... (``TRIES`` in all), then
    raise ``TimeStampError``. Other failures pass through untouched."""
    signature = inspect.signature(sign)

    @functools.wraps(sign)
    def signing(*args, **kwargs):
        url = signature.bind(*args, **kwargs).arguments["signer"].tsa_url
        if not url:
            return sign(*args, **kwargs)
        tries, delay = 1, FIRST_DELAY_S
        while True:
            try:
                return sign(*args, **kwargs)
            except SigningError as err:
                failure = _failure(err.message)
                if failure is None:
                    raise
                if not failure.transient or tries == TRIES:
                    after = f"; tried {tries} times" if tries > 1 else ""
                    raise TimeStampError(f"time-stamp authority {url} {failure.cause}{after}") from None
            time.sleep(delay)
            tries, delay = tries + 1, delay * 2

    return signing  # type: ignore[return-value]
