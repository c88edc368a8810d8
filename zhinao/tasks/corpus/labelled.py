"""Sample-crawl articles with their true topic as a taxonomy id: the ground truth that the topic
annotators and the classifier are measured against (tests and benchmarks/topics.py)."""
from __future__ import annotations

import random

from .content import TOPICS
from .pages import article

# the sample crawl's topics and their ids in the 42-topic taxonomy
TAXONOMY_IDS = {"news": "news_politics", "finance": "finance_economy", "law": "law_government",
                "medicine": "medicine_health", "education": "education_exams", "science": "science_research",
                "math": "mathematics", "code": "code_software", "sports": "sports", "travel": "travel_tourism",
                "food": "food_cooking", "games": "games"}


def labelled_articles(per_topic: int, seed: int = 0, skew: dict[str, int] | None = None) -> list[dict]:
    """per_topic articles (times skew[topic]) per topic and language: id, text, lang, url, source, truth."""
    rng = random.Random(seed)
    rows = []
    for topic in sorted(TOPICS):
        for lang in ("en", "zh"):
            for k in range(per_topic * (skew or {}).get(topic, 1)):
                page = article(rng, lang, topic, f"https://{lang}.example.org/{topic}/{k}")
                rows.append({"id": f"{lang}-{topic}-{k}", "text": page.title + "\n" + "\n".join(page.paragraphs),
                             "lang": lang, "url": page.url, "source": "sample", "truth": TAXONOMY_IDS[topic]})
    return rows
