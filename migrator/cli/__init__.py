"""The commands' side: options (``options``), the command that runs every mode
(``command``), the modes besides a run (``doctor``: --doctor, --graph and the checks; ``drift``),
and the interactive menu (``menu``). Everything below is called through ``api`` and the feature
packages; nothing below imports from here."""
