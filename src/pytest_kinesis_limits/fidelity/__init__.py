"""Offline fidelity layer: makes the moto backend behave like Kinesis and Firehose where the suite depends on it."""
