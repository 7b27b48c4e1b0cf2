"""The limit families, each declared once: every place that lists families reads :data:`FAMILIES`.

A family is a file of tests in ``tests/limits`` (``test_<name>.py``) whose test functions are named ``test_<name>...``,
selected with ``pytest tests/limits -k <name>``. Its entry says what the rest of the tool needs to know of it:

- ``series``: the kind of per-second series its verdicts keep (``reporting.series`` builds it, ``reporting.plots``
  draws it; None: the family keeps no series);
- ``fixtures``: the fixtures it adds beyond :data:`COMMON_FIXTURES` (a test that uses any Kinesis fixture gets the
  plugin's timeout and the offline layer);
- ``one_worker``: endpoint runs under xdist keep the family on one worker (its verdicts need a producer offering
  its load on the wall clock, which producers on other workers of a small machine would compete for).

The family's place in :data:`FAMILIES` is its place in the conformance matrix and in the reports.

Adding a family: a ``test_<name>.py`` in ``tests/limits``, an entry here, and, if it keeps a new kind of series, a
figure for it in ``reporting/plots.py`` (``tests/unit/test_families.py`` fails until every kind has one).
"""

from __future__ import annotations

from dataclasses import dataclass

#: The fixtures through which any test uses Kinesis (or the services beside it), whatever its family.
COMMON_FIXTURES = frozenset({
    "kinesis_backend", "kinesis_client", "kinesis_client_no_retry", "firehose_client", "s3_client", "iam_client",
    "make_stream", "kinesis_stream", "make_bucket", "s3_bucket", "kinesis_fidelity", "read_records",
    "kinesis_shared_stream", "lease_shared_stream", "kinesis_endpoint",
})


@dataclass(frozen=True)
class Family:
    """One limit family (module doc)."""

    name: str
    series: str | None = None
    fixtures: frozenset[str] = frozenset()
    one_worker: bool = False

    @property
    def test_prefix(self) -> str:
        """How its tests are recognised: the test function's name starts with this (``test_<name>``)."""
        return f"test_{self.name}"

    @property
    def module(self) -> str:
        """Its file in ``tests/limits``."""
        return f"test_{self.name}.py"


FAMILIES: tuple[Family, ...] = (
    Family("put_records"),
    Family("throughput", series="throughput", one_worker=True),
    Family("resharding", series="resharding"),
    Family("firehose", series="firehose",
           fixtures=frozenset({"make_delivery_stream", "firehose_delivery_stream", "wait_for_delivery"})),
    Family("search_index", fixtures=frozenset({"search_target", "search_index"})),
    Family("fan_out", fixtures=frozenset({"make_consumer"})),
    Family("scale", series="throughput", fixtures=frozenset({"kinesis_swarm"}), one_worker=True),
)

#: The families, longest name first: the longest prefix wins, should one family's name start another's.
_LONGEST_NAME_FIRST = tuple(sorted(FAMILIES, key=lambda f: -len(f.name)))
#: Every fixture that makes a test a Kinesis test (the plugin's timeout, the offline layer).
KINESIS_FIXTURES = COMMON_FIXTURES.union(*(family.fixtures for family in FAMILIES))
#: The series kinds the families keep, in family order.
SERIES_KINDS = tuple(dict.fromkeys(family.series for family in FAMILIES if family.series))


def family_named(name: str) -> Family:
    """The family called ``name`` (KeyError naming the known ones otherwise)."""
    for family in FAMILIES:
        if family.name == name:
            return family
    raise KeyError(f"no family {name!r}; the families are {', '.join(f.name for f in FAMILIES)}")


def family_of(nodeid: str) -> Family | None:
    """The family of a test: by its function's name (``...::test_throughput_x[...]``), else by its file
    (``tests/limits/test_throughput.py``); None for a test of no family (the project's own, a user's)."""
    path = nodeid.partition("::")[0] if "::" in nodeid else ""
    name = nodeid.rsplit("::", 1)[-1]
    for family in _LONGEST_NAME_FIRST:
        if name.startswith(family.test_prefix):
            return family
    module = path.rsplit("/", 1)[-1]
    return next((family for family in FAMILIES if module == family.module), None)


def family_rank(nodeid: str) -> int:
    """The family's place in :data:`FAMILIES` (tests of no family after all of them)."""
    family = family_of(nodeid)
    return FAMILIES.index(family) if family is not None else len(FAMILIES)


def one_worker_families() -> tuple[Family, ...]:
    """The families an endpoint run under xdist keeps on one worker."""
    return tuple(family for family in FAMILIES if family.one_worker)


__all__ = ["COMMON_FIXTURES", "FAMILIES", "Family", "KINESIS_FIXTURES", "SERIES_KINDS", "family_named", "family_of",
           "family_rank", "one_worker_families"]
