"""The README's configuration table and the example file agree with the declarations.

Every declared field has a row in README "Configuration" with its environment variable, type,
default and help exactly as declared (config/model.py), and no row names a field that does not
exist. The example file holds every field (commented out where a value would change behaviour:
tokens, limits) and names every variable.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hpn_router.config import parse_config
from hpn_router.config.fields import Declared, declared_fields, shown_default, table_row
from hpn_router.config.model import RouterConfig

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
EXAMPLE = REPO / "configs" / "config.example.yaml"
DECLARED = declared_fields(RouterConfig)
TABLE_HEADER = "| Field | Environment | Type | Default | What it does |"


def configuration_section(readme: str) -> str:
    start = readme.index("\n## Configuration\n")
    end = readme.index("\n## ", start + 1)
    return readme[start:end]


def table_cells(readme: str) -> list[list[str]]:
    """The rows of the Configuration section's field table, each as its five cells."""
    lines = configuration_section(readme).splitlines()
    first = lines.index(TABLE_HEADER) + 2  # after the header and its |---| line
    rows = []
    for line in lines[first:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def unquote(cell: str) -> str:
    return cell[1:-1] if cell.startswith("`") and cell.endswith("`") else cell


def table_problems(readme: str, declared: list[Declared] = DECLARED) -> list[str]:
    """Each way the README's table disagrees with the declarations, as one line."""
    rows = {}
    problems = []
    for cells in table_cells(readme):
        if len(cells) != 5:
            problems.append(f"a row with {len(cells)} cells instead of 5: {cells}")
            continue
        path = unquote(cells[0])
        if path in rows:
            problems.append(f"{path}: two rows")
        rows[path] = cells
    names = {d.path for d in declared}
    problems += [f"{path}: the table names a field that is not declared" for path in rows if path not in names]
    for d in declared:
        if d.path not in rows:
            problems.append(f"{d.path}: no row in the table; add\n{table_row(d)}")
            continue
        _, env, kind, default, help_text = rows[d.path]
        expected = {
            "environment variable": (unquote(env), d.setting.env or ""),
            "type": (kind, d.setting.kind.name),
            "default": (default, shown_default(d)),
            "help": (help_text, d.setting.help),
        }
        problems += [f"{d.path}: the table's {what} is {got!r}, declared {want!r}" for what, (got, want) in expected.items() if got != want]
    return problems


def test_the_readme_table_matches_the_declarations():
    problems = table_problems(README.read_text())
    assert not problems, 'README "Configuration" disagrees with config/model.py:\n' + "\n".join(problems)


def test_the_table_check_names_a_missing_row_an_unknown_row_and_a_wrong_default_or_variable():
    readme = README.read_text()
    port_row = next(line for line in readme.splitlines() if line.startswith("| `server.port` |"))
    broken = (
        readme.replace("| `server.host` | `HPN_HOST` |", "| `server.host` | `HPN_BIND` |")
        .replace("| `cache.ttl_seconds` | | int ≥ 1 | `300` |", "| `cache.ttl_seconds` | | int ≥ 1 | `600` |")
        .replace(port_row, "| `server.prot` | | int | `1` | typo |")
    )
    problems = table_problems(broken)
    assert problems[0] == "server.prot: the table names a field that is not declared"
    assert "server.host: the table's environment variable is 'HPN_BIND', declared 'HPN_HOST'" in problems
    assert any(p.startswith("server.port: no row in the table; add\n| `server.port` | `HPN_PORT` |") for p in problems)
    assert "cache.ttl_seconds: the table's default is '`600`', declared '`300`'" in problems
    assert len(problems) == 4


def test_every_declared_field_has_help_and_each_variable_belongs_to_one_field():
    assert all(d.setting.help.strip() and "|" not in d.setting.help for d in DECLARED)
    variables = [d.setting.env for d in DECLARED if d.setting.env]
    assert len(variables) == len(set(variables)) and all(v.startswith("HPN_") for v in variables)


# ---------------------------------------------------------------------------------------
# The example file

# A commented-out line of YAML (`# admin_token: "..."`, `#   - { project: ... }`), not prose.
_COMMENTED_YAML = re.compile(r"^(\s*)# ?(\s*(?:[a-z_][a-z0-9_-]*:(?:\s|$)|- ).*)$")


def uncommented(text: str) -> str:
    return "\n".join(_COMMENTED_YAML.sub(r"\1\2", line) for line in text.splitlines())


def holds(raw: Any, path: str) -> bool:
    """Whether a parsed document gives `path` (key_pool.keys[].name: in some item)."""
    head, dot, rest = path.partition(".")
    if head.endswith("[]"):
        items = raw.get(head[:-2]) if isinstance(raw, dict) else None
        return isinstance(items, list) and any(holds(item, rest) for item in items)
    if head == "*":
        return isinstance(raw, dict) and any(holds(entry, rest) for entry in raw.values())
    if not isinstance(raw, dict) or head not in raw:
        return False
    return not dot or holds(raw[head], rest)


def example_problems(text: str, declared: list[Declared] = DECLARED) -> list[str]:
    document = yaml.safe_load(uncommented(text))
    missing = [f"{d.path}: not in the example file" for d in declared if not holds(document, d.path)]
    unnamed = [f"{d.setting.env}: not named in the example file" for d in declared if d.setting.env and d.setting.env not in text]
    return missing + unnamed


def test_the_example_file_holds_every_field_and_names_every_variable():
    problems = example_problems(EXAMPLE.read_text())
    assert not problems, "configs/config.example.yaml lacks:\n" + "\n".join(problems)


def test_the_example_check_names_a_missing_field_and_variable():
    text = EXAMPLE.read_text()
    broken = text.replace("  # admin_token:", "  # admin:").replace("HPN_STATE_FILE", "THE_STATE_VARIABLE")
    assert example_problems(broken) == ["server.admin_token: not in the example file", "HPN_STATE_FILE: not named in the example file"]


@pytest.mark.parametrize("uncomment", [False, True])
def test_the_example_file_loads_and_gives_the_declared_defaults(uncomment):
    """As shipped, and with its commented-out examples switched on (but the inline key)."""
    text = EXAMPLE.read_text()
    if uncomment:
        text = uncommented(text.replace('      # key: "AIza..."\n', ""))
    env = {
        "GEMINI_KEY_1": "AIzaSyFromEnv1",
        "GEMINI_KEY_2": "AIzaSyFromEnv2",
        "MISTRAL_KEY_1": "mistralFromEnv1",
        "ANTHROPIC_KEY_1": "sk-ant-FromEnv1",
    }
    config = parse_config(yaml.safe_load(text), env)
    # The example spells out the defaults (its model map and prices are examples, not defaults).
    examples = (
        "key_pool.keys",
        "mistral.keys",
        "anthropic.keys",
        "models",
        "pricing.models",
        "pricing.charged",
        "server.client_tokens",
        "server.admin_token",
        "server.cors_origins",
    )
    for d in DECLARED:
        switched_on = uncomment and d.path in ("key_pool.limits", "webhooks", "state.redis_url")
        if d.attrs is not None and not d.path.startswith(examples) and not switched_on:
            assert d.value_in(config) == d.value_in(RouterConfig()), d.path
