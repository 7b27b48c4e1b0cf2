"""The least-privilege policy (live/permissions.py, issue 20) grants every call the live code path makes.

The live path runs over HTTP against ``serve`` (the families' fixtures and a test of each kind of resource: streams
and reshards, consumers and SubscribeToShard, a delivery stream with its bucket and role, a search domain; then
``sweep``), in real processes that record each call (tests/plugin/call_recorder.py); every recorded call's actions
must be granted by the policy, and taking any one of them out of the policy is caught.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_kinesis_limits.live import permissions

HERE = Path(__file__).resolve().parent
LIMITS = HERE.parent / "limits"
#: One test of each kind of resource the live path makes, quick on the wall clock of ``serve``.
SELECTION = ("firehose_seed or firehose_version or consumers_per_stream or consumer_reads_across_a_reshard and "
             "split or rotation_names and OneDay or update_shard_count_factor and up or record_count")


def _recorded(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def recorded_calls(tmp_path_factory: pytest.TempPathFactory, moto_server_url: str) -> list[dict]:
    folder = tmp_path_factory.mktemp("permissions")
    calls = folder / "calls.jsonl"
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "PYTEST_"))}
    env.update({"CALLS_FILE": str(calls), "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_EC2_METADATA_DISABLED": "true",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))})
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "call_recorder", "-p", "no:cacheprovider", "-q",
                          str(LIMITS), "--aws-endpoint-url", moto_server_url, "--aws-region", "us-east-1", "-n", "2",
                          "-k", SELECTION, "--rootdir", str(folder)], cwd=folder, env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    sweep = subprocess.run([sys.executable, "-c", "import call_recorder, sys; from pytest_kinesis_limits.cli import "
                            "main; sys.exit(main(sys.argv[1:]))", "sweep", "--endpoint-url", moto_server_url,
                            "--region", "us-east-1", "--older-than", "0", "--yes"], cwd=folder, env=env,
                           capture_output=True, text=True, timeout=120)
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    return _recorded(calls)


def _needed(calls: list[dict]) -> set[str]:
    return {action for call in calls for action in permissions.action_of(
        call["service"], call["operation"], {name: True for name in call["params"]} | (
            {"RoleARN": True} if call.get("role") else {}))}


def test_the_policy_grants_every_call_the_live_path_makes(recorded_calls: list[dict]) -> None:
    operations = {(c["service"], c["operation"]) for c in recorded_calls}
    # The selection reaches every kind of resource (else the check below would prove little).
    assert {s for s, _ in operations} == {"kinesis", "firehose", "s3", "iam", "opensearch", "sts"}, operations
    assert {("kinesis", "SubscribeToShard"), ("kinesis", "UpdateShardCount"), ("firehose", "UpdateDestination"),
            ("iam", "ListRoles")} <= operations
    needed = _needed(recorded_calls)
    assert {"kinesis:AddTagsToStream", "firehose:TagDeliveryStream", "iam:PassRole", "iam:TagRole"} <= needed
    assert permissions.missing(needed, permissions.policy()) == []


def test_taking_any_needed_action_out_of_the_policy_is_caught(recorded_calls: list[dict]) -> None:
    needed = sorted(_needed(recorded_calls))
    document = permissions.policy()
    for action in needed:
        broken = copy.deepcopy(document)
        for statement in broken["Statement"]:
            if isinstance(statement["Action"], list) and action in statement["Action"]:
                statement["Action"].remove(action)
        assert permissions.missing(needed, broken) == [action], action


def test_wildcards_and_case_are_read_as_iam_reads_them() -> None:
    document = {"Statement": [{"Effect": "Allow", "Action": ["kinesis:Describe*", "S3:getobject"]},
                              {"Effect": "Deny", "Action": "kinesis:*"}]}
    assert permissions.missing(["kinesis:DescribeStreamSummary", "s3:GetObject", "kinesis:PutRecords"],
                               document) == ["kinesis:PutRecords"]


class _FakeIam:
    """IAM on 127.0.0.1 answering ListRoles (the preflight's probe) and SimulatePrincipalPolicy, denying ``denied``."""

    def __init__(self, denied: set[str]) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs

        asked: list[dict[str, list[str]]] = []
        self.asked = asked

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
                action = form.get("Action", [""])[0]
                if action == "SimulatePrincipalPolicy":
                    asked.append(form)
                    names = [v[0] for k, v in sorted(form.items()) if k.startswith("ActionNames.member.")]
                    members = "".join(f"<member><EvalActionName>{n}</EvalActionName><EvalDecision>"
                                      f"{'implicitDeny' if n in denied else 'allowed'}</EvalDecision>"
                                      "<EvalResourceName>*</EvalResourceName></member>" for n in names)
                    result = f"<IsTruncated>false</IsTruncated><EvaluationResults>{members}</EvaluationResults>"
                else:
                    result = "<IsTruncated>false</IsTruncated><Roles/>"
                body = (f'<{action}Response xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><{action}Result>'
                        f"{result}</{action}Result><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>"
                        f"</{action}Response>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("denied", [set(), {"kinesis:SplitShard", "iam:PassRole"}], ids=["all-granted", "two-denied"])
def test_the_preflight_asks_iam_before_anything_is_made(pytester: pytest.Pytester, moto_server_url: str,
                                                        endpoint_env: None, monkeypatch: pytest.MonkeyPatch,
                                                        denied: set[str]) -> None:
    iam = _FakeIam(denied)
    monkeypatch.setenv("AWS_ENDPOINT_URL_IAM", iam.url)
    try:
        pytester.makepyfile(test_made="def test_made(make_stream):\n    make_stream(1)\n")
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--aws-endpoint-url", moto_server_url,
                                               "--aws-region", "us-east-1", "--kinesis-check-permissions")
    finally:
        iam.close()
    # Every statement of the policy was simulated, PassRole with its condition.
    assert len(iam.asked) == len(permissions.simulation_requests("pkl", "us-east-1", "123456789012"))
    assert any("ContextEntries.member.1.ContextKeyValues.member.1" in form for form in iam.asked)
    if not denied:
        result.assert_outcomes(passed=1)
        return
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*preflight: arn:aws:sts::123456789012:user/moto may not call 2 action(s) the suite "
                                 "uses on resources named pkl-*: iam:PassRole, kinesis:SplitShard. Nothing was made. "
                                 "Fix: attach the policy 'pytest-kinesis-limits policy --prefix pkl' prints*"])
    assert "test_made" not in result.stdout.str()


def test_the_caller_stands_for_its_principal() -> None:
    assert permissions.principal_arn("arn:aws:sts::111122223333:assumed-role/Deploy/ci-run") == \
        "arn:aws:iam::111122223333:role/Deploy"
    assert permissions.principal_arn("arn:aws:iam::111122223333:user/dev") == "arn:aws:iam::111122223333:user/dev"
    assert permissions.principal_arn("arn:aws:iam::111122223333:root") is None  # may do anything; not simulated


def test_checking_permissions_offline_says_it_needs_a_live_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--kinesis-check-permissions")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--kinesis-check-permissions (from the command line*this run is offline. Fix: add "
                                 "--live*"])
