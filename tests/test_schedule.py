"""The two-stage LR schedule: warmup, cosine to a raised floor, then an anneal to 0 that starts where
stage 1 ended."""
import pytest

from zhinao.model.schedule import LRSchedule, anneal_after, plot_schedules


def test_stage1_warms_up_then_decays_to_its_raised_floor():
    s = LRSchedule(total_steps=1000, max_lr=3e-4, warmup_steps=100, floor_ratio=0.3)
    assert s(0) == pytest.approx(3e-6) and s(99) == pytest.approx(3e-4)
    lrs = [s(k) for k in range(100, 1001)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))                  # monotone after warmup
    assert s(1000) == pytest.approx(9e-5) and s(5000) == s(1000)       # the floor, and it stays there
    assert s(550) == pytest.approx((3e-4 + 9e-5) / 2)                  # cosine midpoint


def test_stage2_anneals_from_stage1s_end_to_zero(tmp_path):
    s1 = LRSchedule(total_steps=500, max_lr=3e-4, warmup_steps=50, floor_ratio=0.3)
    for shape in ("linear", "cosine"):
        s2 = anneal_after(s1, 200, shape)
        assert s2(0) == pytest.approx(s1.final_lr) and s2(200) == 0.0
        lrs = [s2(k) for k in range(201)]
        assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    assert anneal_after(s1, 200)(100) == pytest.approx(s1.final_lr / 2)
    png = plot_schedules([("stage 1", s1), ("stage 2", anneal_after(s1, 200))], tmp_path / "lr.png")
    assert png.stat().st_size > 1000


def test_bad_schedules_are_refused():
    with pytest.raises(ValueError, match="warmup_steps"):
        LRSchedule(total_steps=10, warmup_steps=10)
    with pytest.raises(ValueError, match="floor_ratio"):
        LRSchedule(total_steps=10, floor_ratio=1.5)
