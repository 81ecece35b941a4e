"""hatchling hook of the sandbox's build: the SDK's version (``../tools/version.py``) and the pin on exactly it.

It runs where the repository is (``make dist``'s sdist, ``pip install -e ./sandbox``); a wheel built from
the sdist takes the version and the dependencies from the sdist's ``PKG-INFO`` and runs no metadata hook.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface


class VersionHook(MetadataHookInterface):
    """``version`` and ``dependencies`` (their ``{version}`` filled in), from this hook's table."""

    def update(self, metadata: dict[str, Any]) -> None:
        repository = Path(self.root).resolve().parent
        spec = importlib.util.spec_from_file_location("_upbit_version_rules", repository / "tools" / "version.py")
        assert spec is not None and spec.loader is not None, f"no tools/version.py beside {self.root}"
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        version = str(module.build_version(repository, str(self.config["release"])))
        metadata["version"] = version
        metadata["dependencies"] = [item.replace("{version}", version) for item in self.config["dependencies"]]
