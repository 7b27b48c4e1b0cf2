"""The Kinesis client side: what a test does to a stream and how it judges what came back. Library code: neither pytest
nor moto.

- :mod:`.producer` writes at a target rate (PutRecords, retries, calls in flight); :mod:`.producer_log` is its log
  (one outcome per record, the offered rate); :mod:`.key_spread` makes the records and spreads their keys over the
  shards; :mod:`.payloads` the record bodies (the seed's events, counters, records of an exact size).
- :mod:`.meter` measures accepted rates per shard and second from the service's arrival stamps; :mod:`.reader`
  reads a stream back (following child shards); :mod:`.continuity` checks nothing was lost, duplicated or reordered.
- :mod:`.resharding` runs a split or merge while writing; :mod:`.resources` makes and deletes streams;
  :mod:`.probes` sends one request to a limit and describes the answer.
"""
