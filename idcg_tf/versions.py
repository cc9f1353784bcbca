"""The versions of what produced a file (data manifests, export records), so it can be
reproduced."""

from __future__ import annotations

import platform


def package_versions(packages: tuple[str, ...], **extra: str) -> dict[str, str]:
    """Python's, idcg_tf's, each installed distribution's in `packages` ("not installed"
    where missing) and `extra` (versions found another way, e.g. a module's __version__)."""
    from importlib import metadata

    import idcg_tf

    found = {"python": platform.python_version(), "idcg_tf": idcg_tf.__version__, **extra}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found
