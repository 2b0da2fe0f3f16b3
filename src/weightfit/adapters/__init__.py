"""PEFT adapters: check one against its base model, merge it into the base, streaming.

- :mod:`~weightfit.adapters.config`: ``adapter_config.json`` as a dataclass, and
  the scale each LoRA module gets (``rank_pattern``, ``alpha_pattern``, rsLoRA);
- :mod:`~weightfit.adapters.layout`: which adapter tensor is what (LoRA ``A``/``B``
  of a module, a ``modules_to_save`` copy, trainable-token rows) and which base
  tensor it belongs to;
- :mod:`~weightfit.adapters.check`: :func:`check_adapter`, a
  :class:`~weightfit.findings.Report` like ``check``'s;
- :mod:`~weightfit.adapters.merge`: :func:`merge_adapter`, written by the fix
  applier's streaming writer.

This package imports nothing heavy; the public functions are reached through
``weightfit.check_adapter`` and ``weightfit.merge_adapter``.
"""
