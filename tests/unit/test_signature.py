import hashlib

from services.ingest.signature import is_valid_signature, sign


def test_sign_is_md5_of_body_then_secret() -> None:
    body = b'{"order": {"id": 1, "priceIncl": 10.50}}'

    assert sign(body, "s3cret") == hashlib.md5(body + b"s3cret").hexdigest()


def test_valid_signature_accepted() -> None:
    body = b'{"order": {}}'

    assert is_valid_signature(body, "k", sign(body, "k"))
    assert is_valid_signature(body, "k", sign(body, "k").upper())


def test_wrong_or_missing_signature_rejected() -> None:
    body = b'{"order": {}}'

    assert not is_valid_signature(body, "k", None)
    assert not is_valid_signature(body, "k", "")
    assert not is_valid_signature(body, "k", sign(body, "other"))
    assert not is_valid_signature(body + b" ", "k", sign(body, "k"))
