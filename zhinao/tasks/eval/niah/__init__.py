"""Needle-in-a-haystack evaluation: items built from the pipeline's texts (English and Chinese),
scored offline, aggregated per length x depth cell and drawn as a heatmap.

    items = build_items(texts, lengths=[1024, 2048, 4096], depths=depth_grid(11), tokenizer=tok)
    results = score_items(items, {item["id"]: generate(item["prompt"]) for item in items})
    summary = summarize(results); plot_heatmap(results, path)
"""
from .aggregate import grid, mean_by, summarize
from .forced import teacher_forced
from .haystack import build_haystack, langs_held, read_texts, script_lang
from .heatmap import plot_heatmap
from .items import VARIANTS, build_items, depth_grid, render_prompt
from .limits import context_limit, fitting_lengths
from .needles import FACTS, Needle, fact_needles, value_needles
from .score import THRESHOLD, normalize, score_items, score_response
from .sentences import boundaries
from .tokens import approx_tokens, token_counter

__all__ = ["FACTS", "THRESHOLD", "VARIANTS", "Needle", "approx_tokens", "boundaries", "build_haystack",
           "build_items", "context_limit", "depth_grid", "fact_needles", "fitting_lengths", "grid", "mean_by",
           "normalize", "plot_heatmap", "langs_held", "read_texts", "render_prompt", "score_items", "score_response",
           "script_lang", "summarize", "teacher_forced", "token_counter", "value_needles"]
