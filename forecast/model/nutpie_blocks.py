"""Both blocks compiled for nutpie once per model, and sampled with each cut-off's data."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import arviz as az
import numpy as np
import pymc as pm

from forecast.data.reference import Campaign
from forecast.model import campaign_level, precompile, sampling, snapshot
from forecast.model.compiled import cache_enabled, compile_for_nutpie

logger = logging.getLogger(__name__)

# How long a first compile waits for the campaign level compiling in a child process
# (about a minute on 2 cores with empty caches) before compiling it itself.
PRECOMPILE_TIMEOUT_SECONDS = 600.0


class NutpieBlocks:
    """The per-ally block and the campaign level compiled for nutpie, and the campaign
    level's last fit.

    The per-ally block compiles from the on-disk caches (``compiled``, ``snapshot``);
    on a machine that has not compiled the model yet, the campaign level compiles in a
    child process meanwhile (``precompile``). New data reach the compiled models through
    ``with_data``, never a recompile. A rerun that changes none of the campaign level's
    data reuses its last fit (``sampling.CampaignFits``).

    Parameters
    ----------
    model_config
        The validated model configuration (priors, timing form).
    organisations
        The campaign level's organisations (``campaign_level.organisations``).
    """

    def __init__(self, model_config: Mapping[str, Any], organisations: Sequence[str]):
        self.model_config = model_config
        self.organisations = organisations
        self._compiled: tuple[Any, Any] | None = None
        self.compile_seconds: float | None = None
        # The campaign level's last nutpie fit, reused by a rerun that changes none of
        # its data.
        self.campaign_fits = sampling.CampaignFits()

    @property
    def compiled(self) -> bool:
        """Whether both blocks are compiled (``compile`` has run)."""
        return self._compiled is not None

    @property
    def campaign_reused(self) -> bool:
        """Whether the last ``sample`` took the campaign level's draws from its last fit."""
        return self.campaign_fits.reused

    def compile(self, allies: pm.Model, reference: Sequence[Campaign]) -> None:
        """Compile both blocks, once: ``allies`` is the per-ally block's PyMC model,
        ``reference`` the campaigns the campaign level learns from."""
        if self._compiled is not None:
            return
        started = time.perf_counter()
        key = snapshot.model_key(allies)
        child = None
        if cache_enabled() and not snapshot.stored(key):
            # A machine that has not compiled this model: the campaign level compiles
            # in a child process meanwhile, and loads from the caches below.
            child = campaign_level.compile_in_background(
                self.model_config, reference, self.organisations
            )
        compiled_allies = compile_for_nutpie(allies, key)
        precompile.wait(child, timeout=PRECOMPILE_TIMEOUT_SECONDS)
        # The campaign level is compiled once per process (any dataset shares it).
        campaign = campaign_level.compiled_reference_model(
            self.model_config, reference, self.organisations
        )
        self._compiled = (compiled_allies, campaign)
        self.compile_seconds = time.perf_counter() - started
        logger.info("compiled the model for nutpie in %.1f s", self.compile_seconds)

    def with_data(
        self, allies: Mapping[str, np.ndarray], campaign: Mapping[str, np.ndarray]
    ) -> tuple[Any, Any]:
        """Both compiled blocks given a cut-off's ``pm.Data`` values, by block."""
        if self._compiled is None:
            raise RuntimeError("the blocks are not compiled: call compile() first")
        compiled_allies, compiled_campaign = self._compiled
        return compiled_allies.with_data(**allies), compiled_campaign.with_data(**campaign)

    def sample(
        self, allies: Any, campaign: Any, settings: Mapping[str, Any], seed: int
    ) -> az.InferenceData:
        """Both blocks of ``with_data`` sampled and joined (``sampling.sample_blocks``)."""
        return sampling.sample_blocks(allies, campaign, settings, seed, self.campaign_fits)
