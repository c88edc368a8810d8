"""The store this environment names: ZHINAO_HOME's (or ZHINAO_STORE / ZHINAO_CATALOG's), opened by
the layers that own the environment (the flows and the app); the store itself is handed its root,
catalog and cache."""
from .settings import get_settings
from .store import Store
from .store.fingerprint import remember_in


def open_store(root: str | None = None, catalog: str | None = None) -> Store:
    """The store this environment names (ZHINAO_HOME, ZHINAO_STORE, ZHINAO_CATALOG), or the one at
    `root` / `catalog`."""
    s = get_settings()
    remember_in(s.fingerprints)
    return Store(root or s.store_root, catalog or s.catalog_path, cache=s.home / "model-cache")
