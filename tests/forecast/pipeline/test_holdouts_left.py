"""A fit's draws carry the campaign level's endgame as a function of the holdouts left, so
that a what-if in which a holdout endorses matches a refit with that endorsement."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.data.inputs import holding_out, setup_frame
from forecast.posterior.draws import DRAWS_FILE, PosteriorDraws
from tests.conftest import SYNTHETIC_AS_OF


def test_the_stored_endgame_is_its_coefficients_at_the_holdouts_counted(
    synthetic_run, synthetic_dataset
):
    draws = PosteriorDraws.load(synthetic_run.run_dir / DRAWS_FILE)
    inputs = setup_frame(synthetic_dataset, synthetic_dataset.evidence, SYNTHETIC_AS_OF)
    assert draws.holdouts == inputs.campaign.holdouts > 0
    np.testing.assert_array_equal(draws.holdout, holding_out(inputs.frame).to_numpy(float))
    z = np.log1p(float(draws.holdouts))
    # The endgame's covariates: log1p(holdouts), the rival candidacy, none holding out.
    covariates = np.array([z, draws.rival, float(draws.holdouts == 0)])
    location = draws.endgame_base + draws.endgame_coef @ covariates
    np.testing.assert_allclose(draws.endgame_location, location, rtol=1e-9)
    focal = 1.0 / (1.0 + np.exp(-(draws.focal_base + draws.focal_holdouts * z)))
    np.testing.assert_allclose(draws.endgame_focal, focal, rtol=1e-9)


def test_a_what_if_that_a_holdout_endorses_matches_a_refit_with_its_endorsement(
    synthetic_forecaster, synthetic_dataset, synthetic_run, tmp_path
):
    """At the same cut-off and seed, ``assume={holdout: endorsed}`` on the fit without the
    endorsement gives P(confirmed by each deadline) within sampling error of the fit with
    it (both the ally's own block and the campaign level's endgame move)."""
    import datetime as dt

    from forecast.data.records import EvidenceItem
    from forecast.posterior.document import rerender

    draws = PosteriorDraws.load(synthetic_run.run_dir / DRAWS_FILE)
    code = draws.codes[int(np.flatnonzero(draws.holdout > 0)[0])]
    as_of = SYNTHETIC_AS_OF + dt.timedelta(days=1)

    def item(kind: str) -> EvidenceItem:
        return EvidenceItem(ally=code, kind=kind, date=as_of, source="test", summary=kind)

    runs = {}
    for kind in ("statement", "endorsement"):
        runs[kind] = synthetic_forecaster.run(
            [*synthetic_dataset.evidence, item(kind)],
            as_of,
            seed=20240222,
            run_id=f"run_{kind}",
            run_dir=tmp_path / kind,
        )
    what_if = rerender(
        runs["statement"].run_dir, runs["statement"].document, assume={code: "endorsed"}
    )
    refit = {d["key"]: d["p_confirmed"] for d in runs["endorsement"].document["deadlines"]}
    before = {d["key"]: d["p_confirmed"] for d in runs["statement"].document["deadlines"]}
    assert what_if["deadlines"]
    for deadline in what_if["deadlines"]:
        key = deadline["key"]
        # Two fits' means differ by their Monte Carlo error (a few thousandths here);
        # the endorsement moves the forecast by about 0.012, and the what-if with it.
        assert deadline["p_confirmed"] == pytest.approx(refit[key], abs=0.008), key
        assert deadline["p_confirmed"] - before[key] > 0.004, key
        assert refit[key] - before[key] > 0.004, key
