"""One search over everything every agent said: SQLite FTS5 indexes beside the JSONL."""

from pmdesk.engine.search.index import KINDS, SearchIndex
from pmdesk.engine.search.indexer import BackgroundIndexer
from pmdesk.engine.search.query import Query, parse_query
from pmdesk.engine.search.service import Reindexed, SearchHit, SearchResult, SearchService

__all__ = ["KINDS", "BackgroundIndexer", "Query", "Reindexed", "SearchHit", "SearchIndex", "SearchResult",
           "SearchService", "parse_query"]
