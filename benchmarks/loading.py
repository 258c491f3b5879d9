"""Load the same source twice in one process: as a plain module and tracked.

The source is written to a scratch folder as ``NAME.py``.  The tracked copy is
imported by name through ``globalhook.install(include=[NAME])``, the way users
get tracked modules; the plain copy is loaded from the same file as
``plain_NAME``, with no hook installed, so both run identical code.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Dict, Tuple, Union


def load_twice(
    workdir: Path, sources: Dict[str, Union[str, Path]], attributes: bool = True
) -> Dict[str, Tuple[ModuleType, ModuleType]]:
    """name -> (plain module, tracked module); a source is text or a file to copy.

    ``attributes``: the tracked modules record reads of their attributes (the default).
    """
    import globalhook

    workdir.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, source in sources.items():
        text = source.read_text() if isinstance(source, Path) else source
        files[name] = workdir / f"{name}.py"
        files[name].write_text(text)
    if str(workdir) not in sys.path:
        sys.path.insert(0, str(workdir))
    importlib.invalidate_caches()
    plain = {}
    for name, path in files.items():
        spec = importlib.util.spec_from_file_location(f"plain_{name}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        plain[name] = module
    with globalhook.install(include=list(files), attributes=attributes):
        tracked = {name: importlib.import_module(name) for name in files}
    for name, module in tracked.items():
        if type(vars(module)) is dict:
            raise RuntimeError(f"{name} was imported with the hook installed but is not tracked")
    return {name: (plain[name], tracked[name]) for name in files}
