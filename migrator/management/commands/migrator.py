from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError

from migrator.cli import output
from migrator.cli.command import OrchestrateCommand
from migrator.cli.options import CommandOptions, without_menu


class Command(OrchestrateCommand):
    help = (
        "Orchestrate migrations of every database. --auto migrates everything (as migrate_all); "
        "on a terminal without --auto an interactive menu opens."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--auto",
            action="store_true",
            help="Run without the menu: plan and migrate every routed alias (same as migrate_all).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self._menu = not (options["auto"] or without_menu(options))
        if self._menu and not output.stdin_is_terminal():
            raise CommandError(
                "migrator: no terminal for the interactive menu. Pass --auto to plan and "
                "migrate every database without it (or use 'manage.py migrate_all').",
                returncode=2,
            )
        super().handle(*args, **options)

    def orchestrate(self, opts: CommandOptions) -> None:
        if not self._menu:
            super().orchestrate(opts)
            return
        from migrator.cli.menu import (
            Menu,  # the only importer of questionary: loaded for the menu only
        )

        Menu(self, opts).loop()
