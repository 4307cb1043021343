"""Sub-commands of the ``speechgmm`` command line (see :mod:`speechgmm.cli`)."""
