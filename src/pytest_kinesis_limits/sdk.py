"""One botocore data loader per process, shared by every botocore session the package makes.

botocore caches what it reads from its data files (service models, endpoint rule sets, partitions) in the loader of
one session. A fresh session reads and parses them again: about 50 ms per client on this project's machines, paid by
the moto gate, the region check and the backend's session in every process (pytest, each xdist worker, serve).
Sessions made here share one loader per data path (``AWS_DATA_PATH`` still applies), so each file is parsed once per
process. The loader holds parsed files only, no credentials, region or configuration.
"""

from __future__ import annotations

import threading
from typing import Any

_LOADERS: dict[Any, Any] = {}
_LOCK = threading.Lock()


def botocore_session(profile: str | None = None) -> Any:
    """A new ``botocore.session.Session`` (of ``profile``) whose data loader is this process's shared one for its
    data path."""
    import botocore.session

    session = botocore.session.Session(profile=profile)
    path = session.get_config_variable("data_path")
    with _LOCK:
        loader = _LOADERS.get(path)
        if loader is None:
            _LOADERS[path] = session.get_component("data_loader")
        else:
            session.register_component("data_loader", loader)
    return session
