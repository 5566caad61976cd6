"""Articles -> passages -> embeddings -> search -> Answer. Never imports discord."""

from knowledge.engine import Engine
from knowledge.models import Answer, Article, Passage, Quote, Sentence, Turn

__all__ = ["Engine", "Answer", "Article", "Passage", "Quote", "Sentence", "Turn"]
