"""Credentials in model output, found with the plugins of the maintained ``detect-secrets`` library.

The plugins' own regular expressions are run in-process over the text (no files, no baseline,
no network verification), so every finding keeps an exact span. Keyword and high-entropy
plugins are run line by line, as the library intends, with their values located in the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from quell.detection.base import Finding, cap_text, mark_truncated

ARCHETYPE = "data_exfiltration"

# detect-secrets type name -> our category. Types not listed get a slug of their name.
_CATEGORY = {
    "AWS Access Key": "aws_access_key",
    "Azure Storage Account access key": "azure_storage_key",
    "Private Key": "private_key",
    "GitHub Token": "github_token",
    "GitLab Token": "gitlab_token",
    "Slack Token": "slack_token",
    "Stripe Access Key": "stripe_key",
    "OpenAI Token": "openai_key",
    "JSON Web Token": "jwt",
    "Basic Auth Credentials": "basic_auth",
    "Secret Keyword": "password_assignment",
    "Base64 High Entropy String": "high_entropy_string",
    "Hex High Entropy String": "high_entropy_string",
}
# Plugins whose hits are noisy on prose; they get a lower score.
_SOFT_TYPES = {"Secret Keyword": 0.7, "Base64 High Entropy String": 0.6,
               "Hex High Entropy String": 0.55, "Artifactory Credentials": 0.6,
               "Twilio API Key": 0.7, "Mailchimp Access Key": 0.75}  # fmt: skip
# IP addresses are personal data, handled by the PII detector.
_SKIPPED_PLUGINS = frozenset({"IPPublicDetector"})

# Patterns detect-secrets has no plugin for (or that output text shows differently).
_EXTRA: tuple[tuple[str, str, float], ...] = (
    ("private_key", r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----", 0.99),
    ("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}\b", 0.95),
    ("anthropic_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}", 0.95),
    ("openai_key", r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{32,}", 0.85),
    ("huggingface_token", r"\bhf_[A-Za-z0-9]{30,}\b", 0.9),
    ("github_token", r"\bgithub_pat_[A-Za-z0-9_]{60,}\b", 0.95),
    ("connection_string",
     r"\b(?:postgres(?:ql)?|mysql|mongodb(?:\+srv)?|redis|amqp)://[^\s:/@]+:[^\s@/]{3,}@[^\s/]+",
     0.9),
    ("aws_secret_key",
     r"(?i)aws.{0,20}?secret.{0,20}?[\s:=\"']+([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])", 0.9),
)  # fmt: skip
_EXTRA_COMPILED = tuple((c, re.compile(p), s) for c, p, s in _EXTRA)
_CRITICAL = frozenset({"private_key", "aws_access_key", "aws_secret_key", "connection_string"})


# Lower-case strings of which every match of a category's patterns contains one (read off the
# plugins' patterns); a pattern only runs when its text holds one. Categories not listed always
# run. Keyword-style plugins all need one of the credential words.
_CREDENTIAL_WORDS = ("key", "pw", "pass", "token", "secret")
_GATES: dict[str, tuple[str, ...]] = {
    "artifactory_credentials": ("akc", "ap"),
    "aws_access_key": ("a3t", "abia", "acca", "akia", "asia", "aws"),
    "azure_storage_key": ("accountkey=",),
    "basic_auth": ("://",),
    "cloudant_credentials": (*_CREDENTIAL_WORDS, "cloudant"),
    "github_token": ("gh",),
    "gitlab_token": ("gl", "gr1348941"),
    "ibm_cloud_iam_key": _CREDENTIAL_WORDS,
    "ibm_cos_hmac_credentials": ("secret",),
    "jwt": ("eyj",),
    "mailchimp_access_key": ("-us",),
    "npm_tokens": ("_authtoken",),
    "openai_key": ("t3blbkfj",),
    "private_key": ("private", "putty"),
    "pypi_token": ("pypi-",),
    "sendgrid_api_key": ("sg.",),
    "slack_token": ("xox", "hooks.slack"),
    "softlayer_credentials": (*_CREDENTIAL_WORDS, "softlayer"),
    "square_oauth_secret": ("sq0csp-",),
    "stripe_key": ("k_live_",),
    "telegram_bot_token": (":",),
}
_EXTRA_GATES: dict[str, tuple[str, ...]] = {
    "private_key": ("private",),
    "google_api_key": ("aiza",),
    "anthropic_key": ("sk-ant-",),
    "openai_key": ("sk-",),
    "huggingface_token": ("hf_",),
    "github_token": ("github_pat_",),
    "connection_string": ("://",),
    "aws_secret_key": ("aws",),
}

_ALL_GATES = frozenset(g for gates in _GATES.values() for g in gates)


@dataclass(frozen=True, slots=True)
class _Pattern:
    category: str
    secret_type: str
    pattern: re.Pattern[str]
    score: float
    gate: tuple[str, ...] = ()


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


@lru_cache(maxsize=1)
def _regex_plugins() -> tuple[_Pattern, ...]:
    """Every regex-based detect-secrets plugin's patterns, compiled once."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector

    patterns: list[_Pattern] = []
    mapping: dict[str, type] = dict(get_mapping_from_secret_type_to_class())
    for secret_type, cls in mapping.items():
        if not issubclass(cls, RegexBasedDetector) or cls.__name__ in _SKIPPED_PLUGINS:
            continue
        category = _CATEGORY.get(secret_type, _slug(secret_type))
        score = _SOFT_TYPES.get(secret_type, 0.95)
        for regex in cls().denylist:
            patterns.append(_Pattern(category, secret_type, regex, score, _GATES.get(category, ())))
    return tuple(patterns)


def _line_plugins(entropy: bool) -> list[object]:
    """detect-secrets plugins that read whole lines (keyword assignments, high entropy)."""
    from detect_secrets.plugins.high_entropy_strings import (
        Base64HighEntropyString,
        HexHighEntropyString,
    )
    from detect_secrets.plugins.keyword import KeywordDetector

    plugins: list[object] = [KeywordDetector()]
    if entropy:
        plugins += [Base64HighEntropyString(), HexHighEntropyString()]
    return plugins


def mask_secret(value: str) -> str:
    """Show a secret's first and last few characters only."""
    if len(value) <= 8:
        return "*" * len(value)
    keep = 4 if len(value) > 16 else 2
    return f"{value[:keep]}{'*' * (len(value) - 2 * keep)}{value[-keep:]}"


# The words detect-secrets' keyword plugin looks for (its denylist, shortened to stems).
_KEYWORDS = ("key", "pass", "pwd", "secret", "contrase", "token")
_QUOTED_LONG = re.compile(r"[\"'`][^\"'`\s]{20,}[\"'`]")
# Cheap gate: keyword and entropy plugins only run on lines that look like an assignment.
_ASSIGNMENT_HINT = re.compile(r"[=:]\s*[\"']?[^\s\"']{8,}|[\"'][A-Za-z0-9+/=_-]{20,}[\"']")


class SecretsDetector:
    """Finds cloud keys, private keys, API tokens and passwords in text."""

    name = "secrets"

    def __init__(self, entropy: bool = True) -> None:
        self.patterns = _regex_plugins()
        self.line_plugins = _line_plugins(entropy)

    def scan(self, text: str) -> list[Finding]:
        """Return one finding per distinct secret, masked in the evidence."""
        capped, truncated = cap_text(text)
        found: list[Finding] = []
        taken: list[tuple[int, int]] = []
        low = capped.lower()
        for category, pattern, score in _EXTRA_COMPILED:
            if not any(g in low for g in _EXTRA_GATES.get(category, ("",))):
                continue
            for m in pattern.finditer(capped):
                span = m.span(1) if m.groups() else m.span()
                self._add(found, taken, category, "quell", score, span, capped)
        # Each gate string is looked for once per text, not once per pattern that names it.
        present = {g for g in _ALL_GATES if g in low}
        for p in self.patterns:
            if p.gate and present.isdisjoint(p.gate):
                continue
            for m in p.pattern.finditer(capped):
                # Some plugin patterns capture the secret, others capture a prefix only.
                inner = m.group(1) if m.groups() else None
                span = m.span(1) if inner and len(inner) >= 12 else m.span()
                span = _strip_edges(capped, span)
                self._add(found, taken, p.category, p.secret_type, p.score, span, capped)
        self._scan_lines(capped, found, taken)
        found.sort(key=lambda f: f.span or (0, 0))
        return mark_truncated(found) if truncated else found

    def _scan_lines(self, text: str, found: list[Finding], taken: list[tuple[int, int]]) -> None:
        offset = 0
        for line in text.split("\n"):
            if len(line) < 4000 and _ASSIGNMENT_HINT.search(line):
                low = line.lower()
                for plugin in self.line_plugins:
                    secret_type = str(getattr(plugin, "secret_type", "secret"))
                    if secret_type == "Secret Keyword" and not any(w in low for w in _KEYWORDS):
                        continue  # the keyword plugin only reports values after these words
                    if "Entropy" in secret_type and not _QUOTED_LONG.search(line):
                        continue  # and the entropy plugins only quoted strings
                    try:
                        values = set(plugin.analyze_string(line))  # type: ignore[attr-defined]
                    except Exception:  # a plugin bug must not stop the scan
                        continue
                    for value in values:
                        at = line.find(value)
                        if at < 0 or len(value) < (20 if "Entropy" in secret_type else 6):
                            continue
                        span = (offset + at, offset + at + len(value))
                        self._add(
                            found,
                            taken,
                            _CATEGORY.get(secret_type, _slug(secret_type)),
                            secret_type,
                            _SOFT_TYPES.get(secret_type, 0.7),
                            span,
                            text,
                        )
            offset += len(line) + 1

    @staticmethod
    def _add(found: list[Finding], taken: list[tuple[int, int]], category: str,
             secret_type: str, score: float, span: tuple[int, int], text: str) -> None:  # fmt: skip
        a, b = span
        if b <= a or any(a < tb and ta < b for ta, tb in taken):
            return
        taken.append(span)
        details: dict[str, object] = {"secret_type": secret_type}
        if category in _CRITICAL:
            details["severity"] = "critical"
        found.append(Finding("secrets", category, score, ARCHETYPE, span,
                             mask_secret(text[a:b]), details))  # fmt: skip


def _strip_edges(text: str, span: tuple[int, int]) -> tuple[int, int]:
    """Drop the quote, colon or space some plugin patterns include around the value."""
    a, b = span
    while a < b and text[a] in " \t\"'=:":
        a += 1
    while b > a and text[b - 1] in " \t\"'\n":
        b -= 1
    return a, b
