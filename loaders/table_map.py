"""The table map: from contract table/column names to the physical names in an A2 database.

The physical names of the real A2 tables are not public (a2-model §1.1), so operators describe
them in a YAML file named by `FLYTT_A2_TABLE_MAP` (issue #3). Unset, or a table/column left out,
means "same name as the contract" (the sandbox's names). Example (`loaders/table_map.example.yml`):

```yaml
a2_correspondence:
  schema: dbo                     # optional
  table: v_flytt_correspondence   # physical table or view
  columns:                        # contract column: physical column
    se_reportee_element_id: ReporteeElementID
  lag: 1000                       # optional: override the load contract's lag
a2_sdp_letter:
  enabled: false                  # tables can be switched off
```

`lag` overrides the table's late-commit window (cursor units below the high-water mark that each
load re-reads; defaults in `loaders/contract.py`: `MUTABLE_LAG` row versions on mutable tables,
`APPEND_ONLY_LAG` ids on append-only ones). A2 assigns `rowversion` and identity values when a
row is written, not when its transaction commits, so a row can become visible below the mark
of an earlier load (dlt-hub/dlt#2269; elt-practice §3 P6). Raise it for a source whose write
transactions stay open longer; `lag: 0` loses such rows.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flytt.errors import UserError
from loaders.contract import LOAD_CONTRACTS, contract_table


class TableMapping(BaseModel):
    """Where one contract table lives in the source."""

    model_config = ConfigDict(extra="forbid")

    table: str | None = Field(None, description="Physical table or view; default: contract name.")
    db_schema: str | None = Field(None, alias="schema", description="Physical schema, if any.")
    columns: dict[str, str] = Field(default_factory=dict, description="contract → physical.")
    lag: int | None = Field(
        None, ge=0, description="Overrides the load contract's late-commit window (cursor units)."
    )
    enabled: bool = Field(True, description="False: the table is not loaded.")

    def physical_column(self, name: str) -> str:
        """Physical name of contract column `name`."""
        return self.columns.get(name, name)


TableMap = dict[str, TableMapping]


def load_table_map(path: Path | None) -> TableMap:
    """Read the table map YAML at `path` (None: identity map for every contract table).

    Returns:
        A `TableMapping` for every contract table (defaults where the file says nothing).

    Raises:
        UserError: the file is missing or malformed, or names an unknown contract table or
            column; the message names FLYTT_A2_TABLE_MAP.
    """
    raw: dict[str, object] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise UserError(
                f"Cannot read the table map {path} ({type(exc).__name__}); fix "
                "FLYTT_A2_TABLE_MAP or the file."
            ) from None
        if not isinstance(loaded, dict):
            raise UserError(
                f"The table map {path} must be a mapping of contract table names; "
                "fix FLYTT_A2_TABLE_MAP or the file."
            )
        raw = loaded
    result: TableMap = {}
    for name in raw:
        if name not in LOAD_CONTRACTS:
            raise UserError(
                f"The table map {path} names '{name}', which is not an A2 contract "
                "table (see loaders/contract.py); fix FLYTT_A2_TABLE_MAP or the file."
            )
    for name in LOAD_CONTRACTS:
        try:
            mapping = TableMapping.model_validate(raw.get(name) or {})
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"]
            raise UserError(
                f"The table map {path} has a bad entry for '{name}': {reason}; fix "
                "FLYTT_A2_TABLE_MAP or the file."
            ) from None
        unknown = set(mapping.columns) - {c.name for c in contract_table(name).columns}
        if unknown:
            raise UserError(
                f"The table map {path} maps unknown columns of '{name}': "
                f"{', '.join(sorted(unknown))}; fix FLYTT_A2_TABLE_MAP or the file."
            )
        result[name] = mapping
    return result
