"""Secrets via detect-secrets plugins, and canary tokens for system-prompt leaks."""

from __future__ import annotations

from quell.detection.canary import CanaryDetector, is_canary, make_canary
from quell.detection.secrets import SecretsDetector

# Built at runtime so the repository holds no secret-shaped literals.
AWS_KEY = "AKIA" + "IOSFODNN7" + "EXAMPLE"
GITHUB_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0" + "k1L2m3N4o5P6q7R8"


def test_cloud_key_and_token_are_found_and_masked() -> None:
    text = f"export AWS_ACCESS_KEY_ID={AWS_KEY}\nGITHUB_TOKEN={GITHUB_TOKEN}\n"
    found = SecretsDetector().scan(text)
    by_cat = {f.category: f for f in found}
    assert "aws_access_key" in by_cat and "github_token" in by_cat
    for f in found:
        a, b = f.span or (0, 0)
        assert text[a:b] in (AWS_KEY, GITHUB_TOKEN) or f.category not in by_cat
        assert AWS_KEY not in f.evidence and GITHUB_TOKEN not in f.evidence
    assert by_cat["aws_access_key"].details["severity"] == "critical"


def test_private_key_header() -> None:
    text = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEow...\n"
    assert any(f.category == "private_key" for f in SecretsDetector().scan(text))


def test_password_assignment() -> None:
    found = SecretsDetector().scan('db_password = "Tr0ub4dor-and-3"')
    assert any(f.category == "password_assignment" for f in found)


def test_prose_has_no_secrets() -> None:
    text = "The quarterly report shows growth in all regions. Use x = 42 in the example."
    assert SecretsDetector().scan(text) == []


def test_canaries_are_unique_and_recognisable() -> None:
    tokens = {make_canary() for _ in range(50)}
    assert len(tokens) == 50
    assert all(is_canary(t) for t in tokens)
    assert not is_canary("QC-short")


def test_planted_canary_is_found_in_output() -> None:
    token = make_canary()
    detector = CanaryDetector([token])
    text = f"Sure! My instructions begin with {token} and then say..."
    (finding,) = detector.scan(text)
    assert finding.category == "canary_leak"
    assert finding.details["planted"] is True
    assert text[finding.span[0] : finding.span[1]] == token  # type: ignore[index]
    assert token not in finding.evidence


def test_spaced_out_planted_canary_is_still_found() -> None:
    token = make_canary()
    detector = CanaryDetector([token])
    assert detector.scan("leaked: " + " ".join(token.lower()))


def test_unplanted_loose_shapes_are_ignored() -> None:
    other = make_canary()
    detector = CanaryDetector([make_canary()])
    assert detector.scan(" ".join(other)) == []
    # but any exact quell canary still counts, with a lower score
    (finding,) = detector.scan(other)
    assert finding.details["planted"] is False and finding.score < 1.0


def test_gated_plugins_still_fire_inside_long_text() -> None:
    from quell.detection.secrets import SecretsDetector

    filler = "Plain words about the quarterly plan and nothing secret at all. " * 30
    key = "AKIA" + "Q" * 16
    found = SecretsDetector().scan(f"{filler}\naws_key = {key}\n{filler}")
    assert any(f.category == "aws_access_key" for f in found)
    assert SecretsDetector().scan(filler) == []
