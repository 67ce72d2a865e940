"""The ``django.VERSION`` gate: an untested Django is refused with the installed version, the tested
range and the fix, unless ``MIGRATOR["ALLOW_UNTESTED_DJANGO"]`` is True (faked versions)."""

from __future__ import annotations

import django
import pytest
from django.test import override_settings

from migrator import __version__, conf, django_compat
from migrator.exceptions import ConfigurationError

OPT_OUT = 'To run anyway, at your own risk, set MIGRATOR = {"ALLOW_UNTESTED_DJANGO": True} in your settings.'


@pytest.mark.parametrize(
    "version",
    [
        (4, 2, 0, "final", 0),
        (4, 2, 30, "final", 0),
        (5, 2, 19, "final", 0),
        (6, 0, 10, "final", 0),
        (6, 1, 0, "alpha", 0),  # a pre-release of a tested series
        (6, 1, 3, "final", 0),
    ],
)
def test_a_tested_series_passes(monkeypatch: pytest.MonkeyPatch, version: tuple[object]) -> None:
    monkeypatch.setattr(django, "VERSION", version)
    assert django_compat.untested_django() is None
    # A tested Django never reads the setting (so a bad value is left to conf.load).
    with override_settings(MIGRATOR={"ALLOW_UNTESTED_DJANGO": "yes"}):
        django_compat.refuse_untested_django()


def test_a_newer_series_is_refused_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(django, "VERSION", (6, 2, 1, "final", 0))
    message = (
        f"Django 6.2.1 is installed, but django-migrate-all {__version__} is tested with Django "
        "4.2, 5.2, 6.0 and 6.1 only: it runs migrations through Django internals that an untested Django may "
        "have changed. Install a tested Django (pip install 'Django>=4.2,!=5.0.*,!=5.1.*,<6.2'), or upgrade "
        "django-migrate-all (pip install --upgrade django-migrate-all) to a release tested with "
        f"Django 6.2. {OPT_OUT}"
    )
    assert django_compat.untested_django() == message
    with pytest.raises(ConfigurationError) as refused:
        django_compat.refuse_untested_django()
    assert (str(refused.value), refused.value.exit_code) == (message, 2)


@pytest.mark.parametrize(
    ("version", "shown"),
    [((7, 0, 0, "final", 0), "7.0"), ((6, 2, 0, "beta", 1), "6.2b1")],
)
def test_every_later_series_and_its_pre_releases_are_refused(
    monkeypatch: pytest.MonkeyPatch, version: tuple[object], shown: str
) -> None:
    monkeypatch.setattr(django, "VERSION", version)
    message = django_compat.untested_django()
    assert message is not None
    assert message.startswith(f"Django {shown} is installed, but django-migrate-all ")


def test_an_older_series_is_refused_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(django, "VERSION", (4, 1, 13, "final", 0))
    assert django_compat.untested_django() == (
        f"Django 4.1.13 is installed, but django-migrate-all {__version__} is tested with Django "
        "4.2, 5.2, 6.0 and 6.1 only: it runs migrations through Django internals that an untested Django may "
        "have changed. Upgrade Django to a tested series (pip install 'Django>=4.2,!=5.0.*,!=5.1.*,<6.2'). "
        f"{OPT_OUT}"
    )


def test_a_series_between_two_tested_ones_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """5.0 and 5.1 lie between tested series, but the matrix does not run them."""
    monkeypatch.setattr(django, "VERSION", (5, 1, 4, "final", 0))
    assert django_compat.untested_django() == (
        f"Django 5.1.4 is installed, but django-migrate-all {__version__} is tested with Django "
        "4.2, 5.2, 6.0 and 6.1 only: it runs migrations through Django internals that an untested "
        "Django may have changed. Install a tested Django (pip install "
        f"'Django>=4.2,!=5.0.*,!=5.1.*,<6.2'). {OPT_OUT}"
    )
    monkeypatch.setattr(django, "VERSION", (5, 0, 0, "final", 0))
    assert django_compat.untested_django() is not None
    for series in django_compat.TESTED_SERIES:
        monkeypatch.setattr(django, "VERSION", (*series, 0, "final", 0))
        assert django_compat.untested_django() is None


def test_the_opt_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(django, "VERSION", (6, 2, 0, "final", 0))
    with override_settings(MIGRATOR={"ALLOW_UNTESTED_DJANGO": True}):
        django_compat.refuse_untested_django()
    with (
        override_settings(MIGRATOR={"ALLOW_UNTESTED_DJANGO": False}),
        pytest.raises(ConfigurationError, match=r"^Django 6\.2 is installed"),
    ):
        django_compat.refuse_untested_django()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"ALLOW_UNTESTED_DJANGO": 1},
            "MIGRATOR['ALLOW_UNTESTED_DJANGO'] = 1 must be True or False; use "
            "'ALLOW_UNTESTED_DJANGO': True to run on a Django series django-migrate-all is not "
            "tested with.",
        ),
        (
            {"ALLOW_UNTESTED_DJANOG": True},
            "settings.MIGRATOR has unknown key 'ALLOW_UNTESTED_DJANOG'; the keys are "
            "CONNECT_TIMEOUT, LOCK_TIMEOUT, SESSION, ROUTING_CACHE, ALLOW_UNTESTED_DJANGO, DATABASES, "
            "DIRECT, JOURNAL, CANARIES, MAX_CONNECTIONS_PER_SERVER, MAX_CONNECTIONS, CELERY, PHASE_TOOL, LOCK_RETRIES, RISK.",
        ),
    ],
)
def test_a_bad_opt_out_is_named_on_an_untested_django(
    monkeypatch: pytest.MonkeyPatch, value: dict[str, object], message: str
) -> None:
    # conf.load (every run, plan and check) refuses it on any Django, this one included.
    with override_settings(MIGRATOR=value), pytest.raises(ConfigurationError) as refused:
        conf.load({"default": "sqlite"})
    assert str(refused.value) == message
    monkeypatch.setattr(django, "VERSION", (6, 2, 0, "final", 0))
    with override_settings(MIGRATOR=value), pytest.raises(ConfigurationError) as refused:
        django_compat.refuse_untested_django()
    assert str(refused.value) == message
