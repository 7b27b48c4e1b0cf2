"""Firehose → S3 objects, checked one by one: the key format, body splitting, listing the objects.

The first layer of :mod:`pytest_kinesis_limits.firehose` (imports nothing else of the package). Everything here
works the same against AWS, a moto server or in-process moto: it only talks to S3 through a boto3 client.

Documented formats (see docs/firehose.md):

* S3 key (https://docs.aws.amazon.com/firehose/latest/dev/s3-object-name.html):
  ``<evaluated prefix><name>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid><file extension>``. Without a custom prefix
  the evaluated prefix is the UTC time ``YYYY/MM/DD/HH/``; a custom prefix with no ``!{timestamp:...}``
  expression gets that time prefix appended (s3-prefixes.html, "Semantic rules").
* Body: the records' bytes concatenated with no delimiter, unless the ``AppendDelimiterToRecord`` processor
  is configured (then each record is followed by ``\\n``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


#: What AppendDelimiterToRecord appends after each record.
NEWLINE_DELIMITER = b"\n"

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_STAMP = r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}"
_HOUR_DIRS = re.compile(r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<h>\d{2})/")
_EXPRESSION = re.compile(r"!\{(?P<ns>[A-Za-z]+):(?P<value>[^}]*)\}")


# ------------------------------------------------------------------------------------------------ keys
@dataclass(frozen=True)
class ParsedKey:
    """The parts of a delivered object's key."""

    key: str
    prefix: str
    """Everything before the file name: the UTC ``YYYY/MM/DD/HH/`` or the evaluated custom prefix."""
    name: str
    version: int
    timestamp: datetime
    """The ``YYYY-MM-DD-HH-MM-SS`` in the file name, as an aware UTC datetime."""
    random: str
    hour_prefix: datetime | None = None
    """The ``YYYY/MM/DD/HH/`` part of the prefix as a UTC datetime, when the key has one."""
    extension: str = ""


_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def uuid4_text(n: int) -> str:
    """``str(uuid.UUID(int=n, version=4))`` without building a UUID: the version and variant bits set, the hex in
    8-4-4-4-12 groups. The offline layer's key ``<uuid>`` parts and the search stand-in's document ids (building a
    UUID was a third of the cost of indexing one of the seed's 55,000 documents)."""
    h = "%032x" % ((n & _UUID4_CLEAR) | _UUID4_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _parse_utc(text: str, fmt: str, what: str, key: str) -> datetime:
    try:
        return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
    except ValueError:
        raise ValueError(f"S3 key {key!r}: {what} {text!r} is not a valid UTC date/time") from None


def _prefix_pattern(prefix: str) -> str:
    """A regex for a configured prefix: literal text, each ``!{...}`` expression matching any non-empty text."""
    parts, pos = [], 0
    for match in _EXPRESSION.finditer(prefix):
        parts.append(re.escape(prefix[pos:match.start()]))
        parts.append(r".+?")
        pos = match.end()
    parts.append(re.escape(prefix[pos:]))
    return "".join(parts)


def _has_timestamp_expression(prefix: str) -> bool:
    return any(m.group("ns") == "timestamp" for m in _EXPRESSION.finditer(prefix))


def parse_key(key: str, stream_name: str | None, prefix: str | None = None, *, file_extension: str = "") -> ParsedKey:
    """Parse and validate ``key`` as an object Firehose delivered for ``stream_name``.

    ``stream_name=None`` accepts any delivery stream name (names may contain hyphens: the name is what comes
    before ``-<version>-<timestamp>-<uuid>``). ``prefix`` is the delivery stream's configured ``Prefix``:
    ``None``/empty means the key starts with the UTC ``YYYY/MM/DD/HH/``; a prefix without a timestamp
    expression is followed by ``YYYY/MM/DD/HH/``; expressions in it match any text. Raises ``ValueError``
    naming the first part that is wrong.
    """
    rest = key
    hour_prefix: datetime | None = None
    if prefix:
        match = re.match(_prefix_pattern(prefix), rest)
        if not match:
            raise ValueError(f"S3 key {key!r} does not start with the configured prefix {prefix!r}")
        rest = rest[match.end():]
    if not prefix or not _has_timestamp_expression(prefix):
        hours = _HOUR_DIRS.match(rest)
        if not hours:
            where = f"after the prefix {prefix!r}" if prefix else "at the start"
            raise ValueError(f"S3 key {key!r}: expected the UTC time prefix YYYY/MM/DD/HH/ {where}, found "
                             f"{rest[:14]!r}")
        hour_prefix = _parse_utc("".join(hours.groups()), "%Y%m%d%H", "time prefix", key)
        rest = rest[hours.end():]
    evaluated_prefix = key[: len(key) - len(rest)]
    if "/" in rest:
        raise ValueError(f"S3 key {key!r}: unexpected path part {rest[: rest.index('/') + 1]!r} before the "
                         f"file name")
    if file_extension:
        if not rest.endswith(file_extension):
            raise ValueError(f"S3 key {key!r}: expected the file extension {file_extension!r}")
        rest = rest[: -len(file_extension)]
    name_re = re.escape(stream_name) if stream_name is not None else r".+"
    if stream_name is not None and not rest.startswith(stream_name + "-"):
        raise ValueError(f"S3 key {key!r}: file name {rest!r} does not start with the delivery stream name "
                         f"{stream_name!r} followed by '-'")
    full = re.fullmatch(rf"(?P<name>{name_re})-(?P<version>[^-]*)-(?P<stamp>{_STAMP})-(?P<random>.*)", rest)
    if not full:
        tail = rest[len(stream_name) + 1:] if stream_name is not None else rest
        if not re.match(r"\d+-", tail) and stream_name is not None:
            raise ValueError(f"S3 key {key!r}: expected '<version>-' (digits) after the delivery stream name "
                             f"{stream_name!r}, found {tail[:12]!r} (wrong name?)")
        raise ValueError(f"S3 key {key!r}: expected '<version>-YYYY-MM-DD-HH-MM-SS-<uuid>' after the name, "
                         f"found {tail!r}")
    version = full.group("version")
    if not version.isdigit() or int(version) < 1:
        raise ValueError(f"S3 key {key!r}: DeliveryStreamVersion {version!r} is not a positive integer")
    stamp = _parse_utc(full.group("stamp"), "%Y-%m-%d-%H-%M-%S", "timestamp", key)
    random_part = full.group("random")
    if not re.fullmatch(_UUID, random_part):
        raise ValueError(f"S3 key {key!r}: random part {random_part!r} is not a UUID "
                         f"(8-4-4-4-12 hexadecimal digits)")
    return ParsedKey(key=key, prefix=evaluated_prefix, name=full.group("name"), version=int(version),
                     timestamp=stamp, random=random_part, hour_prefix=hour_prefix, extension=file_extension)


_JAVA_TOKENS = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}


def _java_time(pattern: str, when: datetime) -> str:
    """Evaluate the common Java DateTimeFormatter tokens (yyyy MM dd HH mm ss, quoted literals)."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "'":
            end = pattern.find("'", i + 1)
            end = len(pattern) if end < 0 else end
            out.append(pattern[i + 1:end])
            i = end + 1
            continue
        for token, fmt in _JAVA_TOKENS.items():
            if pattern.startswith(token, i):
                out.append(when.strftime(fmt))
                i += len(token)
                break
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


def evaluate_prefix(prefix: str | None, oldest_arrival: datetime, random_string: str = "") -> str:
    """The evaluated prefix Firehose would use: the UTC hour prefix by default, appended to a custom prefix
    without a timestamp expression; ``!{timestamp:...}`` and ``!{firehose:random-string}`` evaluated."""
    hour = oldest_arrival.astimezone(timezone.utc).strftime("%Y/%m/%d/%H/")
    if not prefix:
        return hour

    def _sub(match: re.Match[str]) -> str:
        if match.group("ns") == "timestamp":
            return _java_time(match.group("value"), oldest_arrival.astimezone(timezone.utc))
        if match.group("ns") == "firehose" and match.group("value") == "random-string":
            return random_string
        return match.group(0)

    evaluated = _EXPRESSION.sub(_sub, prefix)
    return evaluated if _has_timestamp_expression(prefix) else evaluated + hour


def format_key(stream_name: str, version: int, written_at: datetime, random: str, *, prefix: str | None = None,
               oldest_arrival: datetime | None = None, file_extension: str = "") -> str:
    """Build a key in Firehose's documented format (used by the offline simulation and by tests)."""
    stamp = written_at.astimezone(timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")
    head = evaluate_prefix(prefix, oldest_arrival or written_at)
    return f"{head}{stream_name}-{version}-{stamp}-{random}{file_extension}"


# ---------------------------------------------------------------------------------------------- bodies
class BodyFormatError(ValueError):
    """A delivered body is not what the caller expects (bad UTF-8 or JSON, unexpected delimiter)."""


@dataclass
class SplitBody:
    """The records found in one body and how they were separated."""

    records: list[Any]
    gaps: list[bytes]
    """What followed each record (``b""`` when the next record starts at once)."""
    leftover: bytes = b""
    """Raw mode: the bytes after the last matched record."""
    unmatched: list[bytes] = field(default_factory=list)
    """Raw mode: expected records not found, in order."""

    @property
    def newline_delimited(self) -> bool:
        """True when every record is followed by exactly one newline (AppendDelimiterToRecord)."""
        return bool(self.records) and all(gap == NEWLINE_DELIMITER for gap in self.gaps)


def _check_delimiter(split: SplitBody, delimiter: bytes | None, where: str) -> None:
    if delimiter is None:
        if split.newline_delimited:
            raise BodyFormatError(f"{where}: every record is followed by a newline: the body is newline-delimited "
                                  f"(AppendDelimiterToRecord?) but records were expected concatenated with no "
                                  f"delimiter")
    else:
        bad = [i for i, gap in enumerate(split.gaps) if gap != delimiter]
        if bad:
            raise BodyFormatError(f"{where}: record {bad[0]} is followed by {split.gaps[bad[0]]!r}, expected the "
                                  f"delimiter {delimiter!r} after every record")


def split_json_records(body: bytes, *, delimiter: bytes | None = None, where: str = "body") -> SplitBody:
    """Split a body of concatenated JSON records (UTF-8), decoding them one by one.

    With ``delimiter=None`` the records are expected back to back (whitespace between them is tolerated), and
    a body in which every record is followed by a newline is refused as newline-delimited; with a
    ``delimiter`` every record must be followed by exactly it. Raises :class:`BodyFormatError`.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyFormatError(f"{where}: not UTF-8 at byte {exc.start}") from None
    decoder = json.JSONDecoder()
    records: list[Any] = []
    gaps: list[bytes] = []
    pos = len(text) - len(text.lstrip())
    while pos < len(text):
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise BodyFormatError(f"{where}: record {len(records)} is not JSON at character {pos}: {exc.msg} "
                                  f"(near {text[pos:pos + 40]!r})") from None
        records.append(value)
        nxt = end
        while nxt < len(text) and text[nxt].isspace():
            nxt += 1
        gaps.append(text[end:nxt].encode("utf-8"))
        pos = nxt
    split = SplitBody(records=records, gaps=gaps)
    _check_delimiter(split, delimiter, where)
    return split


def split_raw_records(body: bytes, expected: Iterable[bytes], *, delimiter: bytes | None = None,
                      where: str = "body") -> SplitBody:
    """Match ``expected`` records, in order, against a body of concatenated raw bytes.

    Matching stops at the first expected record that is not next in the body; it and the ones after it are
    reported in ``unmatched`` and the rest of the body in ``leftover``. A newline between records is detected
    (and refused with ``delimiter=None``, as in :func:`split_json_records`).
    """
    wanted = list(expected)
    records: list[Any] = []
    gaps: list[bytes] = []
    pos = 0
    for index, record in enumerate(wanted):
        if body.startswith(record, pos):
            pos += len(record)
        else:
            return _finish_raw(body, pos, records, gaps, wanted[index:], delimiter, where)
        records.append(record)
        following = wanted[index + 1] if index + 1 < len(wanted) else None
        gap = b""
        for sep in [s for s in (delimiter, NEWLINE_DELIMITER) if s]:
            # A separator is only one when the next record does not itself start right here.
            if body.startswith(sep, pos) and (following is None or not body.startswith(following, pos)):
                gap = sep
                break
        gaps.append(gap)
        pos += len(gap)
    return _finish_raw(body, pos, records, gaps, [], delimiter, where)


def _finish_raw(body: bytes, pos: int, records: list[Any], gaps: list[bytes], unmatched: list[bytes],
                delimiter: bytes | None, where: str) -> SplitBody:
    split = SplitBody(records=records, gaps=gaps, leftover=body[pos:], unmatched=unmatched)
    if not unmatched and not split.leftover:
        _check_delimiter(split, delimiter, where)
    return split


# ------------------------------------------------------------------------------------- listing objects
@dataclass
class DeliveredObject:
    """One object in the destination bucket, with its key checked and its body split."""

    key: str
    parsed: ParsedKey | None
    key_error: str | None
    body: bytes
    records: list[Any]
    body_error: str | None
    last_modified: datetime | None

    @property
    def ok(self) -> bool:
        """True when both the key and the body are in the documented format."""
        return self.key_error is None and self.body_error is None


def _load_object(s3_client: Any, bucket: str, key: str, last_modified: datetime | None, stream_name: str | None,
                 key_prefix: str | None, decode: str, delimiter: bytes | None) -> DeliveredObject:
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    parsed, key_error = None, None
    try:
        parsed = parse_key(key, stream_name, key_prefix)
    except ValueError as exc:
        key_error = str(exc)
    records: list[Any] = []
    body_error = None
    if decode == "json":
        try:
            records = split_json_records(body, delimiter=delimiter, where=f"s3://{bucket}/{key}").records
        except BodyFormatError as exc:
            body_error = str(exc)
    return DeliveredObject(key, parsed, key_error, body, records, body_error, last_modified)


def list_delivered(s3_client: Any, bucket: str, prefix: str = "", *, stream_name: str | None = None,
                   key_prefix: str | None = None, decode: str = "json", delimiter: bytes | None = None,
                   page_size: int | None = None,
                   _cache: dict[str, DeliveredObject] | None = None) -> list[DeliveredObject]:
    """Every object under ``prefix`` in ``bucket`` (all pages), keys parsed and bodies split.

    ``stream_name``/``key_prefix`` are passed to :func:`parse_key` (``key_prefix`` is the delivery stream's
    configured Prefix; ``prefix`` only narrows the listing). ``decode="json"`` splits bodies into JSON records;
    ``decode="raw"`` keeps the bytes only (use :func:`split_raw_records`). Objects come sorted by the time in
    their key, then last-modified time, then key. ``page_size`` bounds the keys per ListObjectsV2 page.
    """
    if decode not in ("json", "raw"):
        raise ValueError(f"decode must be 'json' or 'raw', not {decode!r}")
    out = []
    paginator = s3_client.get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=bucket, Prefix=prefix,
                               PaginationConfig={"PageSize": page_size} if page_size else {})
    for page in pages:
        for item in page.get("Contents", []):
            key = item["Key"]
            if _cache is not None and key in _cache:
                out.append(_cache[key])
                continue
            obj = _load_object(s3_client, bucket, key, item.get("LastModified"), stream_name, key_prefix, decode,
                               delimiter)
            if _cache is not None:
                _cache[key] = obj
            out.append(obj)
    epoch = datetime.fromtimestamp(0, timezone.utc)
    out.sort(key=lambda o: (o.parsed.timestamp if o.parsed else epoch, o.last_modified or epoch, o.key))
    return out
