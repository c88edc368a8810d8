"""Language identification: fastText lid.176 plus script evidence for CJK."""
