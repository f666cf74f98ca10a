"""The SQLite store of a design campaign (stdlib ``sqlite3``, WAL mode): every design, round and real oracle call.

- :mod:`.database`: :class:`DesignStore`, which reads and writes a store (its tables are described there);
- :mod:`.records`: what it reads and writes (:class:`DesignRecord`, :class:`RoundRecord`) and their row form;
- :mod:`.ledger`: chunked queries and the linking of stored designs to their ledger rows;
- :mod:`.schema`: the SQL schema, its upgrades from older versions and the one-line :class:`StoreError`.
"""

from seqguide.design.store.database import DesignStore
from seqguide.design.store.records import DesignRecord, RoundRecord, utc_now
from seqguide.design.store.schema import SCHEMA_VERSION, StoreError

__all__ = ["SCHEMA_VERSION", "DesignRecord", "DesignStore", "RoundRecord", "StoreError", "utc_now"]
