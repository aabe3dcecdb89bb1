"""README's configuration table must name every option the filter reads, and vice versa."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = (ROOT / "src" / "config.rs").read_text()
README = (ROOT / "README.md").read_text()
TABLE = README[README.index("## Configuration"):README.index("## Credentials")]


def raw_fields():
    raw = CONFIG[CONFIG.index("struct RawConfig"):]
    return re.findall(r"^\s+(\w+): Option<", raw[:raw.index("\n}\n")], re.M)


def env_vars():
    return set(re.findall(r'get\("([A-Z_]+)"\)', CONFIG))


def test_every_plugin_config_field_is_documented():
    fields = raw_fields()
    assert len(fields) > 10
    assert [f for f in fields if f"`{f}`" not in TABLE] == []


def test_every_environment_variable_is_documented():
    assert [v for v in sorted(env_vars()) if f"`{v}`" not in TABLE] == []


def test_table_names_no_field_the_filter_does_not_know():
    documented = set(re.findall(r"^\| `(\w+)`", TABLE, re.M))
    assert documented, "table rows start with a field name"
    assert sorted(documented - set(raw_fields())) == []
