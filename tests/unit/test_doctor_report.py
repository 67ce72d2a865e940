"""Rendering of the doctor's findings and of the dependency graph: pure, no Django settings."""

from __future__ import annotations

from migrator.doctor.render import (
    doctor_document,
    doctor_lines,
    dot,
    mermaid,
    refusal_message,
)
from migrator.render import Line
from migrator.types import Finding, Level, Node

ALIASES = ("default", "users_db", "replica")


def finding(id: str, alias: str | None, obj: str = "app.Model") -> Finding:
    levels: dict[str, Level] = {"E": "error", "W": "warning", "I": "info"}
    level = levels[id[9]]
    return Finding(id, level, alias, obj, f"{id} message.", f"{id} fix.")


FINDINGS = [
    finding("migrator.I001", "users_db", "users.0002_data"),
    finding("migrator.E005", None, "routers.Router"),
    finding("migrator.W001", "default", "blog.Post"),
    finding("migrator.E004", "default", "blog.Post"),
]


def test_no_findings() -> None:
    assert doctor_lines([], ALIASES) == [
        Line("Routing doctor: no problems found on 3 databases.", "success")
    ]


def test_findings_grouped_by_alias_errors_first() -> None:
    assert doctor_lines(FINDINGS, ALIASES) == [
        Line("Routing doctor: 2 errors, 1 warning, 1 info on 3 databases.", "heading"),
        Line("default", "heading"),
        Line("  error migrator.E004 blog.Post", "error"),
        Line("    migrator.E004 message."),
        Line("    Fix: migrator.E004 fix."),
        Line("  warning migrator.W001 blog.Post", "warning"),
        Line("    migrator.W001 message."),
        Line("    Fix: migrator.W001 fix."),
        Line("users_db", "heading"),
        Line("  info migrator.I001 users.0002_data", "notice"),
        Line("    migrator.I001 message."),
        Line("    Fix: migrator.I001 fix."),
        Line("(no single alias)", "heading"),
        Line("  error migrator.E005 routers.Router", "error"),
        Line("    migrator.E005 message."),
        Line("    Fix: migrator.E005 fix."),
    ]


def test_json_document() -> None:
    document = doctor_document(FINDINGS, ALIASES)
    assert document["version"] == 1
    assert document["mode"] == "doctor"
    assert document["ok"] is False
    assert document["counts"] == {"error": 2, "warning": 1, "info": 1}
    assert [f["id"] for f in document["findings"]] == [
        "migrator.E004",
        "migrator.W001",
        "migrator.I001",
        "migrator.E005",
    ]
    assert document["findings"][3] == {
        "id": "migrator.E005",
        "level": "error",
        "alias": None,
        "obj": "routers.Router",
        "message": "migrator.E005 message.",
        "hint": "migrator.E005 fix.",
    }
    assert doctor_document(FINDINGS[2:3], ALIASES)["ok"] is True  # warnings only


def test_refusal_names_each_error_and_skip_checks() -> None:
    assert refusal_message([FINDINGS[1], FINDINGS[3]], ALIASES, "migrate_all") == (
        "The routing doctor found 2 errors, so nothing was started:\n"
        "  migrator.E004 blog.Post: migrator.E004 message.\n"
        "    Fix: migrator.E004 fix.\n"
        "  migrator.E005 routers.Router: migrator.E005 message.\n"
        "    Fix: migrator.E005 fix.\n"
        "Fix them ('manage.py migrate_all --doctor' lists every finding), or pass --skip-checks "
        "to run anyway."
    )


A = Node("default", "auth")
C = Node("default", "contenttypes")
U = Node("users_db", "users")
ODD = Node("users-db", 'we"ird')


def test_mermaid_sorted_cross_edges_thick_pending_marked() -> None:
    text = mermaid(
        [U, A, C],
        [(U, A), (C, A)],
        ALIASES,
        ["contenttypes", "auth", "users"],
        {A: 3, C: 0},
        {"replica": "default"},
    )
    assert text == (
        "flowchart LR\n"
        "  %% django-migrator: A --> B means B migrates after A; thick red arrows cross databases\n"
        '  subgraph default["default"]\n'
        '    default__contenttypes["contenttypes"]\n'
        '    default__auth["auth (3 pending)"]:::pending\n'
        "  end\n"
        '  subgraph users_db["users_db"]\n'
        '    users_db__users["users"]\n'
        "  end\n"
        '  subgraph replica["replica"]\n'
        '    replica__none["no migrations (mirror of default)"]:::idle\n'
        "  end\n"
        "  default__contenttypes --> default__auth\n"
        "  users_db__users ==> default__auth\n"
        "  classDef pending fill:#fff3bf,stroke:#f08c00,stroke-width:2px\n"
        "  classDef idle fill:#f8f9fa,stroke:#adb5bd,stroke-dasharray:4 4,color:#868e96\n"
        "  linkStyle 1 stroke:#e03131,stroke-width:3px"
    )


def test_mermaid_ids_are_safe_and_unique() -> None:
    text = mermaid([ODD, Node("users_db", "we_ird")], [], ["users-db", "users_db"], [], None, {})
    assert '  subgraph users_db["users-db"]\n    users_db__we_ird["we#quot;ird"]\n' in text
    assert '  subgraph users_db_2["users_db"]\n    users_db__we_ird_2["we_ird"]\n' in text


def test_dot() -> None:
    text = dot([U, A, ODD], [(U, A)], ALIASES, ["auth", "users"], None, {})
    assert text == (
        "// django-migrator: A -> B means B migrates after A; thick red arrows cross databases\n"
        "digraph migrator {\n"
        "  rankdir=LR;\n"
        '  node [shape=box, style=rounded, fontname="Helvetica"];\n'
        "  subgraph cluster_1 {\n"
        '    label="default";\n'
        '    "default/auth" [label="auth"];\n'
        "  }\n"
        "  subgraph cluster_2 {\n"
        '    label="users_db";\n'
        '    "users_db/users" [label="users"];\n'
        "  }\n"
        "  subgraph cluster_3 {\n"
        '    label="replica";\n'
        '    "replica/" [label="no migrations", style="rounded,dashed", fontcolor=gray40];\n'
        "  }\n"
        "  subgraph cluster_4 {\n"
        '    label="users-db";\n'
        '    "users-db/we\\"ird" [label="we\\"ird"];\n'
        "  }\n"
        '  "users_db/users" -> "default/auth" [color="#e03131", penwidth=2.5];\n'
        "}"
    )
