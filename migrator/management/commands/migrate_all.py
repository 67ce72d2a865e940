from __future__ import annotations

from migrator.cli.command import OrchestrateCommand


class Command(OrchestrateCommand):
    help = (
        "Migrate every database alias the routers send migrations to, in dependency order "
        "(one Django migrate per alias and app; aliases with no routed app are never touched)."
    )
