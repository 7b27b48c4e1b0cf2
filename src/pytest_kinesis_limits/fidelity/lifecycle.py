"""Stream lifecycle: CREATING, UPDATING and DELETING for windows of the layer's clock, and what AWS refuses meanwhile.

moto answers everything at once: a stream is ACTIVE the moment CreateStream returns, a reshard is done when
its call returns and a deleted stream is gone. Code that works against that fails live, the plugin's own
fixtures included (AddTagsToStream straight after CreateStream: issue 9). AWS (API reference, 2026-11-29):

- CreateStream "immediately returns and sets the stream status to CREATING"; "you should perform read and
  write operations only on an ACTIVE stream"; tags "take effect from the CREATING status ..., but you can't
  make any updates to the tags until the stream is in ACTIVE state"; more than five streams CREATING at once
  is a LimitExceededException, as is creating "more shards than are authorized for your account".
- SplitShard, MergeShards, UpdateShardCount, Start/StopStreamEncryption set the stream UPDATING and "read and
  write operations continue to work"; "If a stream is in the CREATING, UPDATING, or DELETING state,
  MergeShards returns a ResourceInUseException" (the error every state-changing operation lists: "For
  successful operation, the resource must be in the ACTIVE state").
- DeleteStream: "If the stream is in the ACTIVE state, you can delete it"; the stream is DELETING "until
  Kinesis Data Streams completes the deletion" and "might continue to accept data read and write operations".

docs/fidelity.md has the rule table (rule, source, error, test). Durations default to the catalogue's typical
values (``lifecycle.stream.*``) through :class:`~.config.FidelityConfig`. Transitions complete lazily: the
first call that looks at a stream after its window (every backend operation goes through the patched
``describe_stream``) finishes a queued reshard or removes a deleted stream; :func:`finish_all` completes
everything when the layer exits, so that moto is left as if every window had passed.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.fidelity import errors
from pytest_kinesis_limits.fidelity.moto_adapter import KinesisBackend, Stream, kinesis_backends
from pytest_kinesis_limits.fidelity.sequence import STATE_ATTR, StreamState, stream_state

if TYPE_CHECKING:
    from pytest_kinesis_limits.fidelity.layer import FidelityLayer

ACTIVE, CREATING, UPDATING, DELETING = "ACTIVE", "CREATING", "UPDATING", "DELETING"
_NAME_RE = re.compile(rf"(?:{limits.STREAM_NAME_PATTERN})\Z")


def _known_state(layer: FidelityLayer, stream: Stream) -> StreamState | None:
    """The layer's state of ``stream`` if it has one (a stream the layer never saw is ACTIVE)."""
    state = stream.__dict__.get(STATE_ATTR)
    return state if state is not None and state.owner is layer else None


def status(layer: FidelityLayer, stream: Stream) -> str:
    """The stream's status on the layer's clock (DELETING, CREATING, UPDATING or ACTIVE)."""
    st = stream_state(layer, stream)
    if st.deleting_until is not None:
        return DELETING
    now = layer.clock.now()
    if now < st.creating_until:
        return CREATING
    if now < st.updating_until:
        return UPDATING
    return ACTIVE


def require_active(layer: FidelityLayer, stream: Stream) -> None:
    """ResourceInUseException "Stream X under account A not ACTIVE, instead in state S" unless ACTIVE."""
    state = status(layer, stream)
    if state != ACTIVE:
        raise errors.resource_in_use(stream.stream_name, stream.account_id, state)


def require_readable(layer: FidelityLayer, stream: Stream) -> None:
    """Reads and writes work while ACTIVE, UPDATING and DELETING; a stream still CREATING is not found
    (PutRecord, PutRecords and GetShardIterator list ResourceNotFoundException, not ResourceInUseException)."""
    if status(layer, stream) == CREATING:
        raise errors.stream_not_found(stream.stream_name, stream.account_id)


# ------------------------------------------------------------------------------------------ transitions
def _run_pending(st: StreamState) -> None:
    with st.lock:
        ops, st.pending = st.pending, []
        st.pending_open = None
        for op in ops:  # an op may look the stream up again: the queue is already empty
            op()


def settle(layer: FidelityLayer, backend: KinesisBackend, stream: Stream) -> bool:
    """Finish what the clock says is finished: a queued reshard once UPDATING is over, a deletion once DELETING
    is. Returns False when the stream is now gone."""
    st = _known_state(layer, stream)
    if st is None:
        return True
    now = layer.clock.now()
    if st.pending and now >= st.updating_until:
        _run_pending(st)
    if st.deleting_until is not None and now >= st.deleting_until:
        if backend.streams.get(stream.stream_name) is stream:
            backend.streams.pop(stream.stream_name)
        return False
    return True


def queue(layer: FidelityLayer, stream: Stream, op: Callable[[], None], open_after: int) -> None:
    """Queue a reshard to complete when the stream's UPDATING window ends (the parents stay open until then);
    ``open_after`` is the stream's open shard count once it has."""
    st = stream_state(layer, stream)
    st.pending.append(op)
    st.pending_open = open_after


def start_updating(layer: FidelityLayer, stream: Stream, seconds: float) -> None:
    """UPDATING for ``seconds`` of the layer's clock; a zero window completes a queued reshard at once."""
    st = stream_state(layer, stream)
    st.updating_until = layer.clock.now() + seconds
    if st.pending and seconds <= 0:
        _run_pending(st)


def finish_all(layer: FidelityLayer) -> None:
    """Complete every queued reshard and deletion of the layer's streams (the layer is exiting)."""
    for regions in list(kinesis_backends.values()):
        for backend in list(regions.values()):
            for stream in list(backend.streams.values()):
                st = _known_state(layer, stream)
                if st is None:
                    continue
                if st.pending:
                    _run_pending(st)
                if st.deleting_until is not None:
                    backend.streams.pop(stream.stream_name, None)


# ----------------------------------------------------------------------------------- account-wide rules
def validate_stream_name(name: object) -> None:
    """StreamName: 1-128 characters of [a-zA-Z0-9_.-] (request model; ValidationException listing each)."""
    low, high = limits.STREAM_NAME_MIN_CHARS.value, limits.STREAM_NAME_MAX_CHARS.value
    text = name if isinstance(name, str) else ""
    problems = []
    if len(text) < low:
        problems.append(f"Value '{text}' at 'streamName' failed to satisfy constraint: "
                        f"Member must have length greater than or equal to {low}")
    if len(text) > high:
        problems.append(f"Value '{text}' at 'streamName' failed to satisfy constraint: "
                        f"Member must have length less than or equal to {high}")
    if text and not _NAME_RE.match(text):
        problems.append(f"Value '{text}' at 'streamName' failed to satisfy constraint: "
                        f"Member must satisfy regular expression pattern: {limits.STREAM_NAME_PATTERN}")
    if problems:
        raise errors.validation(problems)


def _provisioned(stream: Stream) -> bool:
    return stream.stream_mode.get("StreamMode", "PROVISIONED") != "ON_DEMAND"


def open_shards_of_account(layer: FidelityLayer, backend: KinesisBackend) -> int:
    """Open shards of the provisioned streams of one account and region (a queued reshard counted as done)."""
    total = 0
    for stream in list(backend.streams.values()):
        if not _provisioned(stream):
            continue
        st = _known_state(layer, stream)
        if st is not None and st.pending_open is not None:
            total += st.pending_open
        else:
            total += sum(1 for s in stream.shards.values() if s.is_open)
    return total


def check_shard_quota(layer: FidelityLayer, backend: KinesisBackend, added: int) -> None:
    """LimitExceededException when ``added`` more open shards would exceed the account's quota in the region."""
    if added <= 0:
        return
    quota = layer.config.shard_quota_for(backend.region_name)
    current = open_shards_of_account(layer, backend)
    if current + added > quota:
        raise errors.shard_quota_exceeded(backend.account_id, backend.region_name, current, quota, added)


def _in_transition(layer: FidelityLayer, stream: Stream, now: float) -> bool:
    """Whether the layer knows ``stream`` as CREATING, UPDATING or DELETING at ``now`` (read without its lock)."""
    st = _known_state(layer, stream)
    if st is None:
        return False
    if st.deleting_until is not None:
        return now < st.deleting_until
    return now < st.creating_until or now < st.updating_until


def check_streams_in_transition(layer: FidelityLayer, backend: KinesisBackend, stream: Stream) -> None:
    """SplitShard and MergeShards: LimitExceededException while ``max_streams_creating`` other streams of the account
    are in transition (:func:`.errors.too_many_in_transition`). Call it before taking ``stream``'s lock: it reads
    the others without theirs."""
    now = layer.clock.now()
    others = [other for other in list(backend.streams.values()) if other is not stream]
    busy = sum(1 for other in others if _in_transition(layer, other, now))
    if busy >= layer.config.max_streams_creating:
        raise errors.too_many_in_transition(backend.account_id, layer.config.max_streams_creating)


def create_stream(layer: FidelityLayer, original: Callable[..., Stream], backend: KinesisBackend,
                  stream_name: str, shard_count: int | None, stream_mode: dict[str, str] | None = None,
                  retention_period_hours: int | None = None) -> Stream:
    """KinesisBackend.create_stream: name pattern, name in use (DELETING included), five streams CREATING,
    shard quota; then moto's stream, CREATING for ``creating_seconds``."""
    validate_stream_name(stream_name)
    existing = backend.streams.get(stream_name)
    if existing is not None and settle(layer, backend, existing):
        raise errors.stream_exists(stream_name, backend.account_id)
    busy = 0
    for other in list(backend.streams.values()):
        if settle(layer, backend, other) and _known_state(layer, other) is not None \
                and status(layer, other) in (CREATING, DELETING):
            busy += 1
    if busy >= layer.config.max_streams_creating:
        raise errors.too_many_creating(backend.account_id, layer.config.max_streams_creating)
    if (stream_mode or {}).get("StreamMode", "PROVISIONED") != "ON_DEMAND":
        check_shard_quota(layer, backend, int(shard_count or 0))
    stream = original(backend, stream_name, shard_count, stream_mode=stream_mode,
                      retention_period_hours=retention_period_hours)
    stream_state(layer, stream).creating_until = layer.clock.now() + layer.config.creating_seconds
    return stream


def delete_stream(layer: FidelityLayer, original: Callable[..., Stream], backend: KinesisBackend,
                  stream_arn: str | None, stream_name: str | None) -> Stream:
    """KinesisBackend.delete_stream: only an ACTIVE stream; it stays DELETING for ``deleting_seconds``."""
    stream = backend.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    st = stream_state(layer, stream)
    with st.lock:
        require_active(layer, stream)
        if layer.config.deleting_seconds <= 0:
            return original(backend, stream_arn, stream_name)
        st.deleting_until = layer.clock.now() + layer.config.deleting_seconds
    return stream


def list_streams(layer: FidelityLayer, original: Callable[..., Any], backend: KinesisBackend, *args: Any,
                 **kwargs: Any) -> Any:
    """KinesisBackend.list_streams: deletions that are over are gone first (DELETING streams are listed)."""
    for stream in list(backend.streams.values()):
        settle(layer, backend, stream)
    return original(backend, *args, **kwargs)


# --------------------------------------------------------------------------- operations that need ACTIVE
def _target(original: Callable[..., Any], backend: KinesisBackend, args: tuple[Any, ...],
            kwargs: dict[str, Any]) -> Stream:
    bound = inspect.signature(original).bind(backend, *args, **kwargs).arguments
    return backend.describe_stream(stream_arn=bound.get("stream_arn"), stream_name=bound.get("stream_name"))


def when_active(layer: FidelityLayer, original: Callable[..., Any], backend: KinesisBackend, *args: Any,
                **kwargs: Any) -> Any:
    """A backend operation that AWS refuses unless the stream is ACTIVE (ResourceInUseException)."""
    stream = _target(original, backend, args, kwargs)
    with stream_state(layer, stream).lock:
        require_active(layer, stream)
        return original(backend, *args, **kwargs)


def when_active_then_updating(layer: FidelityLayer, original: Callable[..., Any], backend: KinesisBackend,
                              *args: Any, **kwargs: Any) -> Any:
    """Start/StopStreamEncryption: need ACTIVE, then UPDATING for ``encryption_seconds``."""
    stream = _target(original, backend, args, kwargs)
    with stream_state(layer, stream).lock:
        require_active(layer, stream)
        result = original(backend, *args, **kwargs)
        start_updating(layer, stream, layer.config.encryption_seconds)
        return result


__all__ = [
    "ACTIVE", "CREATING", "DELETING", "UPDATING", "check_shard_quota", "check_streams_in_transition", "create_stream",
    "delete_stream",
    "finish_all", "list_streams", "open_shards_of_account", "queue", "require_active", "require_readable", "settle",
    "start_updating", "status", "validate_stream_name", "when_active", "when_active_then_updating",
]
