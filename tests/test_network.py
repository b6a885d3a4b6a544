"""Network statistics (coordination, Si-O-Si angles) and the named melt-quench schedules."""

import json

import numpy as np
import pytest
from ase import Atoms

from amorphxas.structures import RANDOM_MELT_PRESETS, build_reference, melt_quench
from amorphxas.structures.builders import random_melt_stages
from amorphxas.structures.network import network_statistics


def test_quartz_is_a_perfect_network():
    stats = network_statistics(build_reference("alpha-quartz"))
    assert stats["si_coordination"] == [0, 0, 0, 0, 24] and stats["o_coordination"] == [0, 0, 48]
    assert stats["frac_si4"] == 1.0 and stats["frac_o2"] == 1.0 and stats["frac_si_over"] == 0.0
    assert stats["sio_si_angle_mean"] == pytest.approx(143.7, abs=0.1)  # Le Page & Donnay
    assert sum(stats["sio_si_angle_hist"]) == 48 and stats["density_g_cm3"] == pytest.approx(2.649, abs=0.01)


def test_defects_are_counted():
    """Hand-made fixture: one Si with five O (one O shared by two Si at 120 deg, one lone O)."""
    a = 10.0
    si = [[5.0, 5.0, 5.0], [5.0 - 1.6 * np.cos(np.radians(30)) * 2, 5.0, 5.0]]
    bridge = [5.0 - 1.6 * np.cos(np.radians(30)), 5.0 + 1.6 * np.sin(np.radians(30)), 5.0]
    others = [[6.6, 5.0, 5.0], [5.0, 3.4, 5.0], [5.0, 5.0, 6.6], [5.0, 5.0, 3.4], [8.0, 8.0, 8.0]]
    atoms = Atoms(["Si", "Si"] + ["O"] * 6, positions=si + [bridge] + others, cell=[a] * 3, pbc=True)
    stats = network_statistics(atoms)
    assert stats["si_coordination"][5] == 1 and stats["si_coordination"][1] == 1
    assert stats["o_coordination"] == [1, 4, 1]
    assert stats["frac_si4"] == 0.0 and stats["frac_si_over"] == 0.5
    assert stats["sio_si_angle_mean"] == pytest.approx(120.0, abs=1e-6)


def test_old_schedules_are_unchanged():
    """The shipped cells were built with 'dataset'; its stages stay the four of study 1's form."""
    assert RANDOM_MELT_PRESETS["dataset"] == dict(
        t_melt=5000.0, melt_ps=40.0, t_mid=3000.0, cool1_ps=20.0, t_final=300.0, cool2_ps=20.0,
        relax_ps=10.0, dt_hot_fs=0.5, dt_cold_fs=1.0)
    stages = random_melt_stages(dict(RANDOM_MELT_PRESETS["dataset"]))
    assert [(s.name, s.ensemble, s.duration_ps) for s in stages] == [
        ("anneal", "nvt", 40.0), ("cool NVT", "nvt", 20.0), ("cool NpT", "npt", 20.0),
        ("relax NpT", "npt", 10.0)]


def test_hold_and_fixed_volume_stages():
    p = dict(RANDOM_MELT_PRESETS["dataset"], hold_ps=30.0)
    assert [s.name for s in random_melt_stages(p)] == ["anneal", "cool NVT", "hold NpT",
                                                        "cool NpT", "relax NpT"]
    p["fixed_volume"] = 1.0
    assert {s.ensemble for s in random_melt_stages(p)} == {"nvt"}


def test_window_stage_cools_slowly_from_t_mid_to_t_low_at_fixed_volume():
    p = dict(RANDOM_MELT_PRESETS["dataset"], window_ps=800.0, t_low=1000.0, cool2_ps=50.0)
    stages = random_melt_stages(p)
    assert [s.name for s in stages] == ["anneal", "cool NVT", "window NVT", "cool NpT",
                                        "relax NpT"]
    window, cool = stages[2], stages[3]
    assert (window.ensemble, window.duration_ps) == ("nvt", 800.0)
    assert (window.t_start, window.t_stop) == (3000.0, 1000.0)
    assert (cool.t_start, cool.t_stop) == (1000.0, 300.0)


def test_fixed_volume_run_keeps_the_start_density():
    atoms = melt_quench(2.0, 24, preset="test", seed=2, progress=False, melt_ps=0.2,
                        cool1_ps=0.1, cool2_ps=0.1, relax_ps=0.05, fixed_volume=1, density=2.3)
    assert network_statistics(atoms)["density_g_cm3"] == pytest.approx(2.3, abs=1e-3)
    protocol = json.loads(atoms.info["protocol"])
    assert protocol["fixed_volume"] == 1.0 and atoms.info["preset"] == "test"


def test_nvt1000_cools_the_liquid_at_fixed_volume_to_1000_k():
    """The added cells' schedule: NVT 5000 -> 1000 K in 100 ps, only then NpT (the intermediate
    compositions densify to 2.5-2.8 g/cm3 when the liquid below 3000 K is NpT)."""
    stages = random_melt_stages(dict(RANDOM_MELT_PRESETS["nvt1000"]))
    assert [(s.name, s.ensemble, s.t_start, s.t_stop, s.duration_ps) for s in stages] == [
        ("anneal", "nvt", 5000.0, 5000.0, 40.0), ("cool NVT", "nvt", 5000.0, 1000.0, 100.0),
        ("cool NpT", "npt", 1000.0, 300.0, 50.0), ("relax NpT", "npt", 300.0, 300.0, 20.0)]
