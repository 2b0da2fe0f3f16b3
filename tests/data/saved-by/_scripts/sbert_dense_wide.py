"""A sentence-transformers Dense projection of 256 outputs loaded into one of 512 (qa4-explain).

Run as /tmp/qa4x-explain/dense.py with sentence-transformers 6.3.0, torch 2.13.0+cpu; its output is
``sentence-transformers-6.3.0/sbert_dense_wide.txt``.
"""

import sentence_transformers
import torch
from sentence_transformers.models import Dense

a = Dense(in_features=768, out_features=256)
b = Dense(in_features=768, out_features=512)
try:
    b.load_state_dict(a.state_dict())
except RuntimeError as e:
    print(f"RuntimeError: {e}")
print("sentence-transformers", sentence_transformers.__version__, "torch", torch.__version__)
