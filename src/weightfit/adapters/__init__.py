"""PEFT adapters: check one against its base model, merge it into the base, streaming.

- :mod:`~weightfit.adapters.check`: :func:`check_adapter`, a
  :class:`~weightfit.findings.Report` like ``check``'s (the ``adapter`` profile of
  the diagnosis rules);
- :mod:`~weightfit.adapters.merge`: :func:`merge_adapter`, written by the fix
  applier's streaming writer;
- :mod:`~weightfit.adapters.saved`: a base whose files use another layout than
  its model in memory (renames, per-expert stacks, tied heads), seen in the
  memory names PEFT uses.

What PEFT's files mean (``adapter_config.json``, which tensor is what) is
:mod:`weightfit.peft`, below the rules. This package imports nothing heavy; the
public functions are reached through ``weightfit.check_adapter`` and
``weightfit.merge_adapter``.
"""
