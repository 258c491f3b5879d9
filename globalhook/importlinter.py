"""An import-linter contract type for ``check``'s rules: one place for architecture rules.

import-linter checks the import graph, which says nothing about what a
function reads at run time (imports inside functions, ``importlib``,
``getattr``, reads of another module's attributes).  This contract checks
``READER -> OWNER:NAME`` rules against a globalhook data file instead, so
that a project keeps both kinds of rule in its import-linter configuration::

    [importlinter]
    root_package = shop
    contract_types =
        globalreads: globalhook.importlinter.GlobalReadsContract

    [importlinter:contract:views-leave-settings]
    name = Views read no settings at run time
    type = globalreads
    forbid =
        shop.views -> shop.settings:*

Options: ``forbid`` (rules), ``require_no_missing`` (a boolean),
``data_file`` (default: what ``[tool.globalhook]`` says, else
``.globalhook.json``) and ``baseline`` (a file written by
``globalhook check --update-baseline``).  The data file comes from running the
tests under ``pytest --globalhook`` first.  Only import this module where
import-linter 2.x is installed: import-linter itself does, when it reads the
``contract_types`` line.
"""

from __future__ import annotations

import os
from typing import Any, List, Optional

from importlinter import Contract, ContractCheck, fields, output
from importlinter.domain.contract import InvalidContractOptions

from .baseline import BaselineError, load_baseline, split
from .check import Rule, RuleError, Violation, find_violations, parse_rule
from .config import ConfigError, load_config
from .data import DataError
from .records import read

__all__ = ["GlobalReadsContract"]


class GlobalReadsContract(Contract):
    """Functions in READER modules must not read NAME of OWNER modules, as recorded at run time."""

    type_name = "globalreads"

    forbid = fields.ListField(subfield=fields.StringField(), required=False)
    require_no_missing = fields.BooleanField(required=False, default=False)
    data_file = fields.StringField(required=False)
    baseline = fields.StringField(required=False)

    def validate(self) -> None:
        errors = {}
        self._rules: List[Rule] = []
        for text in self.forbid or []:  # type: ignore[attr-defined]
            try:
                self._rules.append(parse_rule(text))
            except RuleError as exc:
                errors["forbid"] = str(exc)
        if not self._rules and not self.require_no_missing and "forbid" not in errors:  # type: ignore[attr-defined]
            errors["forbid"] = "nothing to check: give forbid rules 'READER -> OWNER:NAME', or require_no_missing = true"
        if errors:
            raise InvalidContractOptions(errors)

    def _data_path(self) -> str:
        given: Optional[str] = self.data_file  # type: ignore[attr-defined]
        if given:
            return os.path.abspath(given)
        return load_config({}).data_file

    def check(self, graph: Any, verbose: bool) -> ContractCheck:
        try:
            data = read(self._data_path())
            accepted = load_baseline(self.baseline) if self.baseline else []  # type: ignore[attr-defined]
        except (ConfigError, DataError, BaselineError) as exc:
            return ContractCheck(kept=False, metadata={"error": str(exc), "violations": []})
        lookups = data["lookups"]
        violations = find_violations(lookups, self._rules, bool(self.require_no_missing))  # type: ignore[attr-defined]
        new, _known, gone = split(violations, accepted)
        output.verbose_print(verbose, f"globalreads: {len(lookups)} lookups, {len(violations)} violations, {len(new)} new")
        return ContractCheck(kept=not new, metadata={"error": None, "violations": new, "gone": gone})

    def render_broken_contract(self, check: ContractCheck) -> None:
        error = check.metadata.get("error")
        if error:
            output.print_error(f"Cannot check: {error}", bold=False)
            output.new_line()
            return
        cwd = os.getcwd()
        violations: List[Violation] = check.metadata["violations"]
        for violation in violations:
            output.print_error(f"- {violation.describe(cwd)}", bold=False)
            output.new_line()
