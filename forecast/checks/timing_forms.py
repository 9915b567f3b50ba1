"""Compare the model's timing forms (log-normal, Weibull) by PSIS-LOO on the same evidence."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import arviz as az
import pandas as pd

from forecast.data.dataset import Dataset
from forecast.data.inputs import setup_frame
from forecast.data.records import EvidenceItem
from forecast.model.confirmation import ConfirmationModel
from forecast.model.gate import count_divergences
from forecast.posterior.timing import TIMING_FORMS

logger = logging.getLogger(__name__)


def compare_timing_forms(
    dataset: Dataset,
    evidence: Sequence[EvidenceItem],
    as_of: dt.date,
    *,
    seed: int,
    sampler_config: Mapping[str, Any] | None = None,
    models: Mapping[str, ConfirmationModel] | None = None,
) -> pd.DataFrame:
    """Fit the model once per timing form and compare them by leave-one-ally-out LOO.

    Each form is fitted to the same input frame with the same seed; the pointwise
    log-likelihood is one term per member ally (non-members carry no observation).

    Parameters
    ----------
    dataset
        The validated data (allies, blocs, grievances, question).
    evidence
        Evidence items; only those dated on or before ``as_of`` are used.
    as_of
        The cut-off date.
    seed
        Sampler seed, the same for every form.
    sampler_config
        Overrides of ``ConfirmationModel.default_sampler_config``.
    models
        Already compiled models of some forms, built for the same allies (a caller that
        holds one saves its compilation); they are refitted here with ``sampler_config``.

    Returns
    -------
    pandas.DataFrame
        ``az.compare`` of the forms (index ``lognormal`` and ``weibull``, best first):
        ``rank``, ``elpd_loo``, ``p_loo``, ``elpd_diff``, ``weight``, ``se``, ``dse``,
        ``warning`` (a Pareto k above 0.7), ``scale``, and two columns added here:
        ``pareto_k_max`` (the largest k) and ``divergences`` (of that form's fit; a fit
        with divergences is not to be trusted, nor its row).
    """
    inputs = setup_frame(dataset, evidence, as_of)
    fits: dict[str, az.InferenceData] = {}
    for form in TIMING_FORMS:
        model = (models or {}).get(form)
        if model is None:
            model = ConfirmationModel(inputs, {"timing": form}, dict(sampler_config or {}))
            model.fit(random_seed=seed)
        else:
            model.fit(inputs, random_seed=seed, sampler_overrides=dict(sampler_config or {}))
        fits[form] = model.log_likelihood()
    table = az.compare(fits, ic="loo")
    for form, idata in fits.items():
        table.loc[form, "pareto_k_max"] = float(az.loo(idata, pointwise=True).pareto_k.max())
        table.loc[form, "divergences"] = count_divergences(idata)
        if table.loc[form, "divergences"]:
            logger.warning(
                "%s fit at %s had %d divergences", form, as_of, table.loc[form, "divergences"]
            )
    table["divergences"] = table["divergences"].astype(int)
    return table
