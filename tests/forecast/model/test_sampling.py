"""The two blocks sample with independent seeds drawn from the run's seed."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from forecast.model import sampling


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_each_block_gets_its_own_seed_and_the_same_run_seed_gives_the_same_two(seed):
    allies, campaign = sampling.block_seeds(seed)
    assert allies != campaign
    assert sampling.block_seeds(seed) == (allies, campaign)
    assert 0 <= allies < 2**32 and 0 <= campaign < 2**32


def test_sample_blocks_hands_each_sampler_its_block_seed(monkeypatch):
    seeds = {}

    def sample(compiled, settings, seed, *, blocking=True):
        seeds["allies"] = seed
        return SimpleNamespace(wait=lambda: None)

    def fit(compiled, settings, seed):
        seeds[compiled] = seed

    monkeypatch.setattr(sampling, "sample", sample)
    monkeypatch.setattr(sampling, "read_trace", lambda raw, coords: None)
    monkeypatch.setattr(sampling, "joined", lambda allies, campaign: None)
    allies = SimpleNamespace(coords={})
    settings = {"target_accept": 0.9}
    sampling.sample_blocks(allies, "campaign", settings, 7, SimpleNamespace(fit=fit))

    assert (seeds["allies"], seeds["campaign"]) == sampling.block_seeds(7)
