"""Parameters outside their range are refused when they are read, in one line naming the parameter,
the value and the range; `-i NAME` without `=REF` says what the stage reads. No stage runs here."""
import re
import types
import typing

import pytest
from pydantic import BaseModel

from zhinao.app.cli import parse_inputs
from zhinao.app.params import _model_of, parse_params
from zhinao.flows.registry import targets

TARGETS = targets()
REQUIRED = {"ablate": ['datasets=["a", "b"]']}      # parameters without a default
FRACTION = re.compile(r"(^|_)(frac|fraction|ratio|thr|threshold|share|prob|utilization|confidence|similarity"
                      r"|held_out|top_p|dropout|min_score)($|_)")
NOT_FRACTIONS = {"max_symbol_word_ratio", "new_line_ratio"}     # per word: may exceed 1
UNBOUNDED = {"seed", "alpha"}       # any seed; an extrapolation coefficient may be negative


def _scalar(annotation) -> bool:
    return typing.get_origin(annotation) in (None, typing.Union, types.UnionType)


def numeric_fields(model: type[BaseModel], prefix: str = ""):
    """Dotted keys of the int and float parameters of `model` and of the models nested in it."""
    for name, field in model.model_fields.items():
        if not _scalar(field.annotation):
            continue
        sub = _model_of(field.annotation)
        if sub is not None:
            yield from numeric_fields(sub, f"{prefix}{name}.")
        elif {int, float} & set(typing.get_args(field.annotation) or (field.annotation,)):
            yield prefix + name


def refused(model, base: list[str], pair: str) -> str:
    with pytest.raises(ValueError) as e:
        parse_params(model, base + [pair])
    message = str(e.value)
    assert pair in message and "\n" not in message, message
    return message


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_defaults_validate_and_out_of_range_values_are_refused(name):
    model, base = TARGETS[name].params, REQUIRED.get(name, [])
    defaults = parse_params(model, base)
    model.model_validate(defaults.model_dump())     # defaults are not validated on their own: every one here is
    model.model_json_schema()
    for key in numeric_fields(model):
        leaf = key.rsplit(".", 1)[-1]
        if leaf not in UNBOUNDED:
            refused(model, base, f"{key}=-1")       # no count, size, rate, weight or fraction below 0
        if FRACTION.search(leaf) and leaf not in NOT_FRACTIONS:
            refused(model, base, f"{key}=1.5")


def test_negative_min_doc_words_is_refused_naming_the_field_and_the_bound():
    quality = TARGETS["quality"].params
    for pair in ('gopher_quality={"min_doc_words": -80}', "gopher_quality.min_doc_words=-80"):
        with pytest.raises(ValueError) as e:
            parse_params(quality, [pair])
        assert str(e.value) == ("invalid parameter gopher_quality.min_doc_words=-80: "
                                "should be greater than or equal to 0")
    message = refused(quality, [], "fineweb.short_line_thr=1.5")
    assert "should be greater than or equal to 0 and less than or equal to 1" in message
    with pytest.raises(ValueError, match=r"gopher_quality: min_doc_words \(200000\) is above max_doc_words \(100000\)"):
        parse_params(quality, ["gopher_quality.min_doc_words=200000"])
    with pytest.raises(ValueError, match=r"gopher_quality\.min_doc_wordz=5: Extra inputs"):    # a typo inside JSON
        parse_params(quality, ['gopher_quality={"min_doc_wordz": 5}'])


@pytest.mark.parametrize("target, pair, says", [
    ("langid", "min_score_by_lang.en=1.5", "less than or equal to 1"),
    ("judge", 'min_scores={"correctness": 11}', "less than or equal to 10"),
    ("annotate", "lexical_weight.zh=-2", "greater than or equal to 0"),
    ("tokens-stage1", 'weights={"mix_source": {"web": -1}}', "greater than or equal to 0"),
    ("quality", 'gopher_repetition={"top_n_grams": {"2": 1.2}}', "less than or equal to 1"),
    ("instruct-evolve", "min_instruction_units=200", "min_instruction_units (200) is above max_instruction_units"),
    ("evaluate", "niah_lengths=0", "greater than 0"),
])
def test_values_inside_mappings_and_lists_are_bounded(target, pair, says):
    base = REQUIRED.get(target, [])
    with pytest.raises(ValueError, match=re.escape(says)):
        parse_params(TARGETS[target].params, base + [pair])


def _models():
    seen, todo = set(), [t.params for t in TARGETS.values()]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += [s for f in m.model_fields.values() if (s := _model_of(f.annotation)) is not None]
    return seen


def _has(field, *bounds: str) -> bool:
    return any(hasattr(m, b) for m in field.metadata for b in bounds)


def test_a_new_default_in_a_subclass_keeps_the_bounds_of_its_base():
    """`steps: int = 120` in a subclass replaces the base's `Field(200, gt=0)`, bounds and all."""
    lost = []
    for model in _models():
        for base in model.__mro__[1:]:
            for name, field in getattr(base, "model_fields", {}).items() if base is not BaseModel else ():
                mine = model.model_fields.get(name)
                for side in (("gt", "ge"), ("lt", "le")):
                    if mine is not None and _has(field, *side) and not _has(mine, *side):
                        lost.append(f"{model.__name__}.{name} ({base.__name__})")
    assert not lost, sorted(set(lost))


def test_an_input_without_a_version_names_what_the_stage_reads():
    quality = TARGETS["quality"]
    params = quality.params()
    for pair in ("langid", "langid=", "=langid@1234"):
        with pytest.raises(ValueError) as e:
            parse_inputs([pair], quality, params)
        assert str(e.value) == f"--input {pair!r}: expected INPUT=DATASET[@VERSION] (quality reads: langid)"
    with pytest.raises(ValueError, match="'langid' is given twice"):
        parse_inputs(["langid=langid@a", "langid=langid@b"], quality, params)
    with pytest.raises(ValueError, match=r"\(ingest reads: no inputs\)"):
        parse_inputs(["docs"], TARGETS["ingest"], TARGETS["ingest"].params())


def test_an_optional_list_takes_comma_separated_values():
    """README's `zhinao run merge ... -p weights=0.5,0.5` (`list[float] | None`)."""
    merge = TARGETS["merge"].params
    assert parse_params(merge, ["models=a,b", "weights=0.5,0.5"]).weights == [0.5, 0.5]
