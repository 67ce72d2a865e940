"""Where drift says a table and its columns came from (migrator.drift.recorded.Origins): traced
through renames, forgotten with a deleted model. No database."""

from __future__ import annotations

from django.db import migrations, models

from migrator.drift.recorded import Origins, _added_as

FIRST, SECOND, THIRD, FOURTH = (("blog", f"000{n}") for n in range(1, 5))


def draft(*fields: tuple[str, models.Field[object, object]]) -> migrations.CreateModel:
    return migrations.CreateModel("Draft", [("id", models.AutoField(primary_key=True)), *fields])


def test_a_renamed_field_is_traced_to_the_migration_that_added_it() -> None:
    origins = Origins()
    origins.trace(FIRST, [draft(("title", models.CharField(max_length=9)))])
    origins.trace(SECOND, [migrations.RenameField("Draft", "title", "headline")])
    assert origins.fields[("blog", "draft", "headline")] == FIRST
    assert origins.renamed[("blog", "draft", "headline")] == ("title", SECOND)
    origins.trace(THIRD, [migrations.RenameModel("Draft", "Note")])
    assert origins.models[("blog", "note")] == FIRST
    assert origins.renamed[("blog", "note", "headline")] == ("title", SECOND)


def test_a_model_deleted_and_created_again_forgets_its_renames() -> None:
    origins = Origins()
    origins.trace(FIRST, [draft(("title", models.CharField(max_length=9)))])
    origins.trace(SECOND, [migrations.RenameField("Draft", "title", "headline")])
    origins.trace(THIRD, [migrations.DeleteModel("Draft")])
    assert not origins.renamed
    assert ("blog", "draft") not in origins.models
    origins.trace(FOURTH, [draft(("headline", models.CharField(max_length=9)))])
    assert origins.fields[("blog", "draft", "headline")] == FOURTH
    assert origins.renamed == {}


def test_the_column_a_renamed_field_was_added_as() -> None:
    text = models.CharField(max_length=9)
    text.set_attributes_from_name("headline")
    assert _added_as(text, ("title", SECOND)) == ("title", SECOND)
    key = models.ForeignKey("auth.User", models.CASCADE)
    key.set_attributes_from_name("writer")
    assert _added_as(key, ("author", SECOND)) == ("author_id", SECOND)
    fixed = models.CharField(max_length=9, db_column="title")
    fixed.set_attributes_from_name("headline")
    assert _added_as(fixed, ("title", SECOND)) is None  # the column kept its name
    assert _added_as(text, None) is None
