"""``upbit_cancel`` is a lazy face: every name of ``__all__`` works, and importing it loads nothing heavy.

Guarantee under test (docs/guarantees.md, "Importing the package"): ``from upbit_cancel import X``
and ``upbit_cancel.X`` give, for every ``X`` in ``__all__``, the object its module defines;
``dir(upbit_cancel)`` lists them; ``import upbit_cancel`` (and reading ``__version__``) imports
neither httpx nor the batch until a name that needs them is used. The ``TYPE_CHECKING`` imports that
type checkers read name exactly ``__all__``, each from the module the runtime table loads it from.
"""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import upbit_cancel

ROOT = Path(__file__).resolve().parent.parent
INIT = ROOT / "cancel" / "upbit_cancel" / "__init__.py"
SOURCE_ROOTS = ["auth_plugin", "cancel", "sandbox", "generated"]
HEAVY = ("httpx", "jwt", "upbit_client", "upbit_auth", "upbit_cancel.batch", "upbit_cancel.cli")


def loaded_after(code: str) -> set[str]:
    """The heavy modules loaded once ``code`` has run in a fresh interpreter."""
    probe = f"import sys\n{code}\nprint(' '.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split()) & set(HEAVY)


def type_checking_imports() -> dict[str, str]:
    """Name -> module (``.batch``) of the imports under ``if TYPE_CHECKING:`` in ``__init__.py``."""
    for node in ast.parse(INIT.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return {
                alias.asname or alias.name: "." * statement.level + (statement.module or "")
                for statement in node.body
                if isinstance(statement, ast.ImportFrom)
                for alias in statement.names
            }
    raise AssertionError("no `if TYPE_CHECKING:` block in upbit_cancel/__init__.py")


@pytest.mark.parametrize("name", upbit_cancel.__all__)
def test_every_exported_name_imports_from_the_package_as_the_object_its_module_defines(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from upbit_cancel import {name}", namespace)
    home = importlib.import_module(type_checking_imports()[name], "upbit_cancel")
    assert namespace[name] is getattr(upbit_cancel, name) is getattr(home, name)


def test_the_type_checking_imports_and_the_runtime_table_name_exactly_all() -> None:
    imports = type_checking_imports()
    assert sorted(imports) == sorted(upbit_cancel.__all__)
    assert imports == upbit_cancel._HOMES
    assert len(upbit_cancel.__all__) == len(set(upbit_cancel.__all__))


def test_dir_lists_every_exported_name() -> None:
    assert set(upbit_cancel.__all__) <= set(dir(upbit_cancel))


def test_an_unknown_name_is_an_attribute_error_like_any_module() -> None:
    misspelt = "cancel_order"
    with pytest.raises(AttributeError, match=f"no attribute '{misspelt}'"):
        getattr(upbit_cancel, misspelt)
    with pytest.raises(ImportError):
        exec(f"from upbit_cancel import {misspelt}", {})
    assert not hasattr(upbit_cancel, "__wrapped__")


def test_importing_the_package_or_reading_its_version_loads_neither_httpx_nor_the_batch() -> None:
    assert loaded_after("import upbit_cancel") == set()
    assert loaded_after("import upbit_cancel; assert upbit_cancel.__version__") == set()
    assert loaded_after("from upbit_cancel import __version__") == set()


def test_the_first_use_of_a_name_loads_what_it_needs() -> None:
    assert {"httpx", "upbit_cancel.batch"} <= loaded_after("import upbit_cancel; upbit_cancel.cancel_orders")
    assert {"httpx", "upbit_cancel.batch"} <= loaded_after("from upbit_cancel import cancel_orders")


def test_a_submodule_is_reachable_as_an_attribute_as_when_the_package_imported_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import upbit_cancel; print(upbit_cancel.batch.cancel_orders.__name__)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "cancel_orders"


def test_type_checkers_see_every_name_and_still_reject_a_misspelt_one(tmp_path: Path) -> None:
    # mypy must not fall back on the module ``__getattr__``: that would type any name at all as ``object``.
    (tmp_path / "consumer.py").write_text(
        "import upbit_cancel\n"
        "from upbit_cancel import BatchResult, cancel_orders\n"
        "reveal_type(cancel_orders)\n"
        "reveal_type(upbit_cancel.__version__)\n"
        "result: BatchResult | None = None\n"
        "upbit_cancel.cancel_order\n",
        encoding="utf-8",
    )
    env = dict(os.environ, MYPYPATH=os.pathsep.join(str(ROOT / root) for root in SOURCE_ROOTS))
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull, "consumer.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    revealed = {line.split(":")[1]: line.split("Revealed type is ")[1] for line in lines if "Revealed type" in line}
    assert revealed["3"].startswith('"def (') and "BatchResult" in revealed["3"], done.stdout
    assert revealed["4"] in ('"str"', '"builtins.str"'), done.stdout
    errors = [line for line in lines if ": error:" in line]
    assert len(errors) == 1 and errors[0].startswith("consumer.py:6:") and "cancel_order" in errors[0], done.stdout
