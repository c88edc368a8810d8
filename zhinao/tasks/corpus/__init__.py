"""The embedded sample corpus: a deterministic, realistic bilingual crawl with known ground truth."""
