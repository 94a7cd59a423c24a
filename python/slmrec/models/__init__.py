"""The models: SASRec (stage 1, item embeddings) and the E4SRec-style LLM recommender (teacher and student).

Both map a left-padded history of item ids [B, L] (0 = padding) to a 128-d user vector [B, D]; scores are dot
products with the item table. Importing this package imports torch (and transformers for ``LLMRec``).
"""

from slmrec.models.llmrec import LLMRec
from slmrec.models.sasrec import SASRec

__all__ = ["LLMRec", "SASRec"]
