"""--graph: the testproject's (alias, app) dependency graph as Mermaid and DOT."""

from __future__ import annotations

import re
from pathlib import Path

from django.db import connections

from tests.helpers import REPO, run

MERMAID = """\
flowchart LR
  %% django-migrator: A --> B means B migrates after A; thick red arrows cross databases
  subgraph default["default"]
    default__contenttypes["contenttypes (2 pending)"]:::pending
    default__auth["auth (11 pending)"]:::pending
    default__blog["blog (2 pending)"]:::pending
    default__shop["shop (1 pending)"]:::pending
  end
  subgraph users_db["users_db"]
    users_db__users["users (2 pending)"]:::pending
  end
  subgraph analytics_db["analytics_db"]
    analytics_db__analytics["analytics (2 pending)"]:::pending
  end
  subgraph legacy_db["legacy_db"]
    legacy_db__legacy["legacy (1 pending)"]:::pending
  end
  subgraph cache_db["cache_db"]
    cache_db__cache["cache (1 pending)"]:::pending
  end
  subgraph read_replica["read_replica"]
    read_replica__none["no migrations (mirror of default)"]:::idle
  end
  default__contenttypes --> default__auth
  users_db__users ==> default__blog
  users_db__users ==> default__shop
  classDef pending fill:#fff3bf,stroke:#f08c00,stroke-width:2px
  classDef idle fill:#f8f9fa,stroke:#adb5bd,stroke-dasharray:4 4,color:#868e96
  linkStyle 1,2 stroke:#e03131,stroke-width:3px
"""

DOT = """\
// django-migrator: A -> B means B migrates after A; thick red arrows cross databases
digraph migrator {
  rankdir=LR;
  node [shape=box, style=rounded, fontname="Helvetica"];
  subgraph cluster_1 {
    label="default";
    "default/contenttypes" [label="contenttypes"];
    "default/auth" [label="auth"];
    "default/blog" [label="blog"];
    "default/shop" [label="shop"];
  }
  subgraph cluster_2 {
    label="users_db";
    "users_db/users" [label="users"];
  }
  subgraph cluster_3 {
    label="analytics_db";
    "analytics_db/analytics" [label="analytics"];
  }
  subgraph cluster_4 {
    label="legacy_db";
    "legacy_db/legacy" [label="legacy"];
  }
  subgraph cluster_5 {
    label="cache_db";
    "cache_db/cache" [label="cache"];
  }
  subgraph cluster_6 {
    label="read_replica";
    "read_replica/" [label="no migrations (mirror of default)", style="rounded,dashed", fontcolor=gray40];
  }
  "default/contenttypes" -> "default/auth";
  "users_db/users" -> "default/blog" [color="#e03131", penwidth=2.5];
  "users_db/users" -> "default/shop" [color="#e03131", penwidth=2.5];
}
"""


def test_mermaid_of_fresh_databases_touches_nothing(sqlite_project: Path) -> None:
    assert run("migrate_all", graph="mermaid") == (MERMAID, "", 0)
    assert run("migrator", graph="mermaid") == (MERMAID, "", 0)
    assert list(sqlite_project.iterdir()) == []


def test_dot_after_a_run_has_nothing_pending(sqlite_project: Path) -> None:
    run("migrate_all")
    assert run("migrate_all", graph="dot") == (DOT, "", 0)


def test_pending_marks_follow_the_state(sqlite_project: Path) -> None:
    run("migrate_all", databases=["users_db"])
    out, _, _ = run("migrate_all", graph="mermaid")
    assert '    users_db__users["users"]\n' in out
    assert '    default__blog["blog (2 pending)"]:::pending\n' in out


def test_unreadable_state_renders_without_pending_marks(sqlite_project: Path) -> None:
    connections["cache_db"].close()
    connections.settings["cache_db"]["NAME"] = str(sqlite_project)  # a folder: cannot be opened
    del connections["cache_db"]
    out, err, code = run("migrate_all", graph="mermaid")
    assert code == 0
    assert out == re.sub(r" \(\d+ pending\)|:::pending", "", MERMAID)
    assert err == (
        f"Cannot read the migration state of cache_db (sqlite {sqlite_project}): unable to open "
        "database file. Check that the servers are up and the credentials in DATABASES are "
        "right; nothing was migrated. The graph has no pending marks.\n"
    )


def test_the_readme_shows_this_graph() -> None:
    readme = (REPO / "README.md").read_text()
    block = readme.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert block == MERMAID
