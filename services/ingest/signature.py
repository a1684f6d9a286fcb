"""Lightspeed eCom webhook signatures.

``X-Signature`` is the lowercase hex MD5 of the raw request body followed by the
app's secret. It must be computed over the raw bytes, because re-serialising
the JSON changes number formatting.
"""

from __future__ import annotations

import hashlib
import hmac


def sign(body: bytes, secret: str) -> str:
    """Return the signature Lightspeed sends for ``body``."""
    return hashlib.md5(body + secret.encode()).hexdigest()


def is_valid_signature(body: bytes, secret: str, signature: str | None) -> bool:
    """Return whether ``signature`` matches ``body``, comparing in constant time."""
    if not signature:
        return False
    return hmac.compare_digest(sign(body, secret).encode(), signature.strip().lower().encode())
