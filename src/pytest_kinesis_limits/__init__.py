"""pytest-kinesis-limits: prove Amazon Kinesis Data Streams and Firehose limits, offline or live.

Library modules (``limits``, ``clock``, ``producer``, ``meter``, ``reader``, ``continuity``, ...) import
neither pytest nor moto, so other tools can use them; the pytest side lives in ``plugin`` and ``fixtures``.
"""

__version__ = "0.1.0"
