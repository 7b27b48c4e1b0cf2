"""The stand-in index's data plane over HTTP on loopback: the few OpenSearch REST calls the suite makes.

Each domain is served under ``/<domain name>`` (the Endpoint moto's DescribeDomain reports while the stand-in is
active), so one server serves every domain. It answers, with OpenSearch's JSON shapes and error bodies:

* ``GET /`` (cluster info), ``HEAD /<index>``;
* ``GET /_cat/indices[/<indices>]?format=json``;
* ``GET|POST /<indices>/_count`` and ``/<indices>/_search`` with ``size``/``from`` (refused beyond
  ``index.max_result_window``, 10,000), ``scroll``, and queries ``match_all``, ``term``, ``terms``, ``ids``,
  ``exists`` and ``bool`` (must, filter, should, must_not);
* ``POST /_search/scroll`` and ``DELETE /_search/scroll``;
* ``GET /<index>/_doc/<id>``; ``POST /<indices>/_refresh`` (documents are searchable at once anyway).

``<indices>`` may be a comma list with ``*`` wildcards; a missing concrete index is ``index_not_found_exception``
(404) unless ``ignore_unavailable=true``. Anything else is 400 with what is supported. Started once per process
(:func:`start_data_plane`), in a daemon thread of werkzeug's threaded server (a dependency of moto's server).
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import threading
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import unquote

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from pytest_kinesis_limits.fidelity.timepatch import service_thread

if TYPE_CHECKING:  # search_index starts this data plane: types only, so that imports go one way
    from pytest_kinesis_limits.fidelity.search_index import SearchIndexStandIn, StandInDomain, StoredDocument

#: OpenSearch's default index.max_result_window: from + size beyond it is refused.
MAX_RESULT_WINDOW = 10_000
DEFAULT_SIZE = 10
_SHARDS = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}


class _Error(Exception):
    def __init__(self, status: int, kind: str, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.status, self.kind, self.reason, self.extra = status, kind, reason, extra

    def body(self) -> dict[str, Any]:
        cause = {"type": self.kind, "reason": self.reason, **self.extra}
        return {"error": {"root_cause": [cause], **cause}, "status": self.status}


def _getter(path: str) -> Callable[[Any], Any]:
    """A field's value in a ``_source`` (``a.b`` nested, ``.keyword`` the same value), or ``None`` if absent."""
    parts = (path[:-len(".keyword")] if path.endswith(".keyword") else path).split(".")

    def get(source: Any) -> Any:
        for part in parts:
            if not isinstance(source, dict) or part not in source:
                return None
            source = source[part]
        return source
    return get


Predicate = Callable[[Any], bool]


def compile_query(query: dict[str, Any] | None) -> Predicate:
    """The (small) subset of the query DSL the stand-in understands, parsed once into a test of one document (a
    :class:`StoredDocument` or anything with ``id`` and ``source``). Like OpenSearch, the whole query is parsed
    before any document is looked at: an unsupported or malformed clause is refused even where an earlier clause
    would have decided. Parsing once, not per document, is what makes ``_count`` over the seed's 55,000 documents
    cheap (issue 23)."""
    if not query:
        return _always
    if len(query) != 1:
        raise _Error(400, "parsing_exception", f"one query clause expected, got {sorted(query)}")
    (kind, spec), = query.items()
    if kind == "match_all":
        return _always
    if kind == "exists":
        get = _getter(spec["field"])
        return lambda doc: get(doc.source) is not None
    if kind == "ids":
        values = spec.get("values", [])
        return lambda doc: doc.id in values
    if kind in ("term", "terms"):
        (name, wanted), = spec.items()
        if kind == "term":
            wanted = wanted.get("value") if isinstance(wanted, dict) else wanted
        test = (lambda value: value == wanted) if kind == "term" else (lambda value: value in wanted)
        if name == "_id":
            return lambda doc: test(doc.id)
        get = _getter(name)
        return lambda doc: test(get(doc.source))
    if kind == "bool":
        def clauses(name: str) -> list[Predicate]:
            value = spec.get(name, [])
            return [compile_query(q) for q in (value if isinstance(value, list) else [value])]
        every, none, some = clauses("must") + clauses("filter"), clauses("must_not"), clauses("should")

        def boolean(doc: Any) -> bool:
            for p in every:
                if not p(doc):
                    return False
            for p in none:
                if p(doc):
                    return False
            return not some or any(p(doc) for p in some)
        return boolean
    raise _Error(400, "parsing_exception", f"the stand-in does not support the [{kind}] query (supported: "
                 "match_all, term, terms, ids, exists, bool)")


def _always(doc: Any) -> bool:
    return True


def matches(doc: StoredDocument | SimpleNamespace, query: dict[str, Any] | None) -> bool:
    """Whether ``doc`` matches ``query`` (:func:`compile_query`)."""
    return compile_query(query)(doc)


class DataPlane:
    """The WSGI application over a :class:`SearchIndexStandIn`."""

    def __init__(self, store: SearchIndexStandIn) -> None:
        self.store = store
        self._scrolls: dict[str, list[StoredDocument]] = {}
        self._page: dict[str, int] = {}
        self._ids = itertools.count(1)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            status, body = self.route(request)
        except _Error as exc:
            status, body = exc.status, exc.body()
        response = Response(b"" if request.method == "HEAD" else json.dumps(body), status=status,
                            content_type="application/json; charset=UTF-8")
        return response(environ, start_response)

    # ------------------------------------------------------------------------------- routing
    def route(self, request: Request) -> tuple[int, Any]:
        parts = [unquote(p) for p in request.path.split("/") if p]
        if parts[:2] == ["_search", "scroll"]:  # scroll ids are global, whatever the url prefix
            return self.scroll(request)
        if not parts:
            return 200, {"name": "pytest-kinesis-limits-stand-in", "tagline": "a stand-in, not OpenSearch"}
        self.store.catch_up()  # outside the store's lock: a pump takes the simulation's lock, then the store's
        with self.store.lock:
            domain = self.store.domain_named(parts[0])
            if domain is None:
                raise _Error(404, "resource_not_found_exception", f"no domain {parts[0]!r} on this stand-in")
            return self.domain_route(request, domain, parts[1:])

    def domain_route(self, request: Request, domain: StandInDomain, parts: list[str]) -> tuple[int, Any]:
        method, args = request.method, request.args
        if not parts:
            return 200, {"cluster_name": domain.name, "version": {"distribution": "opensearch",
                                                                   "number": "stand-in"}}
        if parts[:2] == ["_search", "scroll"]:
            return self.scroll(request)
        if parts[0] == "_cat" and parts[1:2] == ["indices"]:
            names = self.resolve(domain, parts[2] if len(parts) > 2 else "*", True)
            return 200, [{"health": "green", "status": "open", "index": name,
                          "docs.count": str(len(domain.indexes[name]))} for name in names]
        ignore = args.get("ignore_unavailable") == "true"
        if len(parts) == 1 and method == "HEAD":
            return (200 if parts[0] in domain.indexes else 404), None
        if len(parts) == 2 and parts[1] in ("_count", "_search", "_refresh"):
            names = self.resolve(domain, parts[0], ignore)
            if parts[1] == "_refresh":
                return 200, {"_shards": _SHARDS}
            body = request.get_json(silent=True) or {}
            wanted = compile_query(body.get("query"))  # parsed even when no index matches, as OpenSearch does
            docs = [d for n in names for d in domain.indexes[n].values() if wanted(d)]
            if parts[1] == "_count":
                return 200, {"count": len(docs), "_shards": _SHARDS}
            return self.search(docs, body, args)
        if len(parts) == 3 and parts[1] == "_doc" and method == "GET":
            doc = domain.indexes.get(parts[0], {}).get(parts[2])
            if parts[0] not in domain.indexes:
                raise _Error(404, "index_not_found_exception", f"no such index [{parts[0]}]", index=parts[0])
            if doc is None:
                return 404, {"_index": parts[0], "_id": parts[2], "found": False}
            return 200, {"_index": doc.index, "_id": doc.id, "_version": 1, "found": True, "_source": doc.source}
        raise _Error(400, "illegal_argument_exception", f"the stand-in does not serve {method} /{'/'.join(parts)}")

    def resolve(self, domain: StandInDomain, expression: str, ignore_unavailable: bool) -> list[str]:
        """Index names for a comma list with wildcards (``_all`` and ``*``: every index)."""
        names: list[str] = []
        for part in expression.split(","):
            if part in ("_all", "*"):
                names.extend(domain.indexes)
            elif "*" in part:
                names.extend(n for n in domain.indexes if fnmatch.fnmatchcase(n, part))
            elif part in domain.indexes:
                names.append(part)
            elif not ignore_unavailable:
                raise _Error(404, "index_not_found_exception", f"no such index [{part}]", index=part)
        return sorted(dict.fromkeys(names))

    # ------------------------------------------------------------------------------- search
    def _hits(self, docs: list[StoredDocument], total: int) -> dict[str, Any]:
        return {"took": 1, "timed_out": False, "_shards": _SHARDS, "hits": {
            "total": {"value": total, "relation": "eq"}, "max_score": 1.0,
            "hits": [{"_index": d.index, "_id": d.id, "_score": 1.0, "_source": d.source} for d in docs]}}

    def search(self, docs: list[StoredDocument], body: dict[str, Any], args: Any) -> tuple[int, Any]:
        size = int(args.get("size", body.get("size", DEFAULT_SIZE)))
        start = int(args.get("from", body.get("from", 0)))
        if start + size > MAX_RESULT_WINDOW:
            raise _Error(400, "illegal_argument_exception", f"Result window is too large, from + size must be less "
                         f"than or equal to: [{MAX_RESULT_WINDOW}] but was [{start + size}]")
        docs.sort(key=lambda d: d.indexed_at)  # stable: indexing order within a bulk request
        out = self._hits(docs[start:start + size], len(docs))
        if "scroll" in args:
            scroll_id = f"stand-in-scroll-{next(self._ids)}"
            self._scrolls[scroll_id] = docs[start + size:]
            self._page[scroll_id] = size
            out["_scroll_id"] = scroll_id
        return 200, out

    def scroll(self, request: Request) -> tuple[int, Any]:
        body = request.get_json(silent=True) or {}
        ids = body.get("scroll_id") or request.args.get("scroll_id")
        if request.method == "DELETE":
            wanted = ids if isinstance(ids, list) else [ids]
            freed = [i for i in wanted if self._scrolls.pop(i, None) is not None]
            return 200, {"succeeded": True, "num_freed": len(freed)}
        if ids not in self._scrolls:
            raise _Error(404, "search_context_missing_exception", f"No search context found for id [{ids}]")
        rest, size = self._scrolls[ids], self._page[ids]
        self._scrolls[ids] = rest[size:]
        out = self._hits(rest[:size], len(rest))
        out["_scroll_id"] = ids
        return 200, out


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # one line per query on stderr is noise here
        pass


_server_lock = threading.Lock()
_servers: dict[int, str] = {}


def start_data_plane(store: SearchIndexStandIn, host: str = "127.0.0.1") -> str:
    """Serve ``store`` over HTTP on ``host`` (a free port) unless it is already served; return ``host:port``."""
    with _server_lock:
        if id(store) in _servers:
            return _servers[id(store)]
        server = make_server(host, 0, DataPlane(store), threaded=True, request_handler=_Quiet)
        thread = service_thread(server.serve_forever, "search-index-stand-in")
        thread.start()
        address = f"{host}:{server.server_port}"
        _servers[id(store)] = address
        store.data_plane = address
        return address


__all__ = ["DataPlane", "MAX_RESULT_WINDOW", "compile_query", "matches", "start_data_plane"]
