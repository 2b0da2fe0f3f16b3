"""What PEFT's files mean, as data: below the diagnosis rules, above nothing but the model.

- :mod:`~weightfit.peft.config`: ``adapter_config.json`` as a dataclass, and
  the scale each LoRA module gets (``rank_pattern``, ``alpha_pattern``, rsLoRA);
- :mod:`~weightfit.peft.layout`: which adapter tensor is what (LoRA ``A``/``B``
  of a module, a ``modules_to_save`` copy, trainable-token rows) and which base
  tensor it belongs to.
"""
