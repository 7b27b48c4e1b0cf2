"""The price table and billing rules the plan applies (pricing.py)."""

from __future__ import annotations

import pytest

from pytest_kinesis_limits.live import pricing


def test_shard_hours_are_metered_in_thousandths_rounded_up():
    assert pricing.metered_hours(0) == 0
    assert pricing.metered_hours(3600) == pytest.approx(1.0)
    assert pricing.metered_hours(3.6) == pytest.approx(0.001)
    assert pricing.metered_hours(3.7) == pytest.approx(0.002)  # a started step counts whole


def test_the_whole_hour_bound_bills_every_started_hour():
    assert [pricing.whole_hours(s) for s in (0, 1, 3600, 3601)] == [0, 1, 1, 2]


@pytest.mark.parametrize(("size", "units"), [(1, 1), (25_000, 1), (25_001, 2), (1024 * 1024, 42)])
def test_put_payload_units_are_25_kb_chunks(size, units):
    assert pricing.put_payload_units(size) == units


def test_firehose_bills_records_in_5_kb_steps():
    assert pricing.firehose_billed_bytes(3 * 1024) == 5 * 1024
    assert pricing.firehose_billed_bytes(12 * 1024) == 15 * 1024


def test_every_price_names_its_source_and_date():
    for price in pricing.PRICES:
        assert price.item in pricing.ITEMS
        assert price.source and price.as_of.count("-") == 2 and price.usd > 0


def test_a_region_without_a_price_gets_the_highest_known_marked_unverified():
    known = [p.usd for p in pricing.PRICES if p.item == "kinesis.shard_hour"]
    guess = pricing.price("kinesis.shard_hour", "sa-east-1")
    assert guess.usd == max(known) and not guess.verified and "sa-east-1" in guess.note
    assert pricing.price("kinesis.shard_hour", "us-east-1").verified


def test_the_seed_region_is_priced_and_said_to_be_an_estimate():
    seoul = pricing.price("kinesis.shard_hour", "ap-northeast-2")
    assert seoul.region == "ap-northeast-2" and not seoul.verified


def test_cost_sums_its_items_and_leaves_out_what_was_not_used():
    cost = pricing.cost({"shard_hours": 2.0, "put_payload_units": 1_000_000, "search_instance_hours": 0},
                        "us-east-1")
    assert [line[0] for line in cost.lines] == ["kinesis.shard_hour", "kinesis.put_payload_units"]
    assert cost.usd == pytest.approx(2 * 0.015 + 0.014)
    assert cost.to_json()["items"][0]["source"]


def test_an_unknown_item_is_refused_by_name():
    with pytest.raises(KeyError, match="no priced item"):
        pricing.price("kinesis.nothing", "us-east-1")


def test_an_unverified_price_says_how_it_may_be_off() -> None:
    """us-east-1's figure standing in for another region is likely low (AWS's prices are lowest there), a dearer
    region's is an upper estimate, and a third-party copy of the region's own says so."""
    from pytest_kinesis_limits.live.pricing import price

    assert price("firehose.gb_ingested", "eu-west-2").flag == " (unverified: likely low)"
    assert price("kinesis.shard_hour", "sa-east-1").flag == " (unverified: upper estimate)"  # Tokyo's, the dearest
    assert price("firehose.gb_ingested", "us-east-1").flag == " (unverified: third-party copy)"
    assert price("kinesis.shard_hour", "us-east-1").flag == ""
