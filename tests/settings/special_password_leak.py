"""The testproject with a password that every encoding changes, and a router that leaks it in a
KeyError (repr-escaped) and in a URL (percent-encoded): for the redaction tests."""

from testproject.settings import *  # noqa: F403
from testproject.settings import DATABASES

from tests.helpers import SPECIAL_PASSWORD

DATABASES["cache_db"] = {**DATABASES["cache_db"], "PASSWORD": SPECIAL_PASSWORD}
DATABASE_ROUTERS = ["tests.routers.EncodingLeakyRouter"]
