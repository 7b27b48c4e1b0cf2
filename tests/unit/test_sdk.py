"""One botocore data loader per process (``sdk.botocore_session``): parsed once, never mixing data paths."""

from __future__ import annotations

from pytest_kinesis_limits.sdk import botocore_session


def test_sessions_share_one_loader_and_parse_a_model_once() -> None:
    first, second = botocore_session(), botocore_session()
    assert first is not second
    assert first.get_component("data_loader") is second.get_component("data_loader")
    loaded = [s.get_component("data_loader").load_service_model("kinesis", "service-2") for s in (first, second)]
    assert loaded[0] is loaded[1]


def test_another_data_path_gets_a_loader_of_its_own(tmp_path, monkeypatch) -> None:
    default = botocore_session().get_component("data_loader")
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    other = botocore_session()
    assert other.get_component("data_loader") is not default
    assert str(tmp_path) in other.get_component("data_loader").search_paths
    assert botocore_session().get_component("data_loader") is other.get_component("data_loader")
