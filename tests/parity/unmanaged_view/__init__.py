"""Scenario: an app with only an unmanaged model whose database view lives on ``warehouse``; the
router sends the model (by ``model_name``) to warehouse and everything else, stats' app label
included, to default. The view is created by a ``RunSQL`` hinted with the model's name.

Proves: the view is created on warehouse, the alias the hinted ``RunSQL`` is sent to, although
the app has no managed model and its app label is routed to default; the model's content type and
permissions are created on default, where contenttypes and auth are.
"""

ALIASES = ("default", "warehouse")
