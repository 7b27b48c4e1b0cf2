"""What a live run costs: the prices of what it uses, per region, each with its source and the date it was read,
and the billing rules the plan applies (shard-hours, PUT payload units, Firehose ingestion, OpenSearch instances).

AWS's pricing pages render their numbers in the browser, so no stored copy of the pages holds them; the figures
below come from copies of AWS's price list (its ``usagetype`` names: ``Storage-ShardHour``,
``PutRequestPayloadUnits``) and from AWS bills and pricing texts quoted in public repositories and issue threads,
each named in ``source``. ``verified`` is False where no copy was found for that region: the plan then uses the
highest figure known for the item in any region (an upper estimate) and says so. ``docs/live-budget.md`` has the
table; check a figure on https://aws.amazon.com/kinesis/data-streams/pricing/ before relying on it.

The billing rule of shard-hours (:data:`SHARD_HOUR_RULE`): AWS charges each shard "at an hourly rate" and does
not say how a partial hour is billed; an AWS bill quoted in amazon-archives/amazon-kinesis-data-visualization-
sample#5 (2018) lists "9,515.972 ShardHour" at "$0.015 per provisioned shard-hour", so usage is metered in
fractions of an hour (to 0.001 h at least). The plan prorates each shard's life, counted conservatively (from the
call that opened it to the end of the typical window after the call that closed it) and rounded up to 0.001 h,
and also prints the bound where every shard's partial hour is billed as a whole hour.

Library code: no pytest, no boto3.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

#: Seconds per metering step of a shard-hour: 0.001 h (the bill above shows three decimals).
SHARD_METERING_S = 3.6
#: A PUT payload unit is a 25 KB chunk of a record ("a 5KB record contains one PUT Payload Unit, a 45KB record
#: contains two ..., and a 1MB record contains 40"): counted here in chunks of 25,000 bytes of data plus partition
#: key, the larger count (a 1 MiB record makes 42).
PUT_PAYLOAD_UNIT_BYTES = 25_000
#: Firehose bills ingestion "in 5 KB increments (a 3 KB record is billed as 5 KB, a 12 KB record as 15 KB)", per
#: record: counted here in 5 KiB steps of each record the delivery stream reads, and GB of 10**9 bytes.
FIREHOSE_RECORD_STEP_BYTES = 5 * 1024
GB = 10**9

SRC_KDS_PRICING = "https://aws.amazon.com/kinesis/data-streams/pricing/"
SRC_FIREHOSE_PRICING = "https://aws.amazon.com/firehose/pricing/"
SRC_OS_PRICING = "https://aws.amazon.com/opensearch-service/pricing/"
SRC_BILL_2018 = ("an AWS bill quoted in github.com/amazon-archives/amazon-kinesis-data-visualization-sample/issues/5 "
                 "(2018-04): '$0.015 per provisioned shard-hour 9,515.972 ShardHour'")
SRC_US_COPIES = ("github.com/mattrobinsonsre/terrapod/issues/1003 (2026-07: per shard-hour $0.015); "
                 "github.com/i05nagai/memorandum cloud/aws/kinesis_streams.md (us-east-2: 0.015 USD per shard-hour, "
                 "0.014 USD per 1,000,000 PUT payload units)")
SRC_APN1_COPY = ("a copy of AWS's price list in a public repository (usage types APN1-Storage-ShardHour 0.0195, "
                 "APN1-PutRequestPayloadUnits 0.0000000215 USD per unit; 2026-09)")
SRC_EUC1_COPY = ("a public repository's test of its rates against the AWS Price List Bulk API, 2026-04-24 "
                 "(eu-central-1 KinesisShardHourly 0.018)")
SRC_FIREHOSE_US = ("github.com/i05nagai/memorandum cloud/aws/kinesis_firehose.md: 0.029 USD per GB for the first "
                   "500 TB a month (US)")
SRC_FIREHOSE_ROUNDING = ("AWS's Firehose pricing page, quoted in www.shigemk2.com/entry/2022/01/12/210322: billed per GB "
                         "ingested in 5 KB increments, per record, not per API call")
SRC_OD_US = ("the Kinesis pricing page's on-demand example figures as copied in public repositories (us-east-1: "
             "0.04 USD per stream-hour, 0.08 USD per GB written)")
SRC_OS_CATALOGUE = "limits catalogue price.opensearch.t3_small_search (36 mUSD/hour, us-east-1)"
SRC_EFO_COPY = ("infracost's AWS price-list test output for aws_kinesis_stream (us-east-1 and us-east-2): "
                "'Enhanced Fan Out (EFO) 100 consumer-shard hour $1.50', 'Enhanced Fan Out (EFO) Data retrieval 100 GB "
                "$1.30'")
READ = "2026-11-29"

SHARD_HOUR_RULE = (
    "shard-hours are prorated: AWS charges each shard 'at an hourly rate' and does not say how a partial hour is "
    f"billed; {SRC_BILL_2018} shows fractions of an hour billed. Each shard counts from the call that opened it "
    "(CreateStream, or the reshard that made it) to the end of the typical window after the call that closed it "
    "(DeleteStream: lifecycle.stream.deleting_s; a reshard's parents: lifecycle.stream.updating_s.reshard), rounded "
    f"up to 0.001 h ({SHARD_METERING_S:g} s); the plan also prints the bound where every shard's partial hour is a "
    "whole hour")


@dataclass(frozen=True)
class Price:
    """One price: ``usd`` per ``unit`` of ``item`` in ``region``, where it was read and when."""

    item: str
    region: str
    usd: float
    unit: str
    source: str
    as_of: str
    verified: bool = True
    note: str = ""
    #: How an unverified figure may be off, in a few words for the plan's lines: "upper estimate" (a dearer
    #: region's), "third-party copy" (this region's, copied by others), "likely low" (us-east-1's for another
    #: region: AWS's prices are lowest there).
    caveat: str = ""

    @property
    def flag(self) -> str:
        """What the plan prints beside a cost made with this price ("" when verified)."""
        return "" if self.verified else f" (unverified: {self.caveat or 'upper estimate'})"


ITEMS = {
    "kinesis.shard_hour": "provisioned shard-hour",
    "kinesis.put_payload_units": "1,000,000 PUT payload units (25 KB chunks)",
    "kinesis.on_demand_stream_hour": "on-demand stream-hour",
    "kinesis.on_demand_gb_written": "GB written to an on-demand stream",
    "firehose.gb_ingested": "GB ingested by Firehose (records in 5 KB steps)",
    "opensearch.t3_small_search_hour": "t3.small.search instance-hour",
    "kinesis.efo_consumer_shard_hour": "enhanced fan-out consumer-shard-hour (EFO shard-hour)",
    "kinesis.efo_gb_retrieved": "GB retrieved through enhanced fan-out",
}

PRICES: tuple[Price, ...] = (
    Price("kinesis.shard_hour", "us-east-1", 0.015, "USD/shard-hour", f"{SRC_KDS_PRICING}; {SRC_BILL_2018}; "
          f"{SRC_US_COPIES}", READ),
    Price("kinesis.put_payload_units", "us-east-1", 0.014, "USD/1M units", f"{SRC_KDS_PRICING}; {SRC_US_COPIES}", READ),
    Price("kinesis.on_demand_stream_hour", "us-east-1", 0.04, "USD/stream-hour", f"{SRC_KDS_PRICING}; {SRC_OD_US}",
          READ, verified=False, note="third-party copies only", caveat="third-party copy"),
    Price("kinesis.on_demand_gb_written", "us-east-1", 0.08, "USD/GB", f"{SRC_KDS_PRICING}; {SRC_OD_US}", READ,
          verified=False, note="third-party copies only", caveat="third-party copy"),
    Price("firehose.gb_ingested", "us-east-1", 0.029, "USD/GB", f"{SRC_FIREHOSE_PRICING}; {SRC_FIREHOSE_US}", READ,
          verified=False, note="first tier; a third-party copy only", caveat="third-party copy"),
    Price("opensearch.t3_small_search_hour", "us-east-1", 0.036, "USD/instance-hour",
          f"{SRC_OS_PRICING}; {SRC_OS_CATALOGUE}", READ, note="plus about 10 GiB of gp3 storage (under 0.01 USD/day)"),
    Price("kinesis.efo_consumer_shard_hour", "us-east-1", 0.015, "USD/EFO shard-hour",
          f"{SRC_KDS_PRICING}; {SRC_EFO_COPY}", "2026-12-06", verified=False, note="a third-party copy only",
          caveat="third-party copy"),
    Price("kinesis.efo_gb_retrieved", "us-east-1", 0.013, "USD/GB", f"{SRC_KDS_PRICING}; {SRC_EFO_COPY}", "2026-12-06",
          verified=False, note="a third-party copy only", caveat="third-party copy"),
    Price("kinesis.shard_hour", "eu-central-1", 0.018, "USD/shard-hour", f"{SRC_KDS_PRICING}; {SRC_EUC1_COPY}", READ),
    Price("kinesis.shard_hour", "ap-northeast-1", 0.0195, "USD/shard-hour", f"{SRC_KDS_PRICING}; {SRC_APN1_COPY}",
          READ),
    Price("kinesis.put_payload_units", "ap-northeast-1", 0.0215, "USD/1M units", f"{SRC_KDS_PRICING}; "
          f"{SRC_APN1_COPY}", READ, verified=False, note="another copy says 0.0182; the higher is kept",
          caveat="upper estimate"),
    # Seoul, where the seed ran: no copy of AWS's figures was found. Tokyo's, the highest of the region's
    # neighbours found, stand in as an upper estimate until a live bill (or the pricing page) says otherwise.
    Price("kinesis.shard_hour", "ap-northeast-2", 0.0195, "USD/shard-hour", f"{SRC_KDS_PRICING}; as Tokyo: "
          f"{SRC_APN1_COPY}", READ, verified=False, note="unverified: Tokyo's price as an upper estimate",
          caveat="upper estimate"),
    Price("kinesis.put_payload_units", "ap-northeast-2", 0.0215, "USD/1M units", f"{SRC_KDS_PRICING}; as Tokyo: "
          f"{SRC_APN1_COPY}", READ, verified=False, note="unverified: Tokyo's price as an upper estimate",
          caveat="upper estimate"),
)


def price(item: str, region: str) -> Price:
    """The price of ``item`` in ``region``; where the table has none for the region, the highest it has for the
    item in any region, marked unverified and saying so in its note."""
    if item not in ITEMS:
        raise KeyError(f"no priced item {item!r}; known: {', '.join(sorted(ITEMS))}")
    exact = [p for p in PRICES if p.item == item and p.region == region]
    if exact:
        return exact[0]
    known = [p for p in PRICES if p.item == item]
    highest = max(known, key=lambda p: p.usd)
    if {p.region for p in known} == {"us-east-1"}:  # the only figure is the region where AWS's prices are lowest
        return replace(highest, region=region, verified=False, caveat="likely low",
                       note=f"no price for {region} in the table: us-east-1's, where AWS's prices are usually lowest, "
                            "so likely below the real one")
    return replace(highest, region=region, verified=False, caveat="upper estimate",
                   note=f"no price for {region} in the table: {highest.region}'s, the highest known, as an upper "
                        "estimate")


def metered_hours(seconds: float) -> float:
    """A shard's life in hours, rounded up to the metering step (0.001 h)."""
    if seconds <= 0:
        return 0.0
    return math.ceil(round(seconds / SHARD_METERING_S, 6)) * SHARD_METERING_S / 3600


def whole_hours(seconds: float) -> int:
    """A shard's life with every partial hour billed as a whole one (the upper bound the plan also prints)."""
    return math.ceil(round(seconds / 3600, 9)) if seconds > 0 else 0


def put_payload_units(size: int) -> int:
    """PUT payload units of one record of ``size`` bytes (data plus partition key), at least one."""
    return max(1, math.ceil(size / PUT_PAYLOAD_UNIT_BYTES))


def firehose_billed_bytes(size: int) -> int:
    """Bytes Firehose bills for one record of ``size`` bytes (5 KB steps)."""
    return max(1, math.ceil(size / FIREHOSE_RECORD_STEP_BYTES)) * FIREHOSE_RECORD_STEP_BYTES


@dataclass(frozen=True)
class Cost:
    """The cost of a run's use in one region: items (name, quantity, unit, price, USD) and the total."""

    region: str
    lines: tuple[tuple[str, float, str, Price, float], ...]

    @property
    def usd(self) -> float:
        return sum(line[4] for line in self.lines)

    @property
    def unverified(self) -> list[Price]:
        return [line[3] for line in self.lines if not line[3].verified and line[4] > 0]

    def to_json(self) -> dict[str, object]:
        return {"region": self.region, "usd": round(self.usd, 6), "items": [
            {"item": p.item, "quantity": round(q, 6), "unit": unit, "usd_per_unit": p.usd, "usd": round(usd, 6),
             "source": p.source, "as_of": p.as_of, "verified": p.verified, "note": p.note}
            for _, q, unit, p, usd in self.lines]}


def cost(quantities: Mapping[str, float], region: str) -> Cost:
    """The cost of ``quantities`` (keys: ``shard_hours``, ``put_payload_units``, ``on_demand_stream_hours``,
    ``on_demand_bytes``, ``firehose_billed_bytes``, ``search_instance_hours``, ``consumer_shard_hours``,
    ``efo_bytes``) in ``region``."""
    table = (
        ("shard_hours", "kinesis.shard_hour", 1.0, "shard-hours"),
        ("put_payload_units", "kinesis.put_payload_units", 1e-6, "M units"),
        ("on_demand_stream_hours", "kinesis.on_demand_stream_hour", 1.0, "stream-hours"),
        ("on_demand_bytes", "kinesis.on_demand_gb_written", 1 / GB, "GB"),
        ("firehose_billed_bytes", "firehose.gb_ingested", 1 / GB, "GB"),
        ("search_instance_hours", "opensearch.t3_small_search_hour", 1.0, "instance-hours"),
        ("consumer_shard_hours", "kinesis.efo_consumer_shard_hour", 1.0, "EFO shard-hours"),
        ("efo_bytes", "kinesis.efo_gb_retrieved", 1 / GB, "GB"),
    )
    lines = []
    for key, item, scale, unit in table:
        quantity = float(quantities.get(key, 0.0)) * scale
        if quantity <= 0:
            continue
        p = price(item, region)
        lines.append((item, quantity, unit, p, quantity * p.usd))
    return Cost(region=region, lines=tuple(lines))


def prices_markdown() -> str:
    """The price table as Markdown (docs/limits.md, after the catalogue; a test keeps the page equal)."""
    lines = ["", "## Prices (live/pricing.py)", "",
             "What the plan (`--kinesis-plan`) prices a live run with. An unverified figure says how it may be off "
             "(a dearer region's: an upper estimate; a third-party copy; us-east-1's for another region: likely low, "
             "as AWS's prices are usually lowest there). A region missing here is priced at the highest figure known "
             "for the item. Billing rule: "
             f"{SHARD_HOUR_RULE}.", "",
             "| item | region | USD | unit | verified | source | as of | note |",
             "|---|---|---:|---|---|---|---|---|"]
    for p in PRICES:
        lines.append(f"| `{p.item}` | {p.region} | {p.usd:g} | {p.unit} | {'yes' if p.verified else 'no'} | "
                     f"{p.source} | {p.as_of} | {p.note} |")
    return "\n".join(lines) + "\n"


__all__ = ["Cost", "ITEMS", "PRICES", "Price", "SHARD_HOUR_RULE", "cost", "firehose_billed_bytes", "metered_hours",
           "price", "prices_markdown", "put_payload_units", "whole_hours"]
