"""Running a plan: one step (``step``: lock, one executor pass, record, signals), the levels in
order (``schedule``: dependencies, fail-fast, stop requests), forked workers for ``--parallel``
(``workers``) and the stop signals passed on to them (``signals``)."""
