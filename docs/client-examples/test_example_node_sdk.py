"""A producer that is not Python: the AWS SDK for JavaScript v3 (from the npm registry) in a Node subprocess, pointed
at ``kinesis_endpoint`` by the environment alone (``AWS_ENDPOINT_URL_KINESIS``, region, credentials).

The SDK's Kinesis client uses HTTP/2 unless told otherwise; the offline endpoint (moto's server) speaks HTTP/1.1, so
the producer passes ``NodeHttpHandler`` (live, against AWS, either works)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

SDK = "@aws-sdk/client-kinesis@3"
PRODUCER = """
const { KinesisClient, PutRecordsCommand } = require("@aws-sdk/client-kinesis");
const { NodeHttpHandler } = require("@smithy/node-http-handler");
const [stream, count] = process.argv.slice(2);
// Endpoint, region and credentials from the environment. The SDK's Kinesis client speaks HTTP/2 by default (for
// SubscribeToShard); the endpoint, like most emulators, speaks HTTP/1.1, so this producer asks for that.
const client = new KinesisClient({ requestHandler: new NodeHttpHandler() });
const records = Array.from({ length: Number(count) }, (_, n) => ({
  Data: Buffer.from(JSON.stringify({ n, from: "node" })), PartitionKey: `key-${n}` }));
client.send(new PutRecordsCommand({ StreamName: stream, Records: records })).then(
  (answer) => console.log(JSON.stringify({ failed: answer.FailedRecordCount })),
  (error) => { console.error(error); process.exit(1); });
"""


@pytest.fixture(scope="session")
def node_producer(tmp_path_factory):
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("Node.js and npm are not installed: the JavaScript SDK example needs them")
    folder = tmp_path_factory.mktemp("node-producer")
    installed = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error", SDK], cwd=folder,
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, f"npm install {SDK} failed: {installed.stderr[-2000:]}"
    (folder / "produce.js").write_text(PRODUCER)
    return [node, str(folder / "produce.js")]


def test_a_node_producer_writes_what_read_records_reads(make_stream, kinesis_endpoint, read_records, node_producer):
    stream = make_stream(2)
    done = subprocess.run([*node_producer, stream.name, "200"], env=kinesis_endpoint.environ(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == {"failed": 0}
    numbers = sorted(json.loads(record.data)["n"] for record in read_records(stream))
    assert numbers == list(range(200))
