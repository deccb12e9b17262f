"""The black box: what the controller did and saw, kept on the card for years.

:mod:`~controller.blackbox.recorder` (the loop's side: what is recorded),
:mod:`~controller.blackbox.writer` (the bounded queue and the writer thread),
:mod:`~controller.blackbox.store` (the SQLite files: durability, rotation, pruning, reading).
``treadguard log`` (:mod:`controller.log_cli`) reads them back.
"""
